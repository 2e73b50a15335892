/* SPDX-License-Identifier: MIT */
/* Text made with stdio into memory: the listings, the device views and the
 * metrics are all written to a FILE and handed out as one buffer. */
#ifndef OTAD_MEMBUF_H
#define OTAD_MEMBUF_H

#include <stddef.h>
#include <stdio.h>

/* Calls @write(@f, @cls) on a stream into memory; @write returns 0 or a
 * negative errno. Returns 0 and the bytes written in a new malloc'ed buffer
 * (*@ret, NUL-terminated, owned by the caller) of *@ret_len bytes, or the
 * error of @write, or -ENOMEM. */
int membuf_render(int (*write)(FILE *f, const void *cls), const void *cls, char **ret,
                  size_t *ret_len);

#endif
