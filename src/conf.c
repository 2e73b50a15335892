/* SPDX-License-Identifier: MIT */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "conf_priv.h"

static const struct conf defaults = {
    .firmware_dir = "/var/lib/otad/firmware",
    .bind = "0.0.0.0",
    .port = 8000,
    .idle_timeout = 60,
    .request_timeout = 10,
    .legacy_keep_alive = true,
    .log_level = LOG_LEVEL_INFO,
    .access_log = CONF_ACCESS_LOG_DOWNLOADS,
    .threads = 0,
    .max_connections = 16384,
    .max_connections_per_address = CONF_PER_ADDRESS_UNSET,
    .settle_ms = 100,
    .retain_seconds = 600,
    .max_memory = 1ull << 30,
    .max_image_size = 4ull << 30,
    .connection_memory = 2048,
    .tls_cert = NULL,
    .tls_key = NULL,
    .tls_port = 8443,
    .user = "nobody",
    .state_dir = "/var/lib/otad",
    .admin_bind = "127.0.0.1",
    .admin_port = 8001,
    .fleet_track = true,
    .fleet_max_devices = 100000,
    .fleet_history = 100,
    .fleet_stall_seconds = 60,
};

/* One row per key: the table is the single list of settings. */
static const struct conf_key keys[] = {
    {"firmware_dir", CONF_TYPE_PATH, offsetof(struct conf, firmware_dir), 0, 0},
    {"bind", CONF_TYPE_ADDRESS, offsetof(struct conf, bind), 0, 0},
    {"port", CONF_TYPE_UINT, offsetof(struct conf, port), 1, 65535},
    {"idle_timeout", CONF_TYPE_UINT, offsetof(struct conf, idle_timeout), 1, 86400},
    {"request_timeout", CONF_TYPE_UINT, offsetof(struct conf, request_timeout), 1, 3600},
    {"legacy_keep_alive", CONF_TYPE_BOOL, offsetof(struct conf, legacy_keep_alive), 0, 0},
    {"log_level", CONF_TYPE_LEVEL, offsetof(struct conf, log_level), 0, 0},
    {"access_log", CONF_TYPE_ACCESS_LOG, offsetof(struct conf, access_log), 0, 0},
    {"threads", CONF_TYPE_UINT, offsetof(struct conf, threads), 0, 256},
    {"max_connections", CONF_TYPE_UINT, offsetof(struct conf, max_connections), 16, 1000000},
    {"max_connections_per_address", CONF_TYPE_UINT,
     offsetof(struct conf, max_connections_per_address), 0, 1000000},
    {"settle_ms", CONF_TYPE_UINT, offsetof(struct conf, settle_ms), 0, 60000},
    {"retain_seconds", CONF_TYPE_UINT, offsetof(struct conf, retain_seconds), 0, 86400},
    {"max_memory", CONF_TYPE_SIZE, offsetof(struct conf, max_memory), 1ull << 20, 1ull << 40},
    {"max_image_size", CONF_TYPE_SIZE, offsetof(struct conf, max_image_size), 1024, 4ull << 30},
    {"connection_memory", CONF_TYPE_SIZE, offsetof(struct conf, connection_memory), 1024, 1ull << 20},
    {"tls", CONF_TYPE_SECTION, 0, 0, 0},
    {"tls.cert", CONF_TYPE_PATH, offsetof(struct conf, tls_cert), 0, 0},
    {"tls.key", CONF_TYPE_PATH, offsetof(struct conf, tls_key), 0, 0},
    {"tls.port", CONF_TYPE_UINT, offsetof(struct conf, tls_port), 1, 65535},
    {"user", CONF_TYPE_STRING, offsetof(struct conf, user), 0, 0},
    {"signing", CONF_TYPE_SECTION, 0, 0, 0},
    {"signing.keys", CONF_TYPE_PATHS, offsetof(struct conf, sign_keys), 0, CONF_PATHS_MAX},
    {"signing.require", CONF_TYPE_BOOL, offsetof(struct conf, sign_require), 0, 0},
    {"state_dir", CONF_TYPE_PATH, offsetof(struct conf, state_dir), 0, 0},
    {"export_dir", CONF_TYPE_PATH, offsetof(struct conf, export_dir), 0, 0},
    {"admin", CONF_TYPE_SECTION, 0, 0, 0},
    {"admin.bind", CONF_TYPE_ADDRESS, offsetof(struct conf, admin_bind), 0, 0},
    {"admin.port", CONF_TYPE_UINT, offsetof(struct conf, admin_port), 0, 65535},
    {"fleet", CONF_TYPE_SECTION, 0, 0, 0},
    {"fleet.track", CONF_TYPE_BOOL, offsetof(struct conf, fleet_track), 0, 0},
    {"fleet.max_devices", CONF_TYPE_UINT, offsetof(struct conf, fleet_max_devices), 1, 10000000},
    {"fleet.history", CONF_TYPE_UINT, offsetof(struct conf, fleet_history), 0, 10000},
    {"fleet.stall_seconds", CONF_TYPE_UINT, offsetof(struct conf, fleet_stall_seconds), 1, 86400},
};

