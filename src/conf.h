/* SPDX-License-Identifier: MIT */
/* The daemon's configuration: defaults, the YAML file and command-line
 * overrides, all validated here. Only this module touches libyaml. */
#ifndef OTAD_CONF_H
#define OTAD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include "log.h"

/* The most public keys signing.keys may list. */
#define CONF_PATHS_MAX 8

/* A list of file paths, in the order given. */
struct conf_paths {
    char *path[CONF_PATHS_MAX]; /* owned */
    unsigned n;
};

/* access_log: which lines of the access log are written, at info level. */
enum conf_access_log {
    CONF_ACCESS_LOG_OFF,
    CONF_ACCESS_LOG_DOWNLOADS,  /* one per download finished or abandoned */
    CONF_ACCESS_LOG_REQUESTS,   /* one per request */
};

struct conf {
    char *firmware_dir;       /* owned */
    char *bind;               /* owned; an IPv4 or IPv6 literal */
    uint16_t port;
    unsigned idle_timeout;    /* seconds */
    unsigned request_timeout; /* seconds for a request head, from its start */
    bool legacy_keep_alive;
    enum log_level log_level;
    enum conf_access_log access_log;
    unsigned threads;         /* 0: one per CPU */
    unsigned max_connections;
    unsigned max_connections_per_address; /* 0: no limit; see conf_per_address() */
    unsigned settle_ms;       /* quiet time before a changed file is loaded */
    unsigned retain_seconds;  /* how long a replaced generation stays */
    uint64_t max_memory;      /* bytes of all generations */
    uint64_t max_image_size;  /* bytes of one image */
    uint64_t connection_memory; /* bytes per connection for request and response headers */
    char *tls_cert;           /* owned; NULL: no HTTPS listener */
    char *tls_key;            /* owned; set exactly when tls_cert is */
    uint16_t tls_port;
    char *user;               /* owned; who otad becomes when started as root */
    struct conf_paths sign_keys; /* trusted public keys (PEM) */
    bool sign_require;        /* refuse firmwares without NAME.sig */
    char *state_dir;          /* owned; where the device registry is kept */
    char *export_dir;         /* owned; NULL: no static tree kept (export.h) */
    char *admin_bind;         /* owned; the admin listener's address */
    uint16_t admin_port;      /* 0: no admin listener */
    bool fleet_track;         /* keep the device registry */
    unsigned fleet_max_devices; /* devices held in memory */
    unsigned fleet_history;   /* events kept per device */
    unsigned fleet_stall_seconds; /* a download with no request this long is stalled */
};

/* max_connections_per_address not given: it follows max_connections. */
#define CONF_PER_ADDRESS_UNSET UINT_MAX

/* Exit status for configuration errors (sysexits EX_CONFIG). */
#define CONF_EXIT_STATUS 78

/* Fills @c with the built-in defaults. Returns 0 or -ENOMEM. */
int conf_init(struct conf *c);

/* Releases what @c owns. */
void conf_fini(struct conf *c);

/* Reads the YAML file at @path into @c, overriding defaults key by key.
 * A key with a bad value is skipped and the file read on, so that @err
 * gets every error, one "PATH:LINE:COL: message" per line (as many as fit),
 * up to a YAML syntax error, after which nothing can be read. Returns 0;
 * or -EINVAL; or a negative errno with "PATH: message" when the file cannot
 * be read. @c may be partly updated on error. */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);

/* Sets @key (a config key such as "port") from the string @value, with the
 * same checks as the file. Returns 0 or -EINVAL with a message in @err. */
int conf_set(struct conf *c, const char *key, const char *value, char *err,
             size_t errlen);

/* Checks the rules that span several keys, once the file and the flags are
 * applied (the HTTPS port must differ from the plain one; signing.require
 * needs keys). Returns 0 or
 * -EINVAL with a message "KEY: ..." in @err. */
int conf_check(const struct conf *c, char *err, size_t errlen);

/* The connections one client address may have open at a time (0: no limit):
 * max_connections_per_address, or an eighth of max_connections if unset. */
unsigned conf_per_address(const struct conf *c);

/* access_log's words: "off", "downloads" or "requests". parse returns 0
 * and the value in *@ret, or -EINVAL. */
int conf_access_log_parse(const char *word, enum conf_access_log *ret);
const char *conf_access_log_name(enum conf_access_log a);

/* Writes the effective settings as one "key=value ..." line into @buf. */
void conf_describe(const struct conf *c, char *buf, size_t len);

#endif
