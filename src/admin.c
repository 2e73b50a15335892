/* SPDX-License-Identifier: MIT */
#include "admin.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "devices.h"
#include "listing.h"
#include "page.h"
#include "reply.h"
#include "route.h"
#include "serve.h"
#include "summary.h"

struct admin {
    struct MHD_Daemon *daemon;
    struct catalog *cat;
    struct fleet *fleet;
    const struct metrics *metrics;
    unsigned history;
    size_t connection_memory;
    struct reply_set replies;        /* 404, 405, 431, 500 */
    struct MHD_Response *bad_state;  /* 400 for an unknown ?state= */
    struct MHD_Response *bad_page;   /* 400 for a bad ?sort=, ?offset= or ?limit= */
    void (*event)(void *cls, const struct http_event *e);
};

/* Marks a request whose head was seen (its request context). */
static char seen_marker;

/* An answer: a canned response of the set, or a body of ours. */
struct answer {
    unsigned status;
    struct MHD_Response *shared;     /* not to be destroyed */
    char *body;                      /* malloc'ed, else */
    size_t len;
    const char *type;
    const struct page_asset *asset;  /* a file of the status page, else */
    long long total;                 /* X-Total-Count when >= 0 (set to -1) */
};

static void shared(struct answer *a, unsigned status, struct MHD_Response *r)
{
    a->status = status;
    a->shared = r;
}

static void not_found(struct admin *h, struct answer *a)
{
    shared(a, MHD_HTTP_NOT_FOUND, h->replies.canned[SERVE_NOT_FOUND]);
}

/* A rendering's result: its body, or 500 when out of memory. */
static void rendered(struct admin *h, struct answer *a, int r, bool json)
{
    if (r < 0) {
        shared(a, MHD_HTTP_INTERNAL_SERVER_ERROR, h->replies.canned[SERVE_NO_MEMORY]);
        return;
    }
    a->status = MHD_HTTP_OK;
    a->type = json ? "application/json" : "text/plain; charset=utf-8";
}

