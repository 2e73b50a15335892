#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const struct conf defaults = {
    .firmware_dir = "/var/lib/otad/firmware",
    .bind = "0.0.0.0",
    .port = 8000,
    .idle_timeout = 60,
    .legacy_keep_alive = true,
    .log_level = LOG_LEVEL_INFO,
    .threads = 0,
    .max_connections = 16384,
    .settle_ms = 100,
    .retain_seconds = 600,
    .max_memory = 1ull << 30,
    .connection_memory = 2048,
    .tls_cert = NULL,
    .tls_key = NULL,
    .tls_port = 8443,
};

enum value_type {
    TYPE_STRING, TYPE_PATH, TYPE_ADDRESS, TYPE_UINT, TYPE_BOOL, TYPE_LEVEL, TYPE_SIZE,
    TYPE_SECTION, /* a mapping whose keys are "NAME.key" rows of the table */
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
    {"legacy_keep_alive", TYPE_BOOL, offsetof(struct conf, legacy_keep_alive), 0, 0},
    {"log_level", TYPE_LEVEL, offsetof(struct conf, log_level), 0, 0},
    {"threads", TYPE_UINT, offsetof(struct conf, threads), 0, 256},
    {"max_connections", TYPE_UINT, offsetof(struct conf, max_connections), 16, 1000000},
    {"settle_ms", TYPE_UINT, offsetof(struct conf, settle_ms), 0, 60000},
    {"retain_seconds", TYPE_UINT, offsetof(struct conf, retain_seconds), 0, 86400},
    {"max_memory", TYPE_SIZE, offsetof(struct conf, max_memory), 1ull << 20, 1ull << 40},
    {"connection_memory", TYPE_SIZE, offsetof(struct conf, connection_memory), 1024, 1ull << 20},
    {"tls", TYPE_SECTION, 0, 0, 0},
    {"tls.cert", TYPE_PATH, offsetof(struct conf, tls_cert), 0, 0},
    {"tls.key", TYPE_PATH, offsetof(struct conf, tls_key), 0, 0},
    {"tls.port", TYPE_UINT, offsetof(struct conf, tls_port), 1, 65535},
};

int conf_init(struct conf *c)
{
    *c = defaults;
    c->firmware_dir = strdup(defaults.firmware_dir);
    c->bind = strdup(defaults.bind);
    if (c->firmware_dir == NULL || c->bind == NULL) {
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
    c->firmware_dir = NULL;
    c->bind = NULL;
    c->tls_cert = NULL;
    c->tls_key = NULL;
}

static const struct key *key_find(const char *name)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_uint(const char *s, uint64_t *ret)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        if (v > 10000000000000ull) /* far beyond every range: stop before overflow */
            return -ERANGE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *ret = v;
    return 0;
}

/* A byte count: digits, optionally followed by K, M or G (powers of 1024). */
static int parse_size(const char *s, uint64_t *ret)
{
    size_t len = strlen(s);
    char digits[32];
    int shift = 0;
    uint64_t v;
    int r;

    if (len == 0 || len >= sizeof(digits))
        return -EINVAL;
    memcpy(digits, s, len + 1);
    switch (digits[len - 1]) {
    case 'G': case 'g': shift = 30; break;
    case 'M': case 'm': shift = 20; break;
    case 'K': case 'k': shift = 10; break;
    default: break;
    }
    if (shift > 0)
        digits[len - 1] = '\0';
    r = parse_uint(digits, &v);
    if (r < 0)
        return r;
    if (v > (UINT64_MAX >> shift))
        return -ERANGE;
    *ret = v << shift;
    return 0;
}

static int parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* @v as the shortest exact form parse_size() reads: 1024 -> "1K". */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
    static const char units[] = "KMG";
    int i = -1;

    while (i < 2 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        i++;
    }
    if (i >= 0)
        snprintf(buf, len, "%llu%c", (unsigned long long)v, units[i]);
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