int conf_init(struct conf *c)
{
    *c = defaults;
    c->firmware_dir = strdup(defaults.firmware_dir);
    c->bind = strdup(defaults.bind);
    c->user = strdup(defaults.user);
    c->state_dir = strdup(defaults.state_dir);
    c->admin_bind = strdup(defaults.admin_bind);
    if (c->firmware_dir == NULL || c->bind == NULL || c->user == NULL || c->state_dir == NULL ||
        c->admin_bind == NULL) {
        conf_fini(c);
        return -ENOMEM;
    }
    return 0;
}

void conf_fini(struct conf *c)
{
    free(c->firmware_dir);
    free(c->bind);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->user);
    free(c->state_dir);
    free(c->export_dir);
    free(c->admin_bind);
    for (unsigned i = 0; i < c->sign_keys.n; i++)
        free(c->sign_keys.path[i]);
    *c = (struct conf){0};
}

static const struct conf_key *key_find(const char *name)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

int conf_set(struct conf *c, const char *key, const char *value, char *err,
             size_t errlen)
{
    const struct conf_key *k = key_find(key);

    if (k == NULL) {
        snprintf(err, errlen, "unknown key '%s'", key);
        return -EINVAL;
    }
    return conf_key_set(c, k, value, false, err, errlen);
}

