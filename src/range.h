/* SPDX-License-Identifier: MIT */
/* HTTP conditional and range requests on a whole image (RFC 9110): one
 * byte range, If-Range, If-None-Match. Pure string work, for the image
 * endpoint. */
#ifndef OTAD_RANGE_H
#define OTAD_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum range_result {
    RANGE_FULL,            /* no usable Range: the whole image, 200 */
    RANGE_PARTIAL,         /* one satisfiable range: 206 */
    RANGE_UNSATISFIABLE,   /* 416 with Content-Range: bytes * / SIZE */
};

/* Interprets the Range header @value (NULL if absent) for an image of
 * @size bytes. A single range "bytes=a-b", "bytes=a-" or "bytes=-n" gives
 * RANGE_PARTIAL with the inclusive bounds in @first/@last (an end past the
 * image is clamped); a start past the end, "-0", or any "-n" of an empty image
 * is unsatisfiable. A
 * header otad does not understand (another unit, bad syntax) is ignored, as
 * RFC 9110 asks, and so is a list of ranges: the whole image is sent. */
enum range_result range_parse(const char *value, uint64_t size, uint64_t *first,
                              uint64_t *last);

/* True when the header value @value is @s, give or take the optional white
 * space (spaces, tabs) HTTP allows around a field value. */
bool http_value_is(const char *value, const char *s);

/* Walks an entity-tag list (If-Match, If-None-Match): from *@p, finds the
 * next quoted tag, writes where it starts (quotes included) to @ret_tag, its
 * length to @ret_len and whether it was weak ("W/") to @ret_weak, moves *@p
 * past it and returns true; false at the end of the list. Elements that are
 * not entity tags are skipped; an unterminated tag ends the list. */
bool etag_list_next(const char **p, const char **ret_tag, size_t *ret_len, bool *ret_weak);

/* True when the entity-tag list @value (If-None-Match, If-Match) names
 * @etag (quoted) or is "*". Weak tags match by @weak_ok only. White space
 * around the list and its elements is ignored. */
bool etag_list_matches(const char *value, const char *etag, bool weak_ok);

/* The conditions of a request for a whole image; NULL when absent. */
struct range_conditions {
    const char *range;
    const char *if_range;
    const char *if_none_match;
};

/* Decides the status of a GET or HEAD of an image of @size (> 0) bytes
 * whose strong ETag is @etag (quoted) and Last-Modified is @mtime: 304 when
 * If-None-Match names the ETag (weakly), else 416 for an unsatisfiable
 * Range, 206 for a satisfiable one, 200 otherwise. A stale If-Range
 * validator (neither the ETag nor the date of @mtime) voids the Range: the
 * client's partial copy is of other bytes. For 200 and 206 the inclusive
 * bounds to send are written to @first/@last (0 and 0 for an empty image,
 * which has no byte to send). */
unsigned range_decide(const struct range_conditions *c, const char *etag, int64_t mtime,
                      uint64_t size, uint64_t *first, uint64_t *last);

/* Formats @t (seconds since 1970, UTC) as an HTTP date ("Sun, 06 Nov 1994
 * 08:49:37 GMT") into @buf (at least 30 bytes). Its year has four digits: a
 * time before year 0 or after year 9999 shows as the first or the last
 * second of that range. */
void http_date(int64_t t, char *buf);

#endif
