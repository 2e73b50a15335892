/* SPDX-License-Identifier: MIT */
#include "escape.h"

#include <stdio.h>
#include <string.h>

size_t escape_utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    size_t n;

    if (u[0] < 0x80)
        return u[0] != 0;
    if (u[0] >= 0xC2 && u[0] <= 0xDF)
        n = 2;
    else if (u[0] >= 0xE0 && u[0] <= 0xEF)
        n = 3;
    else if (u[0] >= 0xF0 && u[0] <= 0xF4)
        n = 4;
    else
        return 0; /* a continuation byte, an overlong C0/C1, or past U+10FFFF */
    /* RFC 3629: overlong forms, surrogates and what is above U+10FFFF all
     * show in the second byte. */
    if (u[0] == 0xE0)
        lo = 0xA0;
    else if (u[0] == 0xED)
        hi = 0x9F;
    else if (u[0] == 0xF0)
        lo = 0x90;
    else if (u[0] == 0xF4)
        hi = 0x8F;
    if (u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (u[i] < 0x80 || u[i] > 0xBF)
            return 0;
    return n;
}

bool escape_is_control(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    if (n == 1)
        return u[0] < 0x20 || u[0] == 0x7F;
    return n == 2 && u[0] == 0xC2 && u[1] < 0xA0;
}

bool escape_name_ok(const char *s)
{
    while (*s != '\0') {
        size_t n = escape_utf8_len(s);

        if (n == 0 || escape_is_control(s, n))
            return false;
        s += n;
    }
    return true;
}

/* The printed form of the character at @s, into @out; its length in bytes of
 * @s goes to @ret_n. Returns the length of the printed form. */
static size_t piece(const char *s, char out[16], size_t *ret_n)
{
    size_t n = escape_utf8_len(s), len = 0;

    if (n == 0 || escape_is_control(s, n)) {
        n = n ? n : 1; /* invalid: byte by byte */
        for (size_t i = 0; i < n; i++)
            len += (size_t)snprintf(out + len, 16 - len, "\\x%02x", (unsigned char)s[i]);
    } else if (*s == '\\') {
        len = 2;
        memcpy(out, "\\\\", 2);
    } else {
        len = n;
        memcpy(out, s, n);
    }
    *ret_n = n;
    return len;
}

const char *escape_name(const char *s, char *buf, size_t len)
{
    size_t total = 0, out = 0, n, need, room;
    char tmp[16];

    for (const char *p = s; *p != '\0'; p += n)
        total += piece(p, tmp, &n);
    /* Cut short, the text keeps room for "..." and its NUL. */
    room = total < len ? len : len - 3;
    for (const char *p = s; *p != '\0'; p += n) {
        need = piece(p, tmp, &n);
        if (out + need >= room)
            break;
        memcpy(buf + out, tmp, need);
        out += need;
    }
    if (total < len)
        buf[out] = '\0';
    else
        memcpy(buf + out, "...", 4);
    return buf;
}