/* Plain scalars carry numbers and booleans; a quoted "8000" is a string. */
static bool scalar_is_plain(const yaml_event_t *ev)
{
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* The state of one file's parse: a flat mapping of keys, some of whose
 * values are one-level sections ("tls:") of "section.key" rows. An error
 * in a value is recorded and the value skipped, so that one run reports
 * every error of the file. */
struct loader {
    struct conf *conf;
    const char *path;
    char *err;
    size_t errlen;
    size_t used;     /* bytes of err written */
    unsigned errors; /* errors recorded */
    enum { S_STREAM, S_KEY, S_VALUE, S_SECTION, S_LIST, S_SKIP, S_END } state;
    const struct conf_key *cur;
    /* Inside a section mapping, its keys are looked up as "section.key". */
    char section[16];
    /* Which keys appeared already, to report duplicates. */
    bool seen[sizeof(keys) / sizeof(keys[0])];
    yaml_mark_t section_mark; /* where the open section's key stands */
    bool had_document;
    /* S_SKIP: whole nodes still to pass over, the nesting depth inside the
     * current one, and the state to go back to. */
    unsigned skip_nodes, skip_depth;
    int resume;
};

/* What on_event() tells the reading loop. */
enum { EV_GO_ON, EV_END, EV_STOP };

static void record_at(struct loader *l, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends "PATH:LINE:COL: message" as one line of err; what does not fit
 * is dropped, the count of errors is kept. */
static void record_at(struct loader *l, yaml_mark_t mark, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->errors++;
    if (l->used + 1 >= l->errlen)
        return;
    n = snprintf(l->err + l->used, l->errlen - l->used, "%s%s:%zu:%zu: %s",
                 l->used > 0 ? "\n" : "", l->path, mark.line + 1, mark.column + 1, msg);
    if (n > 0)
        l->used += (size_t)n < l->errlen - l->used ? (size_t)n : l->errlen - l->used - 1;
}

/* Passes over @nodes whole nodes, @depth levels inside the first one, then
 * goes on in @resume. */
static void skip(struct loader *l, unsigned nodes, unsigned depth, int resume)
{
    l->state = S_SKIP;
    l->skip_nodes = nodes;
    l->skip_depth = depth;
    l->resume = resume;
}

/* One event while skipping: counts nesting and finished nodes. */
static void on_skipped(struct loader *l, const yaml_event_t *ev)
{
    if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
        l->skip_depth++;
        return;
    }
    if (ev->type == YAML_MAPPING_END_EVENT || ev->type == YAML_SEQUENCE_END_EVENT)
        l->skip_depth--;
    if (l->skip_depth == 0 && --l->skip_nodes == 0)
        l->state = l->resume;
}

/* A mapping or a list (whose start is @ev) where a single value belongs:
 * recorded, and passed over with the value a key of that kind has. */
static void not_scalar(struct loader *l, const yaml_event_t *ev, const char *what)
{
    if (l->state == S_STREAM) {
        record_at(l, ev->start_mark, "expected a mapping of settings, not %s", what);
        skip(l, 1, 1, S_END);
        return;
    }
    record_at(l, ev->start_mark, "%s%sexpected a single value, not %s",
              l->state != S_KEY && l->cur ? l->cur->name : "",
              l->state != S_KEY && l->cur ? ": " : "", what);
    if (l->state == S_KEY)
        skip(l, 2, 1, S_KEY); /* the key, then its value */
    else
        skip(l, 1, 1, l->state == S_LIST ? S_LIST : S_KEY);
}

static void on_mapping_start(struct loader *l, const yaml_event_t *ev)
{
    if (l->state == S_STREAM) {
        l->state = S_KEY;
        return;
    }
    if (l->state == S_SECTION) {
        snprintf(l->section, sizeof(l->section), "%s.", l->cur->name);
        l->state = S_KEY;
        return;
    }
    not_scalar(l, ev, "a mapping");
}

static void on_mapping_end(struct loader *l)
{
    if (l->section[0] == '\0') {
        l->state = S_END;
        return;
    }
    /* The tls section's own rule: HTTPS needs the pair. */
    if (strcmp(l->section, "tls.") == 0 &&
        (l->conf->tls_cert == NULL) != (l->conf->tls_key == NULL))
        record_at(l, l->section_mark, "tls: both cert and key are needed");
    l->section[0] = '\0';
    l->state = S_KEY;
}

static void on_key(struct loader *l, const yaml_event_t *ev, const char *value)
{
    char full[80];

    snprintf(full, sizeof(full), "%s%s", l->section, value);
    l->cur = key_find(full);
    if (l->cur == NULL || strchr(value, '.') != NULL) {
        record_at(l, ev->start_mark, "unknown key '%s'", full);
        skip(l, 1, 0, S_KEY);
        return;
    }
    if (l->seen[l->cur - keys]) {
        record_at(l, ev->start_mark, "duplicate key '%s'", full);
        skip(l, 1, 0, S_KEY);
        return;
    }
    l->seen[l->cur - keys] = true;
    if (l->cur->type == CONF_TYPE_SECTION) {
        l->section_mark = ev->start_mark;
        l->state = S_SECTION;
        return;
    }
    l->state = S_VALUE;
}

static void on_scalar(struct loader *l, const yaml_event_t *ev)
{
    const char *value = (const char *)ev->data.scalar.value;
    bool empty = value[0] == '\0' && scalar_is_plain(ev);
    char msg[256];

    switch (l->state) {
    case S_STREAM:
        /* An empty document is an empty configuration. */
        if (!empty)
            record_at(l, ev->start_mark, "expected a mapping of settings");
        l->state = S_END;
        return;
    case S_KEY:
        on_key(l, ev, value);
        return;
    case S_SECTION:
        /* "tls:" with nothing after it: no section at all. */
        if (!empty)
            record_at(l, ev->start_mark, "%s: expected a mapping", l->cur->name);
        l->state = S_KEY;
        return;
    case S_END:
    case S_SKIP:
        /* Unreachable in one document; refused rather than trusted. */
        record_at(l, ev->start_mark, "unexpected value after the settings");
        return;
    case S_VALUE:
    case S_LIST:
        break;
    }
    if (conf_key_set(l->conf, l->cur, value, !scalar_is_plain(ev), msg, sizeof(msg)) < 0)
        record_at(l, ev->start_mark, "%s", msg);
    if (l->state == S_VALUE)
        l->state = S_KEY;
}

/* Applies one parser event, recording what is wrong with it. */
static int on_event(struct loader *l, const yaml_event_t *ev)
{
    if (l->state == S_SKIP && ev->type != YAML_STREAM_END_EVENT &&
        ev->type != YAML_DOCUMENT_END_EVENT) {
        on_skipped(l, ev);
        return EV_GO_ON;
    }
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return EV_END;
    case YAML_DOCUMENT_END_EVENT:
        l->state = S_END;
        break;
    case YAML_MAPPING_START_EVENT:
        on_mapping_start(l, ev);
        break;
    case YAML_MAPPING_END_EVENT:
        on_mapping_end(l);
        break;
    case YAML_SEQUENCE_START_EVENT:
        if (l->state == S_VALUE && l->cur->type == CONF_TYPE_PATHS)
            l->state = S_LIST;
        else
            not_scalar(l, ev, "a list");
        break;
    case YAML_SEQUENCE_END_EVENT:
        l->state = S_KEY;
        break;
    case YAML_ALIAS_EVENT:
        record_at(l, ev->start_mark, "aliases are not supported");
        if (l->state == S_KEY)
            skip(l, 1, 0, S_KEY); /* the value of an alias key */
        else if (l->state == S_VALUE)
            l->state = S_KEY;
        break;
    case YAML_SCALAR_EVENT:
        on_scalar(l, ev);
        break;
    case YAML_DOCUMENT_START_EVENT:
        /* A second document would silently override the first one's keys. */
        if (l->had_document) {
            record_at(l, ev->start_mark,
                      "a second YAML document: the configuration is one document");
            return EV_STOP;
        }
        l->had_document = true;
        break;
    case YAML_STREAM_START_EVENT:
    case YAML_NO_EVENT:
        break;
    }
    return EV_GO_ON;
}