static bool wants_json(struct MHD_Connection *c)
{
    return listing_wants_json(
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"),
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
}

/* What a reader hands out, gathered: the devices of fleet_each(), to be
 * sorted and paged, or the firmwares of fleet_firmwares(), for the summary. */
struct copies {
    void *list;
    size_t n, cap, size;
    int error;
};

static bool keep(struct copies *c, const void *item)
{
    if (array_grow(&c->list, &c->cap, c->n + 1, c->size) < 0) {
        c->error = -ENOMEM;
        return false;
    }
    memcpy((char *)c->list + c->n++ * c->size, item, c->size);
    return true;
}

static bool copy_device(void *cls, const struct fleet_device *d)
{
    return keep(cls, d);
}

static void copy_firmware(void *cls, const struct fleet_firmware *fw)
{
    keep(cls, fw);
}

/* -1 for any state (none asked), -2 for a name that is no state. */
static int state_arg(const char *name)
{
    if (name == NULL)
        return -1;
    for (int s = 0; s < FLEET_STATES; s++)
        if (strcmp(name, fleet_state_name((enum fleet_state)s)) == 0)
            return s;
    return -2;
}

/* ?offset= and ?limit= as a count, NULL meaning @dflt; -1 when not one. */
static long long count_arg(const char *s, long long dflt)
{
    char *end;
    long long v;

    if (s == NULL)
        return dflt;
    errno = 0;
    v = strtoll(s, &end, 10);
    return s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0 ? v : -1;
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static void devices(struct admin *h, struct MHD_Connection *c, struct answer *a)
{
    const char *firmware = arg(c, "firmware");
    int state = state_arg(arg(c, "state"));
    long long offset = count_arg(arg(c, "offset"), 0);
    long long limit = count_arg(arg(c, "limit"), LLONG_MAX);
    struct devices_order order;
    bool json = wants_json(c);
    struct copies copies = {.size = sizeof(struct fleet_device)};
    struct fleet_device *list;
    int r;

    if (state == -2) {
        shared(a, MHD_HTTP_BAD_REQUEST, h->bad_state);
        return;
    }
    if (offset < 0 || limit < 0 || devices_order_parse(arg(c, "sort"), &order) < 0) {
        shared(a, MHD_HTTP_BAD_REQUEST, h->bad_page);
        return;
    }
    if (h->fleet != NULL)
        fleet_each(h->fleet, firmware, state, copy_device, &copies);
    r = copies.error;
    if (r == 0) {
        size_t from = (unsigned long long)offset < copies.n ? (size_t)offset : copies.n;
        size_t n = (unsigned long long)limit < copies.n - from ? (size_t)limit : copies.n - from;

        list = copies.list;
        devices_sort(list, copies.n, order);
        a->total = (long long)copies.n;
        r = devices_render(list + from, n, json ? LISTING_JSON : LISTING_TEXT, &a->body,
                           &a->len);
    }
    free(copies.list);
    rendered(h, a, r, json);
}

static void summary(struct admin *h, struct answer *a)
{
    struct copies g = {.size = sizeof(struct fleet_firmware)};
    struct fleet_counts counts = {0};
    struct timespec ts;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (h->fleet != NULL) {
        fleet_counts(h->fleet, &counts);
        fleet_firmwares(h->fleet, copy_firmware, &g);
    }
    r = g.error;
    if (r == 0)
        r = summary_render((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &counts, g.list,
                           g.n, &a->body, &a->len);
    free(g.list);
    rendered(h, a, r, true);
}

static void device(struct admin *h, struct MHD_Connection *c, const char *id,
                   struct answer *a)
{
    struct fleet_event *events = calloc(h->history ? h->history : 1, sizeof(*events));
    struct fleet_device d;
    size_t n = 0;
    bool json = wants_json(c);
    int r = events != NULL ? 0 : -ENOMEM;

    if (r == 0)
        r = h->fleet != NULL ? fleet_get(h->fleet, id, &d, events, h->history, &n) : -ENOENT;
    if (r == -ENOENT) {
        not_found(h, a);
    } else {
        if (r == 0)
            r = devices_render_one(&d, events, n, json ? LISTING_JSON : LISTING_TEXT,
                                   &a->body, &a->len);
        rendered(h, a, r, json);
    }
    free(events);
}

static void metrics(struct admin *h, struct answer *a)
{
    struct metrics_view v;
    int r = metrics_collect(h->cat, h->fleet, &v);

    if (r == 0)
        r = metrics_render(h->metrics, &v, &a->body, &a->len);
    metrics_view_free(&v);
    rendered(h, a, r, false);
    a->type = METRICS_CONTENT_TYPE;
}

static void route(struct admin *h, struct MHD_Connection *c, const char *url,
                  struct answer *a)
{
    if (strcmp(url, "/devices") == 0)
        devices(h, c, a);
    else if (strncmp(url, "/devices/", 9) == 0 && url[9] != '\0')
        device(h, c, url + 9, a);
    else if (strcmp(url, "/metrics") == 0)
        metrics(h, a);
    else if (strcmp(url, "/summary") == 0)
        summary(h, a);
    else if ((a->asset = page_find(url)) == NULL)
        not_found(h, a);
}

static enum MHD_Result respond(struct admin *h, struct MHD_Connection *c, const char *method,
                               const char *url, unsigned status, struct MHD_Response *r,
                               bool destroy)
{
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO; /* out of memory: the library closes the connection */
    ret = MHD_queue_response(c, status, r);
    if (destroy)
        MHD_destroy_response(r);
    if (h->event != NULL)
        h->event(NULL, &(struct http_event){.kind = HTTP_EVENT_REQUEST, .connection = c,
                                            .method = method, .url = url, .status = status});
    return ret;
}

/* The same listing as the device port, by its own endpoint. */
static enum MHD_Result firmwares(struct admin *h, struct MHD_Connection *c, const char *url,
                                 const char *method)
{
    struct serve_request rq = {.method = MHD_HTTP_METHOD_GET};
    struct serve_response s;

    route_parse(url, strlen(url), &rq.route);
    reply_read_request(c, &rq);
    serve_handle(h->cat, &rq, &s);
    return respond(h, c, method, url, s.status, reply_response(&h->replies, &s),
                   s.canned == SERVE_BODY);
}

/* A response of our own: the body and its Content-Type, and the headers
 * the answer asks for. NULL when out of memory (the body is freed). */
static struct MHD_Response *response(struct answer *a)
{
    struct MHD_Response *r;
    char total[24];
    bool ok;

    if (a->asset != NULL)
        r = MHD_create_response_from_buffer(a->asset->len, (void *)a->asset->data,
                                            MHD_RESPMEM_PERSISTENT);
    else
        r = MHD_create_response_from_buffer_with_free_callback(a->len, a->body, free);
    if (r == NULL) {
        free(a->body);
        return NULL;
    }
    ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                 a->asset != NULL ? a->asset->type : a->type) == MHD_YES;
    if (a->asset != NULL)
        ok = ok &&
             MHD_add_response_header(r, "Content-Security-Policy", PAGE_POLICY) == MHD_YES &&
             MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES;
    if (a->total >= 0) {
        snprintf(total, sizeof(total), "%lld", a->total);
        ok = ok && MHD_add_response_header(r, "X-Total-Count", total) == MHD_YES;
    }
    if (!ok) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

static enum MHD_Result answer(struct admin *h, struct MHD_Connection *c, const char *url,
                              const char *method)
{
    struct answer a = {.total = -1};

    if (strcmp(url, "/firmwares") == 0)
        return firmwares(h, c, url, method);
    route(h, c, url, &a);
    if (a.shared != NULL)
        return respond(h, c, method, url, a.status, a.shared, false);
    if (a.asset != NULL)
        a.status = MHD_HTTP_OK;
    return respond(h, c, method, url, a.status, response(&a), true);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct admin *h = cls;
    bool readable = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        *req_cls = &seen_marker;
        /* As on the device port: answered at once (and closed after) when
         * the head leaves no room for the response, the method is not one
         * this API has, or a body comes that no endpoint reads. */
        if (reply_head_too_large(c, h->connection_memory))
            return respond(h, c, method, url, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                           h->replies.too_large, false);
        if (!readable)
            return respond(h, c, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
                           h->replies.canned[SERVE_NOT_ALLOWED], false);
        if (!reply_has_body(c))
            return MHD_YES;
    }
    *upload_data_size = 0;
    return answer(h, c, url, method);
}

static void library_log(void *cls, const char *fmt, va_list ap)
{
    struct admin *h = cls;
    char msg[512];

    reply_library_message(msg, sizeof(msg), fmt, ap);
    if (h->event != NULL)
        h->event(NULL, &(struct http_event){.kind = HTTP_EVENT_LIBRARY, .message = msg});
}

static void free_admin(struct admin *h)
{
    reply_close(&h->replies);
    if (h->bad_state != NULL)
        MHD_destroy_response(h->bad_state);
    if (h->bad_page != NULL)
        MHD_destroy_response(h->bad_page);
    free(h);
}

int admin_start(const struct conf *c, int listen_fd,
                void (*event)(void *cls, const struct http_event *e), struct catalog *cat,
                struct fleet *fleet, const struct metrics *metrics, struct admin **ret)
{
    static const char bad_state[] = "unknown state\n";
    static const char bad_page[] = "unknown sort, or an offset or limit that is no count\n";
    struct admin *h = calloc(1, sizeof(*h));
    int r = -ENOMEM;

    if (h == NULL)
        goto fail;
    *h = (struct admin){.cat = cat, .fleet = fleet, .metrics = metrics,
                        .history = c->fleet_history,
                        .connection_memory = c->connection_memory > ADMIN_CONNECTION_MEMORY
                                                 ? (size_t)c->connection_memory
                                                 : ADMIN_CONNECTION_MEMORY,
                        .event = event};
    h->bad_state = MHD_create_response_from_buffer(sizeof(bad_state) - 1, (void *)bad_state,
                                                   MHD_RESPMEM_PERSISTENT);
    h->bad_page = MHD_create_response_from_buffer(sizeof(bad_page) - 1, (void *)bad_page,
                                                  MHD_RESPMEM_PERSISTENT);
    if (h->bad_state == NULL || h->bad_page == NULL || reply_open(&h->replies) < 0 ||
        MHD_add_response_header(h->bad_state, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain") !=
            MHD_YES ||
        MHD_add_response_header(h->bad_page, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain") !=
            MHD_YES)
        goto fail;
    errno = 0;
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
        MHD_OPTION_EXTERNAL_LOGGER, library_log, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_UNESCAPE_CALLBACK, reply_unescape, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ADMIN_THREADS,
        MHD_OPTION_CONNECTION_TIMEOUT, c->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->connection_memory,
        MHD_OPTION_END);
    if (h->daemon == NULL) {
        r = errno > 0 ? -errno : -EIO;
        goto fail;
    }
    *ret = h;
    return 0;

fail:
    if (h != NULL)
        free_admin(h);
    close(listen_fd);
    return r;
}

void admin_stop(struct admin *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free_admin(h);
}
