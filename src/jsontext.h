/* SPDX-License-Identifier: MIT */
/* JSON out of untrusted bytes, with jansson. Names come from a directory
 * and ids from the network: jansson refuses a string that is not UTF-8, so
 * each stray byte is given as U+FFFD here, and an exact form of the name
 * that a client can put back into a URL goes beside it (jsontext_url). */
#ifndef OTAD_JSONTEXT_H
#define OTAD_JSONTEXT_H

#include <jansson.h>
#include <stdio.h>

/* A new JSON string of @s: valid UTF-8 as it is, each byte that does not
 * start a valid character as U+FFFD (jansson escapes quotes, backslashes
 * and control characters when dumping). NULL if out of memory. */
json_t *jsontext_string(const char *s);

/* A new JSON string of @s percent-encoded as one URL path segment: every
 * byte but the unreserved ones of RFC 3986 as %HH, so it names the exact
 * bytes ("my fw" is "my%20fw", a stray 0xFF is "%FF"). NULL if out of memory. */
json_t *jsontext_url(const char *s);

/* Sets @key (ASCII, not checked: the names of the members are literals)
 * of @obj to @value, which it takes (either NULL: out of memory). Returns 0 or -ENOMEM; afterwards 0 only if every earlier call
 * also succeeded, so that a row can be built and checked once: @err is the
 * running result. */
int jsontext_set(json_t *obj, const char *key, json_t *value, int *err);

/* The row @obj built with jsontext_set(): @obj, or NULL (and @obj freed)
 * when @err says a member is missing. */
json_t *jsontext_done(json_t *obj, int err);

/* Writes @v compactly (members in the order set) to @f. Returns 0 or -ENOMEM. */
int jsontext_write(FILE *f, const json_t *v);

#endif
