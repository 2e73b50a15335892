/* SPDX-License-Identifier: MIT */
/* What conf.c (the key table and the YAML reader) and conf_rules.c (the
 * checks of a value) share; not for other modules. */
#ifndef OTAD_CONF_PRIV_H
#define OTAD_CONF_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum conf_type {
    CONF_TYPE_STRING, CONF_TYPE_PATH, CONF_TYPE_ADDRESS, CONF_TYPE_UINT, CONF_TYPE_BOOL,
    CONF_TYPE_LEVEL, CONF_TYPE_SIZE,
    CONF_TYPE_SECTION, /* a mapping whose keys are "NAME.key" rows of the table */
    CONF_TYPE_PATHS,   /* a list of paths (struct conf_paths), at most max of them */
    CONF_TYPE_ACCESS_LOG, /* enum conf_access_log */
};

/* One row of the key table: where the value goes and its range. */
struct conf_key {
    const char *name;
    enum conf_type type;
    size_t offset;
    uint64_t min, max; /* CONF_TYPE_UINT and CONF_TYPE_SIZE */
};

/* Checks @value for @k and stores it into @c; on error writes "KEY: message"
 * to @err and returns -EINVAL. @quoted: the value was a quoted YAML scalar,
 * which only string keys take (a quoted "8000" is a string, not a port). */
int conf_key_set(struct conf *c, const struct conf_key *k, const char *value, bool quoted,
                 char *err, size_t errlen);

#endif
