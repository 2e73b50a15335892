/* SPDX-License-Identifier: MIT */
/* The decisions of the legacy keep-alive (see http.c): which requests ask
 * for "close", and whether a socket the library closes can be handed back
 * without losing a byte. Nothing here owns a descriptor. */
#ifndef OTAD_LEGACY_H
#define OTAD_LEGACY_H

#include <stdbool.h>
#include <stdint.h>

/* True when the Connection header value @value (NULL if absent) holds the
 * token "close": its comma-separated elements are compared whole, without
 * case and the white space around them ("keep-alive, Close" does,
 * "notclose" does not). */
bool legacy_asks_close(const char *value);

/* True when exactly @parsed bytes have been read from the TCP socket @fd
 * since it was accepted: then nothing read ahead of the requests parsed so
 * far was lost with the library's buffer. False if more were read, or if
 * the kernel cannot tell (Linux before 4.1). */
bool legacy_in_sync(int fd, uint64_t parsed);

#endif