/* Records libyaml's syntax error. With a context (the construct it was
 * reading when it failed) the line points where that construct began: an
 * unclosed quote is only found at the end of the file, and the quote that
 * opened it is what the reader must find. */
static void record_syntax_error(struct loader *l, const yaml_parser_t *p)
{
    const char *problem = p->problem != NULL ? p->problem : "syntax error";

    if (p->context != NULL)
        record_at(l, p->context_mark, "%s, %s that starts at %zu:%zu", problem, p->context,
                  p->context_mark.line + 1, p->context_mark.column + 1);
    else
        record_at(l, p->problem_mark, "%s", problem);
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    struct loader l = {.conf = c, .path = path, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    yaml_event_t ev;
    FILE *f = NULL;
    bool parser_ready = false;
    int r = 0;

    f = fopen(path, "re");
    if (f == NULL) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        r = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    parser_ready = true;
    yaml_parser_set_input_file(&parser, f);
    do {
        /* After a syntax error libyaml cannot go on: it is the last error. */
        if (!yaml_parser_parse(&parser, &ev)) {
            record_syntax_error(&l, &parser);
            break;
        }
        r = on_event(&l, &ev);
        yaml_event_delete(&ev);
    } while (r == EV_GO_ON);
    r = l.errors > 0 ? -EINVAL : 0;
out:
    if (parser_ready)
        yaml_parser_delete(&parser);
    if (f != NULL)
        fclose(f);
    return r;
}