/* Checks @value for @k and stores it; on error writes "KEY: message" to err. */
static int key_set(struct conf *c, const struct key *k, const char *value,
                   char *err, size_t errlen)
{
    void *field = (char *)c + k->offset;
    uint64_t u;
    bool b;
    enum log_level level;
    unsigned char addr[sizeof(struct in6_addr)];
    char *copy;
    int r;

    switch (k->type) {
    case TYPE_PATH:
    case TYPE_STRING:
    case TYPE_ADDRESS:
        if (value[0] == '\0')
            return fail(err, errlen, "%s: must not be empty", k->name);
        if (k->type == TYPE_ADDRESS && inet_pton(AF_INET, value, addr) != 1 &&
            inet_pton(AF_INET6, value, addr) != 1)
            return fail(err, errlen,
                        "%s: '%s' is not an IPv4 or IPv6 address", k->name, value);
        copy = strdup(value);
        if (copy == NULL)
            return fail(err, errlen, "%s: out of memory", k->name);
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    case TYPE_UINT:
        r = parse_uint(value, &u);
        if (r == -EINVAL)
            return fail(err, errlen, "%s: expected an integer, got '%s'", k->name, value);
        if (r < 0 || u < k->min || u > k->max)
            return fail(err, errlen, "%s: %s is out of range %llu..%llu", k->name, value,
                        (unsigned long long)k->min, (unsigned long long)k->max);
        if (k->offset == offsetof(struct conf, port) || k->offset == offsetof(struct conf, tls_port))
            *(uint16_t *)field = (uint16_t)u;
        else
            *(unsigned *)field = (unsigned)u;
        return 0;
    case TYPE_SIZE:
        r = parse_size(value, &u);
        if (r == -EINVAL)
            return fail(err, errlen, "%s: expected a size such as 512M or 2G, got '%s'",
                        k->name, value);
        if (r < 0 || u < k->min || u > k->max) {
            char lo[24], hi[24];

            return fail(err, errlen, "%s: %s is out of range %s..%s", k->name, value,
                        size_text(k->min, lo, sizeof(lo)), size_text(k->max, hi, sizeof(hi)));
        }
        *(uint64_t *)field = u;
        return 0;
    case TYPE_SECTION:
        return fail(err, errlen, "%s: expected a mapping", k->name);
    case TYPE_BOOL:
        if (parse_bool(value, &b) < 0)
            return fail(err, errlen, "%s: expected true or false, got '%s'", k->name, value);
        *(bool *)field = b;
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
    return key_set(c, k, value, err, errlen);
}

/* Plain scalars carry numbers and booleans; a quoted "8000" is a string. */
static bool scalar_is_plain(const yaml_event_t *ev)
{
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    FILE *f = NULL;
    bool parser_ready = false, have_event = false;
    /* Which keys appeared already, to report duplicates. */
    bool seen[sizeof(keys) / sizeof(keys[0])] = {0};
    char msg[256];
    int r = 0;
    enum { S_STREAM, S_KEY, S_VALUE, S_SECTION, S_END } state = S_STREAM;
    const struct key *cur = NULL;
    /* Inside a section mapping, its keys are looked up as "section.key". */
    char section[16] = "", full[80];
    size_t tls_line = 0, tls_col = 0;

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

    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "%s:%zu:%zu: %s", path,
                     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                     parser.problem != NULL ? parser.problem : "syntax error");
            r = -EINVAL;
            goto out;
        }
        have_event = true;
