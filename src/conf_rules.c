#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The rules that span several keys, and the one-line description: apart
 * from the key table and the YAML reader in conf.c. */

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
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n,
                 " state_dir=%s admin=%s:%u fleet.track=%s fleet.max_devices=%u"
                 " fleet.history=%u fleet.stall_seconds=%u",
                 c->state_dir, c->admin_bind, c->admin_port, c->fleet_track ? "on" : "off",
                 c->fleet_max_devices, c->fleet_history, c->fleet_stall_seconds);
}
