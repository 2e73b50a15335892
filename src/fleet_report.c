/* SPDX-License-Identifier: MIT */
/* Device reports (POST /NAME/report) and the words of the fleet API.
 *
 * A report body is form-encoded: status=S, and optionally version=V,
 * reason=R and id=ID (for a device that sends no X-Device-Id), in any order;
 * other keys are ignored. Every report, accepted or not, spends a token of
 * its address's budget (a bucket of FLEET_BURST refilled at FLEET_RATE a
 * second); an empty bucket refuses with 429. The buckets live in a fixed
 * table of FLEET_LIMIT_SLOTS addresses, in sets of FLEET_LIMIT_WAYS chosen
 * by hash: a new address takes over the slot of its set used least
 * recently, starting with a full bucket, so the table stays bounded
 * whatever the number of addresses, and one flooder is not reset by a few
 * others that share its set. */
#include "fleet_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEET_RATE 10
#define FLEET_BURST 20
#define FLEET_LIMIT_SLOTS 1024
#define FLEET_LIMIT_WAYS 4
#define FLEET_BODY_MAX 1024

static const char *const state_names[FLEET_STATES] = {
    "checking", "downloading", "downloaded", "stalled", "up-to-date"};
static const char *const status_names[FLEET_STATUSES] = {
    "downloading", "downloaded", "verified", "installed", "confirmed", "reverted", "failed"};
static const char *const reason_names[FLEET_REASONS] = {
    "", "crc", "signature", "downgrade", "too-large", "flash", "timeout", "rejected"};

const char *fleet_state_name(enum fleet_state s)
{
    return (unsigned)s < FLEET_STATES ? state_names[s] : "unknown";
}

const char *fleet_status_name(enum fleet_status s)
{
    return (unsigned)s < FLEET_STATUSES ? status_names[s] : "unknown";
}

const char *fleet_reason_name(enum fleet_reason r)
{
    return (unsigned)r < FLEET_REASONS ? reason_names[r] : "unknown";
}

static int parse_word(const char *const *words, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(words[i]) == len && memcmp(words[i], name, len) == 0)
            return i;
    return -1;
}

int fleet_status_parse(const char *name, size_t len)
{
    return parse_word(status_names, FLEET_STATUSES, name, len);
}

/* "" (FLEET_REASON_NONE) is not a reason one can send. */
int fleet_reason_parse(const char *name, size_t len)
{
    return len == 0 ? -1 : parse_word(reason_names, FLEET_REASONS, name, len);
}

struct slot {
    char address[FLEET_ADDRESS_MAX];
    int64_t refilled_ms;       /* tokens counted up to then */
    int64_t logged_minute;     /* the minute of the last refusal logged, or -1 */
    unsigned tokens_milli;     /* tokens × 1000 */
    unsigned suppressed;
};

struct fleet_limiter {
    pthread_mutex_t lock;
    struct slot slots[FLEET_LIMIT_SLOTS];
};

int fleet_limiter_new(struct fleet_limiter **ret)
{
    struct fleet_limiter *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return -ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    *ret = l;
    return 0;
}

