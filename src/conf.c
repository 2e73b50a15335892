#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "scalar.h"

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

enum value_type {
    TYPE_STRING, TYPE_PATH, TYPE_ADDRESS, TYPE_UINT, TYPE_BOOL, TYPE_LEVEL, TYPE_SIZE,
    TYPE_SECTION, /* a mapping whose keys are "NAME.key" rows of the table */
    TYPE_PATHS,   /* a list of paths (struct conf_paths), at most max of them */
    TYPE_ACCESS_LOG, /* enum conf_access_log */
};

/* One row per key: the table is the single list of settings. */
static const struct key {
    const char *name;
    enum value_type type;
    size_t offset;
    uint64_t min, max; /* TYPE_UINT and TYPE_SIZE */
} keys[] = {
    {"firmware_dir", TYPE_PATH, offsetof(struct conf, firmware_dir), 0, 0},
    {"bind", TYPE_ADDRESS, offsetof(struct conf, bind), 0, 0},
    {"port", TYPE_UINT, offsetof(struct conf, port), 1, 65535},
    {"idle_timeout", TYPE_UINT, offsetof(struct conf, idle_timeout), 1, 86400},
    {"request_timeout", TYPE_UINT, offsetof(struct conf, request_timeout), 1, 3600},
    {"legacy_keep_alive", TYPE_BOOL, offsetof(struct conf, legacy_keep_alive), 0, 0},
    {"log_level", TYPE_LEVEL, offsetof(struct conf, log_level), 0, 0},
    {"access_log", TYPE_ACCESS_LOG, offsetof(struct conf, access_log), 0, 0},
    {"threads", TYPE_UINT, offsetof(struct conf, threads), 0, 256},
    {"max_connections", TYPE_UINT, offsetof(struct conf, max_connections), 16, 1000000},
    {"max_connections_per_address", TYPE_UINT,
     offsetof(struct conf, max_connections_per_address), 0, 1000000},
    {"settle_ms", TYPE_UINT, offsetof(struct conf, settle_ms), 0, 60000},
    {"retain_seconds", TYPE_UINT, offsetof(struct conf, retain_seconds), 0, 86400},
    {"max_memory", TYPE_SIZE, offsetof(struct conf, max_memory), 1ull << 20, 1ull << 40},
    {"max_image_size", TYPE_SIZE, offsetof(struct conf, max_image_size), 1024, 4ull << 30},
    {"connection_memory", TYPE_SIZE, offsetof(struct conf, connection_memory), 1024, 1ull << 20},
    {"tls", TYPE_SECTION, 0, 0, 0},
    {"tls.cert", TYPE_PATH, offsetof(struct conf, tls_cert), 0, 0},
    {"tls.key", TYPE_PATH, offsetof(struct conf, tls_key), 0, 0},
    {"tls.port", TYPE_UINT, offsetof(struct conf, tls_port), 1, 65535},
    {"user", TYPE_STRING, offsetof(struct conf, user), 0, 0},
    {"signing", TYPE_SECTION, 0, 0, 0},
    {"signing.keys", TYPE_PATHS, offsetof(struct conf, sign_keys), 0, CONF_PATHS_MAX},
    {"signing.require", TYPE_BOOL, offsetof(struct conf, sign_require), 0, 0},
    {"state_dir", TYPE_PATH, offsetof(struct conf, state_dir), 0, 0},
    {"admin", TYPE_SECTION, 0, 0, 0},
    {"admin.bind", TYPE_ADDRESS, offsetof(struct conf, admin_bind), 0, 0},
    {"admin.port", TYPE_UINT, offsetof(struct conf, admin_port), 0, 65535},
    {"fleet", TYPE_SECTION, 0, 0, 0},
    {"fleet.track", TYPE_BOOL, offsetof(struct conf, fleet_track), 0, 0},
    {"fleet.max_devices", TYPE_UINT, offsetof(struct conf, fleet_max_devices), 1, 10000000},
    {"fleet.history", TYPE_UINT, offsetof(struct conf, fleet_history), 0, 10000},
    {"fleet.stall_seconds", TYPE_UINT, offsetof(struct conf, fleet_stall_seconds), 1, 86400},
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
    free(c->admin_bind);
    for (unsigned i = 0; i < c->sign_keys.n; i++)
        free(c->sign_keys.path[i]);
    *c = (struct conf){0};
}

