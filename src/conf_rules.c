/* SPDX-License-Identifier: MIT */
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_priv.h"
#include "scalar.h"

/* The checks of one value against its key, the rules that span several
 * keys, and the one-line description: apart
 * from the key table and the YAML reader in conf.c. */

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
static const char *type_expects(enum conf_type type)
{
    switch (type) {
    case CONF_TYPE_UINT: return "an integer";
    case CONF_TYPE_SIZE: return "a size";
    case CONF_TYPE_BOOL: return "true or false";
    default: return "a plain word";
    }
}

static int set_string(const struct conf_key *k, void *field, const char *value, char *err,
                      size_t errlen)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char *copy;

    if (value[0] == '\0')
        return fail(err, errlen, "%s: must not be empty", k->name);
    if (k->type == CONF_TYPE_ADDRESS && inet_pton(AF_INET, value, addr) != 1 &&
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
static int add_path(const struct conf_key *k, struct conf_paths *field, const char *value, char *err,
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

static int set_uint(const struct conf_key *k, void *field, const char *value, char *err,
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

static int set_size(const struct conf_key *k, void *field, const char *value, char *err,
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

/* The type rules live here only. */
int conf_key_set(struct conf *c, const struct conf_key *k, const char *value, bool quoted,
                 char *err, size_t errlen)
{
    void *field = (char *)c + k->offset;
    enum log_level level;
    bool b;

    if (quoted && k->type != CONF_TYPE_STRING && k->type != CONF_TYPE_PATH &&
        k->type != CONF_TYPE_ADDRESS && k->type != CONF_TYPE_SECTION &&
        k->type != CONF_TYPE_PATHS)
        return fail(err, errlen, "%s: expected %s, got a quoted string", k->name,
                    type_expects(k->type));
    switch (k->type) {
    case CONF_TYPE_PATH:
    case CONF_TYPE_STRING:
    case CONF_TYPE_ADDRESS:
        return set_string(k, field, value, err, errlen);
    case CONF_TYPE_PATHS:
        return add_path(k, field, value, err, errlen);
    case CONF_TYPE_UINT:
        return set_uint(k, field, value, err, errlen);
    case CONF_TYPE_SIZE:
        return set_size(k, field, value, err, errlen);
    case CONF_TYPE_SECTION:
        return fail(err, errlen, "%s: expected a mapping", k->name);
    case CONF_TYPE_BOOL:
        if (scalar_bool(value, &b) < 0)
            return fail(err, errlen, "%s: expected true or false, got '%s'", k->name, value);
        *(bool *)field = b;
        return 0;
    case CONF_TYPE_ACCESS_LOG:
        if (conf_access_log_parse(value, field) < 0)
            return fail(err, errlen, "%s: expected off, downloads or requests, got '%s'",
                        k->name, value);
        return 0;
    case CONF_TYPE_LEVEL:
        if (log_level_parse(value, &level) < 0)
            return fail(err, errlen,
                        "%s: expected error, warning, info or debug, got '%s'",
                        k->name, value);
        *(enum log_level *)field = level;
        return 0;
    }
    return fail(err, errlen, "%s: unsupported type", k->name);
}

int conf_check(const struct conf *c, char *err, size_t errlen)
{
    if (c->tls_cert != NULL && c->tls_port == c->port) {
        snprintf(err, errlen, "tls.port: %u is also the plain HTTP port", c->tls_port);
        return -EINVAL;
    }
    if (c->admin_port != 0 && (c->admin_port == c->port ||
                               (c->tls_cert != NULL && c->admin_port == c->tls_port))) {
        snprintf(err, errlen, "admin.port: %u is also a device port", c->admin_port);
        return -EINVAL;
    }
    if (c->sign_require && c->sign_keys.n == 0) {
        snprintf(err, errlen, "signing.require: true needs signing.keys to verify with");
        return -EINVAL;
    }
    return 0;
}

static const char *const access_log_names[] = {
    [CONF_ACCESS_LOG_OFF] = "off",
    [CONF_ACCESS_LOG_DOWNLOADS] = "downloads",
    [CONF_ACCESS_LOG_REQUESTS] = "requests",
};

int conf_access_log_parse(const char *word, enum conf_access_log *ret)
{
    for (size_t i = 0; i < sizeof(access_log_names) / sizeof(access_log_names[0]); i++)
        if (strcmp(word, access_log_names[i]) == 0) {
            *ret = (enum conf_access_log)i;
            return 0;
        }
    return -EINVAL;
}

const char *conf_access_log_name(enum conf_access_log a)
{
    return access_log_names[a];
}

unsigned conf_per_address(const struct conf *c)
{
    /* An eighth leaves one host far from every slot and room for a site
     * behind one NAT address: 2,048 with the default max_connections. */
    if (c->max_connections_per_address == CONF_PER_ADDRESS_UNSET)
        return c->max_connections / 8;
    return c->max_connections_per_address;
}

void conf_describe(const struct conf *c, char *buf, size_t len)
{
    int n = snprintf(buf, len,
             "firmware_dir=%s bind=%s port=%u idle_timeout=%u request_timeout=%u "
             "legacy_keep_alive=%s threads=%u max_connections=%u "
             "max_connections_per_address=%u connection_memory=%llu settle_ms=%u "
             "retain_seconds=%u max_memory=%lluM max_image_size=%lluM log_level=%s "
             "access_log=%s user=%s",
             c->firmware_dir, c->bind, c->port, c->idle_timeout, c->request_timeout,
             c->legacy_keep_alive ? "on" : "off", c->threads, c->max_connections,
             conf_per_address(c), (unsigned long long)c->connection_memory, c->settle_ms,
             c->retain_seconds, (unsigned long long)(c->max_memory >> 20),
             (unsigned long long)(c->max_image_size >> 20), log_level_name(c->log_level),
             conf_access_log_name(c->access_log), c->user);

    if (c->tls_cert != NULL && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " tls.port=%u tls.cert=%s tls.key=%s",
                      c->tls_port, c->tls_cert, c->tls_key);
    if (c->sign_keys.n > 0 && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " signing.keys=%u signing.require=%s",
                      c->sign_keys.n, c->sign_require ? "on" : "off");
    if (c->export_dir != NULL && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " export_dir=%s", c->export_dir);
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n,
                 " state_dir=%s admin=%s:%u fleet.track=%s fleet.max_devices=%u"
                 " fleet.history=%u fleet.stall_seconds=%u",
                 c->state_dir, c->admin_bind, c->admin_port, c->fleet_track ? "on" : "off",
                 c->fleet_max_devices, c->fleet_history, c->fleet_stall_seconds);
}