void fleet_limiter_free(struct fleet_limiter *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* The slot of @address, refilled to @now_ms; the limiter is locked. */
static struct slot *slot_of(struct fleet_limiter *l, const char *address, int64_t now_ms)
{
    struct slot *set = &l->slots[fleet_hash(address, strlen(address)) %
                                 (FLEET_LIMIT_SLOTS / FLEET_LIMIT_WAYS) * FLEET_LIMIT_WAYS];
    struct slot *s = set;

    for (unsigned i = 0; i < FLEET_LIMIT_WAYS; i++) {
        if (strncmp(set[i].address, address, sizeof(set[i].address) - 1) == 0) {
            s = &set[i];
            break;
        }
        if (set[i].refilled_ms < s->refilled_ms)
            s = &set[i];
    }
    if (strncmp(s->address, address, sizeof(s->address) - 1) != 0) {
        snprintf(s->address, sizeof(s->address), "%s", address);
        s->tokens_milli = FLEET_BURST * 1000;
        s->refilled_ms = now_ms;
        s->logged_minute = -1;
        s->suppressed = 0;
    }
    if (now_ms > s->refilled_ms) {
        uint64_t add = (uint64_t)(now_ms - s->refilled_ms) * FLEET_RATE;
        uint64_t t = s->tokens_milli + add;
        s->tokens_milli = t > FLEET_BURST * 1000 ? FLEET_BURST * 1000 : (unsigned)t;
        s->refilled_ms = now_ms;
    }
    return s;
}

/* Spends a token of @address: false when it has none left. */
static bool spend(struct fleet_limiter *l, const char *address, int64_t now_ms)
{
    bool ok;

    pthread_mutex_lock(&l->lock);
    struct slot *s = slot_of(l, address, now_ms);
    if ((ok = s->tokens_milli >= 1000))
        s->tokens_milli -= 1000;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

/* Fills in a refusal: whether to log it, and how many went unlogged. */
static void refuse(struct fleet *f, const char *address, int64_t now_ms, unsigned status,
                   struct fleet_report_result *ret)
{
    int64_t minute = now_ms / 60000;

    ret->status = status;
    pthread_mutex_lock(&f->lim->lock);
    struct slot *s = slot_of(f->lim, address, now_ms);
    if (s->logged_minute != minute) {
        s->logged_minute = minute;
        ret->log = true;
        ret->suppressed = s->suppressed;
        s->suppressed = 0;
    } else {
        s->suppressed++;
    }
    pthread_mutex_unlock(&f->lim->lock);
}

struct form {
    int status, reason;        /* -1: not given */
    bool has_version;
    uint32_t version;
    char id[FLEET_ID_MAX + 1]; /* "": not given */
};

/* Decodes the form value @s (@n bytes: '+' and %XX) into @out (@cap
 * bytes with its NUL). Returns its length, or -1 if malformed or too long. */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            const char *hi, *lo;
            if (i + 2 >= n || (hi = strchr(hex, s[i + 1] | 0x20)) == NULL ||
                (lo = strchr(hex, s[i + 2] | 0x20)) == NULL)
                return -1;
            c = (char)((hi - hex) << 4 | (lo - hex));
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return (int)o;
}

/* @v as it may be shown in a message: printable ASCII only, shortened. */
static const char *shown(const char *v, char *buf, size_t cap)
{
    size_t i;

    for (i = 0; v[i] != 0 && i + 1 < cap; i++)
        buf[i] = v[i] > ' ' && v[i] < 0x7f && v[i] != '\'' ? v[i] : '?';
    buf[i] = 0;
    return buf;
}

/* Fills @form from @body; 0, or -1 with the reason in @msg. */
static int parse_form(const char *body, size_t len, struct form *form, char *msg, size_t cap)
{
    char v[FLEET_BODY_MAX + 1], s[24];
    const char *p = body, *end = body + len;

    *form = (struct form){.status = -1, .reason = -1};
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
        const char *next = amp != NULL ? amp : end;
        int n;
        if ((eq = memchr(p, '=', (size_t)(next - p))) == NULL)
            eq = next;
        n = decode(eq < next ? eq + 1 : next, (size_t)(next - (eq < next ? eq + 1 : next)), v,
                   sizeof(v));
#define KEY(k) ((size_t)(eq - p) == strlen(k) && memcmp(p, k, strlen(k)) == 0)
        if (n < 0 && (KEY("status") || KEY("reason") || KEY("version") || KEY("id"))) {
            snprintf(msg, cap, "malformed value of '%.*s'", (int)(eq - p), p);
            return -1;
        } else if (KEY("status") && (form->status = fleet_status_parse(v, (size_t)n)) < 0) {
            snprintf(msg, cap, "unknown status '%s'", shown(v, s, sizeof(s)));
            return -1;
        } else if (KEY("reason") && (form->reason = fleet_reason_parse(v, (size_t)n)) < 0) {
            snprintf(msg, cap, "unknown reason '%s'", shown(v, s, sizeof(s)));
            return -1;
        } else if (KEY("version")) {
            char *e;
            unsigned long long x = strtoull(v, &e, 10);
            if (n == 0 || n > 10 || *e != 0 || v[0] < '0' || v[0] > '9' || x > UINT32_MAX) {
                snprintf(msg, cap, "bad version '%s'", shown(v, s, sizeof(s)));
                return -1;
            }
            form->has_version = true;
            form->version = (uint32_t)x;
        } else if (KEY("id")) {
            if (!fleet_id_valid(v, (size_t)n)) {
                snprintf(msg, cap, "bad id '%s'", shown(v, s, sizeof(s)));
                return -1;
            }
            memcpy(form->id, v, (size_t)n + 1);
        }
#undef KEY
        p = next + 1;
    }
    if (form->status < 0) {
        snprintf(msg, cap, "no status");
        return -1;
    }
    return 0;
}