static const struct key *key_find(const char *name)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* What a key of @type expects, for messages about a quoted value. */
static const char *type_expects(enum value_type type)
{
    switch (type) {
    case TYPE_UINT: return "an integer";
    case TYPE_SIZE: return "a size";
    case TYPE_BOOL: return "true or false";
    default: return "a plain word";
    }
}

static int set_string(const struct key *k, void *field, const char *value, char *err,
                      size_t errlen)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char *copy;

    if (value[0] == '\0')
        return fail(err, errlen, "%s: must not be empty", k->name);
    if (k->type == TYPE_ADDRESS && inet_pton(AF_INET, value, addr) != 1 &&
        inet_pton(AF_INET6, value, addr) != 1)
        return fail(err, errlen, "%s: '%s' is not an IPv4 or IPv6 address", k->name, value);
    copy = strdup(value);
    if (copy == NULL)
        return fail(err, errlen, "%s: out of memory", k->name);
    free(*(char **)field);
    *(char **)field = copy;
    return 0;
}

/* Appends @value to the list of paths at @field. */
static int add_path(const struct key *k, struct conf_paths *field, const char *value, char *err,
                    size_t errlen)
{
    if (field->n >= k->max)
        return fail(err, errlen, "%s: at most %llu entries", k->name,
                    (unsigned long long)k->max);
    field->path[field->n] = NULL;
    if (set_string(k, &field->path[field->n], value, err, errlen) < 0)
        return -EINVAL;
    field->n++;
    return 0;
}

static int set_uint(const struct key *k, void *field, const char *value, char *err,
                    size_t errlen)
{
    uint64_t u;
    int r = scalar_uint(value, &u);

    if (r == -EINVAL)
        return fail(err, errlen, "%s: expected an integer, got '%s'", k->name, value);
    if (r < 0 || u < k->min || u > k->max)
        return fail(err, errlen, "%s: %s is out of range %llu..%llu", k->name, value,
                    (unsigned long long)k->min, (unsigned long long)k->max);
    if (k->offset == offsetof(struct conf, port) || k->offset == offsetof(struct conf, tls_port) ||
        k->offset == offsetof(struct conf, admin_port))
        *(uint16_t *)field = (uint16_t)u;
    else
        *(unsigned *)field = (unsigned)u;
    return 0;
}

static int set_size(const struct key *k, void *field, const char *value, char *err,
                    size_t errlen)
{
    char lo[24], hi[24];
    uint64_t u;
    int r = scalar_size(value, &u);

    if (r == -EINVAL)
        return fail(err, errlen, "%s: expected a size such as 512M or 2G, got '%s'", k->name,
                    value);
    if (r < 0 || u < k->min || u > k->max)
        return fail(err, errlen, "%s: %s is out of range %s..%s", k->name, value,
                    scalar_size_text(k->min, lo, sizeof(lo)), scalar_size_text(k->max, hi, sizeof(hi)));
    *(uint64_t *)field = u;
    return 0;
}

/* Checks @value for @k and stores it; on error writes "KEY: message" to err.
 * @quoted: the value was a quoted YAML scalar, which only string keys take
 * (a quoted "8000" is a string, not a port). The type rules live here only. */