#define AT(ev) path, (ev).start_mark.line + 1, (ev).start_mark.column + 1
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            goto out;
        case YAML_DOCUMENT_END_EVENT:
            state = S_END;
            break;
        case YAML_MAPPING_START_EVENT:
            if (state == S_STREAM) {
                state = S_KEY;
                break;
            }
            if (state == S_SECTION) {
                snprintf(section, sizeof(section), "%s.", cur->name);
                state = S_KEY;
                break;
            }
            snprintf(err, errlen, "%s:%zu:%zu: %s%sexpected a single value, not a mapping",
                     AT(ev), cur ? cur->name : "", cur ? ": " : "");
            r = -EINVAL;
            goto out;
        case YAML_MAPPING_END_EVENT:
            if (section[0] != '\0') {
                section[0] = '\0';
                state = S_KEY;
                break;
            }
            state = S_END;
            break;
        case YAML_SEQUENCE_START_EVENT:
            snprintf(err, errlen, "%s:%zu:%zu: %s%sexpected a single value, not a list",
                     AT(ev), cur ? cur->name : "", cur ? ": " : "");
            r = -EINVAL;
            goto out;
        case YAML_ALIAS_EVENT:
            snprintf(err, errlen, "%s:%zu:%zu: aliases are not supported", AT(ev));
            r = -EINVAL;
            goto out;
        case YAML_SCALAR_EVENT: {
            const char *value = (const char *)ev.data.scalar.value;

            if (state == S_STREAM) {
                /* An empty document is an empty configuration. */
                if (value[0] == '\0' && scalar_is_plain(&ev))
                    break;
                snprintf(err, errlen, "%s:%zu:%zu: expected a mapping of settings", AT(ev));
                r = -EINVAL;
                goto out;
            }
            if (state == S_KEY) {
                snprintf(full, sizeof(full), "%s%s", section, value);
                cur = key_find(full);
                if (cur == NULL || strchr(value, '.') != NULL) {
                    snprintf(err, errlen, "%s:%zu:%zu: unknown key '%s'", AT(ev), full);
                    r = -EINVAL;
                    goto out;
                }
                if (seen[cur - keys]) {
                    snprintf(err, errlen, "%s:%zu:%zu: duplicate key '%s'", AT(ev), full);
                    r = -EINVAL;
                    goto out;
                }
                seen[cur - keys] = true;
                if (cur->type == TYPE_SECTION) {
                    tls_line = ev.start_mark.line + 1;
                    tls_col = ev.start_mark.column + 1;
                    state = S_SECTION;
                    break;
                }
                state = S_VALUE;
                break;
            }
            if (state == S_SECTION) {
                /* "tls:" with nothing after it: no section at all. */
                if (value[0] == '\0' && scalar_is_plain(&ev)) {
                    state = S_KEY;
                    break;
                }
                snprintf(err, errlen, "%s:%zu:%zu: %s: expected a mapping", AT(ev), cur->name);
                r = -EINVAL;
                goto out;
            }
            /* S_VALUE */
            if (cur->type != TYPE_STRING && cur->type != TYPE_PATH &&
                cur->type != TYPE_ADDRESS && !scalar_is_plain(&ev)) {
                snprintf(err, errlen, "%s:%zu:%zu: %s: expected %s, got a quoted string",
                         AT(ev), cur->name,
                         cur->type == TYPE_UINT ? "an integer" :
                         cur->type == TYPE_SIZE ? "a size" :
                         cur->type == TYPE_BOOL ? "true or false" : "a plain word");
                r = -EINVAL;
                goto out;
            }
            r = key_set(c, cur, value, msg, sizeof(msg));
            if (r < 0) {
                snprintf(err, errlen, "%s:%zu:%zu: %s", AT(ev), msg);
                goto out;
            }
            state = S_KEY;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_NO_EVENT:
            break;
        }
#undef AT
        yaml_event_delete(&ev);
        have_event = false;
    }
out:
    if (have_event)
        yaml_event_delete(&ev);
    if (parser_ready)
        yaml_parser_delete(&parser);
    if (f != NULL)
        fclose(f);
    if (r == 0 && (c->tls_cert == NULL) != (c->tls_key == NULL)) {
        snprintf(err, errlen, "%s:%zu:%zu: tls: both cert and key are needed", path, tls_line,
                 tls_col);
        r = -EINVAL;
    }
    return r;
}

void conf_describe(const struct conf *c, char *buf, size_t len)
{
    int n = snprintf(buf, len,
             "firmware_dir=%s bind=%s port=%u idle_timeout=%u legacy_keep_alive=%s "
             "threads=%u max_connections=%u connection_memory=%llu settle_ms=%u "
             "retain_seconds=%u max_memory=%lluM log_level=%s",
             c->firmware_dir, c->bind, c->port, c->idle_timeout,
             c->legacy_keep_alive ? "on" : "off", c->threads, c->max_connections,
             (unsigned long long)c->connection_memory, c->settle_ms, c->retain_seconds,
             (unsigned long long)(c->max_memory >> 20), log_level_name(c->log_level));

    if (c->tls_cert != NULL && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " tls.port=%u tls.cert=%s tls.key=%s", c->tls_port,
                 c->tls_cert, c->tls_key);
}