/* 0 if the report is to be accepted, else the status refusing it, with
 * why in @msg. Checked in the order fleet.h gives. */
static unsigned check(struct fleet *f, const char *id, const char *address, bool known,
                      const char *body, size_t body_len, int64_t now_ms, struct form *form,
                      char *msg, size_t cap)
{
    if (!spend(f->lim, address, now_ms)) {
        snprintf(msg, cap, "too many reports");
        return 429;
    }
    if (body_len > FLEET_BODY_MAX) {
        snprintf(msg, cap, "report over %d bytes", FLEET_BODY_MAX);
        return 413;
    }
    if (!known) {
        snprintf(msg, cap, "no such firmware");
        return 404;
    }
    if (id != NULL && !fleet_id_valid(id, strlen(id))) {
        snprintf(msg, cap, "bad X-Device-Id");
        return 400;
    }
    return parse_form(body, body_len, form, msg, cap) < 0 ? 400 : 0;
}

/* Records the accepted report @e on @d; its shard is locked. */
static void record(struct fleet *f, struct fleet_tag *d, const struct fleet_event *e,
                   bool has_version)
{
    fleet_add_event(f, d, e);
    d->has_report = true;
    d->last_report = *e;
    FLEET_ADD(f->c.reports[e->status], 1);
    if (has_version && (e->status == FLEET_REPORT_INSTALLED ||
                        e->status == FLEET_REPORT_CONFIRMED)) {
        d->has_installed = true;
        d->installed = e->version;
        if (d->has_offered && e->version == d->offered)
            fleet_set_state(f, d, FLEET_UP_TO_DATE, e->at_ms);
    }
    fleet_mark(d);
}

void fleet_report(struct fleet *f, struct fleet_tag **tag, const char *id, const char *address,
                  const char *name, size_t len, bool known, const char *body, size_t body_len,
                  int64_t now_ms, struct fleet_report_result *ret)
{
    struct form form;
    struct fleet_tag *d;
    const char *key = address;
    bool by_address = false;
    unsigned status;

    memset(ret, 0, sizeof(*ret));
    ret->status = 204;
    if (!f->o.track) {
        /* As otad.yaml(5) says of track: false; not a refusal to log. */
        ret->status = 404;
        snprintf(ret->message, sizeof(ret->message), "devices are not tracked");
        return;
    }
    if ((status = check(f, id, address, known, body, body_len, now_ms, &form, ret->message,
                        sizeof(ret->message))) != 0) {
        refuse(f, address, now_ms, status, ret);
        return;
    }
    /* Whose: the id it names, else the connection's device, else its address. */
    if (id != NULL)
        key = id;
    else if (form.id[0] != 0)
        key = form.id;
    else if (tag != NULL && *tag != NULL)
        key = (*tag)->id, by_address = (*tag)->by_address;
    else
        by_address = true;
    if ((d = fleet_locate(f, key, by_address, name, len, now_ms)) == NULL) {
        snprintf(ret->message, sizeof(ret->message), "out of memory");
        ret->status = 503;
        return;
    }
    snprintf(d->address, sizeof(d->address), "%s", address);
    fleet_touch(d, now_ms);
    ret->event = (struct fleet_event){.at_ms = now_ms, .is_report = true,
                                      .status = (uint8_t)form.status,
                                      .reason = form.reason < 0 ? 0 : (uint8_t)form.reason,
                                      .version = form.version};
    record(f, d, &ret->event, form.has_version);
    memcpy(ret->id, d->id, sizeof(ret->id));
    fleet_settle(d, tag);
}