static int key_set(struct conf *c, const struct key *k, const char *value, bool quoted,
                   char *err, size_t errlen)
{
    void *field = (char *)c + k->offset;
    enum log_level level;
    bool b;

    if (quoted && k->type != TYPE_STRING && k->type != TYPE_PATH && k->type != TYPE_ADDRESS &&
        k->type != TYPE_SECTION && k->type != TYPE_PATHS)
        return fail(err, errlen, "%s: expected %s, got a quoted string", k->name,
                    type_expects(k->type));
    switch (k->type) {
    case TYPE_PATH:
    case TYPE_STRING:
    case TYPE_ADDRESS:
        return set_string(k, field, value, err, errlen);
    case TYPE_PATHS:
        return add_path(k, field, value, err, errlen);
    case TYPE_UINT:
        return set_uint(k, field, value, err, errlen);
    case TYPE_SIZE:
        return set_size(k, field, value, err, errlen);
    case TYPE_SECTION:
        return fail(err, errlen, "%s: expected a mapping", k->name);
    case TYPE_BOOL:
        if (scalar_bool(value, &b) < 0)
            return fail(err, errlen, "%s: expected true or false, got '%s'", k->name, value);
        *(bool *)field = b;
        return 0;
    case TYPE_ACCESS_LOG:
        if (conf_access_log_parse(value, field) < 0)
            return fail(err, errlen, "%s: expected off, downloads or requests, got '%s'",
                        k->name, value);
        return 0;
    case TYPE_LEVEL:
        if (log_level_parse(value, &level) < 0)
            return fail(err, errlen,
                        "%s: expected error, warning, info or debug, got '%s'",
                        k->name, value);
        *(enum log_level *)field = level;
        return 0;
    }
    return fail(err, errlen, "%s: unsupported type", k->name);
}

int conf_set(struct conf *c, const char *key, const char *value, char *err,
             size_t errlen)
{
    const struct key *k = key_find(key);

    if (k == NULL)
        return fail(err, errlen, "unknown key '%s'", key);
    return key_set(c, k, value, false, err, errlen);
}

