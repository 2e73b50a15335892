/* SPDX-License-Identifier: MIT */
/* Untrusted names made safe to print. A file name in the firmware directory
 * is any bytes but '/' and NUL: a newline in it would forge a line of the log
 * or of the text listing, and bytes that are not UTF-8 cannot be put in JSON.
 * The catalog serves only names escape_name_ok() accepts; everything that
 * prints a name it did not check itself (the log above all) escapes it. */
#ifndef OTAD_ESCAPE_H
#define OTAD_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* Enough for any file name (NAME_MAX bytes, each escaped as 4). */
#define ESCAPE_NAME_SIZE 1024

/* The length (1 to 4) of the UTF-8 character @s starts with: shortest form,
 * no surrogate, at most U+10FFFF. 0 when @s does not start one (or is ""). */
size_t escape_utf8_len(const char *s);

/* True when the character of @n bytes at @s is a control character, C0
 * (U+0000..U+001F), DEL or C1 (U+0080..U+009F): the ones a terminal or a
 * line-based reader acts on. */
bool escape_is_control(const char *s, size_t n);

/* True when @s is valid UTF-8 without control characters: a name that prints
 * as itself everywhere. */
bool escape_name_ok(const char *s);

/* Writes @s into @buf (@len bytes, at least 4) for a log line: a backslash as
 * "\\", each byte of a control character or of invalid UTF-8 as "\xNN", the
 * rest as it is; when it does not fit, it is cut at a character and ends in
 * "...". Returns @buf, so that it can be an argument of a printf. */
const char *escape_name(const char *s, char *buf, size_t len);

#endif