/* Plain scalars carry numbers and booleans; a quoted "8000" is a string. */
static bool scalar_is_plain(const yaml_event_t *ev)
{
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* The state of one file's parse: a flat mapping of keys, some of whose
 * values are one-level sections ("tls:") of "section.key" rows. */
struct loader {
    struct conf *conf;
    const char *path;
    char *err;
    size_t errlen;
    enum { S_STREAM, S_KEY, S_VALUE, S_SECTION, S_LIST, S_END } state;
    const struct key *cur;
    /* Inside a section mapping, its keys are looked up as "section.key". */
    char section[16];
    /* Which keys appeared already, to report duplicates. */
    bool seen[sizeof(keys) / sizeof(keys[0])];
    yaml_mark_t section_mark; /* where the open section's key stands */
    bool had_document;
};

static int fail_at(struct loader *l, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "PATH:LINE:COL: message" and returns -EINVAL. */
static int fail_at(struct loader *l, yaml_mark_t mark, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fail(l->err, l->errlen, "%s:%zu:%zu: %s", l->path, mark.line + 1, mark.column + 1,
                msg);
}

/* A value that is a mapping or a list where a single value belongs. */
static int fail_not_scalar(struct loader *l, const yaml_event_t *ev, const char *what)
{
    return fail_at(l, ev->start_mark, "%s%sexpected a single value, not %s",
                   l->cur ? l->cur->name : "", l->cur ? ": " : "", what);
}

static int on_mapping_start(struct loader *l, const yaml_event_t *ev)
{
    if (l->state == S_STREAM) {
        l->state = S_KEY;
        return 0;
    }
    if (l->state == S_SECTION) {
        snprintf(l->section, sizeof(l->section), "%s.", l->cur->name);
        l->state = S_KEY;
        return 0;
    }
    return fail_not_scalar(l, ev, "a mapping");
}

static int on_mapping_end(struct loader *l)
{
    if (l->section[0] == '\0') {
        l->state = S_END;
        return 0;
    }
    l->section[0] = '\0';
    l->state = S_KEY;
    /* The section's own rule: HTTPS needs the pair. */
    if ((l->conf->tls_cert == NULL) != (l->conf->tls_key == NULL))
        return fail_at(l, l->section_mark, "tls: both cert and key are needed");
    return 0;
}

static int on_key(struct loader *l, const yaml_event_t *ev, const char *value)
{
    char full[80];

    snprintf(full, sizeof(full), "%s%s", l->section, value);
    l->cur = key_find(full);
    if (l->cur == NULL || strchr(value, '.') != NULL)
        return fail_at(l, ev->start_mark, "unknown key '%s'", full);
    if (l->seen[l->cur - keys])
        return fail_at(l, ev->start_mark, "duplicate key '%s'", full);
    l->seen[l->cur - keys] = true;
    if (l->cur->type == TYPE_SECTION) {
        l->section_mark = ev->start_mark;
        l->state = S_SECTION;
        return 0;
    }
    l->state = S_VALUE;
    return 0;
}

static int on_scalar(struct loader *l, const yaml_event_t *ev)
{
    const char *value = (const char *)ev->data.scalar.value;
    bool empty = value[0] == '\0' && scalar_is_plain(ev);
    char msg[256];

    switch (l->state) {
    case S_STREAM:
        /* An empty document is an empty configuration. */
        return empty ? 0 : fail_at(l, ev->start_mark, "expected a mapping of settings");
    case S_KEY:
        return on_key(l, ev, value);
    case S_SECTION:
        /* "tls:" with nothing after it: no section at all. */
        if (!empty)
            return fail_at(l, ev->start_mark, "%s: expected a mapping", l->cur->name);
        l->state = S_KEY;
        return 0;
    case S_END:
        /* Unreachable in one document; refused rather than trusted. */
        return fail_at(l, ev->start_mark, "unexpected value after the settings");
    case S_VALUE:
    case S_LIST:
        break;
    }
    if (key_set(l->conf, l->cur, value, !scalar_is_plain(ev), msg, sizeof(msg)) < 0)
        return fail_at(l, ev->start_mark, "%s", msg);
    if (l->state == S_VALUE)
        l->state = S_KEY;
    return 0;
}

/* Applies one parser event. Returns 1 at the end of the stream, 0 to go on,
 * or -EINVAL with the message written. */
static int on_event(struct loader *l, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_END_EVENT:
        l->state = S_END;
        return 0;
    case YAML_MAPPING_START_EVENT:
        return on_mapping_start(l, ev);
    case YAML_MAPPING_END_EVENT:
        return on_mapping_end(l);
    case YAML_SEQUENCE_START_EVENT:
        if (l->state != S_VALUE || l->cur->type != TYPE_PATHS)
            return fail_not_scalar(l, ev, "a list");
        l->state = S_LIST;
        return 0;
    case YAML_SEQUENCE_END_EVENT:
        l->state = S_KEY;
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(l, ev->start_mark, "aliases are not supported");
    case YAML_SCALAR_EVENT:
        return on_scalar(l, ev);
    case YAML_DOCUMENT_START_EVENT:
        /* A second document would silently override the first one's keys. */
        if (l->had_document)
            return fail_at(l, ev->start_mark,
                           "a second YAML document: the configuration is one document");
        l->had_document = true;
        return 0;
    case YAML_STREAM_START_EVENT:
    case YAML_NO_EVENT:
        break;
    }
    return 0;
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
        if (!yaml_parser_parse(&parser, &ev)) {
            r = fail_at(&l, parser.problem_mark, "%s",
                        parser.problem != NULL ? parser.problem : "syntax error");
            goto out;
        }
        r = on_event(&l, &ev);
        yaml_event_delete(&ev);
    } while (r == 0);
    if (r > 0)
        r = 0;
out:
    if (parser_ready)
        yaml_parser_delete(&parser);
    if (f != NULL)
        fclose(f);
    return r;
}
