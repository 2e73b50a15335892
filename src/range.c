/* SPDX-License-Identifier: MIT */
#include "range.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses digits at *p; false if none or too many for 64 bits. */
static bool number(const char **p, uint64_t *ret)
{
    uint64_t v = 0;
    const char *s = *p;

    if (!is_digit(*s))
        return false;
    for (; is_digit(*s); s++) {
        uint64_t d = (uint64_t)(*s - '0');

        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return false;
        v = v * 10 + d;
    }
    *p = s;
    *ret = v;
    return true;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool http_value_is(const char *value, const char *s)
{
    size_t len = strlen(s);

    value = skip_space(value);
    return strncmp(value, s, len) == 0 && *skip_space(value + len) == '\0';
}

enum range_result range_parse(const char *value, uint64_t size, uint64_t *first,
                              uint64_t *last)
{
    const char *p;
    uint64_t a, b;

    if (value == NULL)
        return RANGE_FULL;
    p = skip_space(value);
    if (strncmp(p, "bytes=", 6) != 0)
        return RANGE_FULL;
    p = skip_space(p + 6);
    if (strchr(p, ',') != NULL)
        return RANGE_FULL; /* several ranges: the whole image (documented) */
    if (*p == '-') {
        /* The last n bytes. */
        p++;
        if (!number(&p, &b) || *skip_space(p) != '\0')
            return RANGE_FULL;
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE; /* no last bytes to send */
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_PARTIAL;
    }
    if (!number(&p, &a) || *p++ != '-')
        return RANGE_FULL;
    p = skip_space(p);
    if (*p == '\0') {
        b = UINT64_MAX;
    } else if (!number(&p, &b) || *skip_space(p) != '\0' || b < a) {
        return RANGE_FULL;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = b >= size ? size - 1 : b; /* clients may ask one byte past the end */
    return RANGE_PARTIAL;
}

bool etag_list_next(const char **p, const char **ret_tag, size_t *ret_len, bool *ret_weak)
{
    const char *q = *p, *end;

    for (;;) {
        bool weak = false;

        while (*q == ' ' || *q == '\t' || *q == ',')
            q++;
        if (*q == '\0') {
            *p = q;
            return false;
        }
        if (strncmp(q, "W/", 2) == 0) {
            weak = true;
            q += 2;
        }
        end = *q == '"' ? strchr(q + 1, '"') : NULL;
        if (*q == '"' && end == NULL) {
            *p = q + strlen(q); /* an unterminated tag ends the list */
            return false;
        }
        if (end == NULL) {
            q += strcspn(q, ","); /* not an entity tag: the next element */
            continue;
        }
        *ret_tag = q;
        *ret_len = (size_t)(end - q + 1);
        *ret_weak = weak;
        *p = end + 1;
        return true;
    }
}

bool etag_list_matches(const char *value, const char *etag, bool weak_ok)
{
    size_t elen = strlen(etag), len;
    const char *p = value, *tag;
    bool weak;

    if (http_value_is(p, "*"))
        return true;
    while (etag_list_next(&p, &tag, &len, &weak))
        if ((!weak || weak_ok) && len == elen && memcmp(tag, etag, elen) == 0)
            return true;
    return false;
}

unsigned range_decide(const struct range_conditions *c, const char *etag, int64_t mtime,
                      uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *range = c->range;
    uint64_t a = 0, b = size > 0 ? size - 1 : 0;
    char date[32];

    if (c->if_none_match != NULL && etag_list_matches(c->if_none_match, etag, true))
        return 304;
    if (c->if_range != NULL && range != NULL) {
        http_date(mtime, date);
        if (!http_value_is(c->if_range, etag) && !http_value_is(c->if_range, date))
            range = NULL;
    }
    switch (range_parse(range, size, &a, &b)) {
    case RANGE_UNSATISFIABLE:
        return 416;
    case RANGE_PARTIAL:
        *first = a;
        *last = b;
        return 206;
    case RANGE_FULL:
        break;
    }
    *first = 0;
    *last = size - 1;
    return 200;
}

/* The first and the last second an HTTP date can show: its year has four
 * digits (0000-01-01, proleptic Gregorian, and 9999-12-31). */
#define HTTP_DATE_MIN INT64_C(-62167219200)
#define HTTP_DATE_MAX INT64_C(253402300799)

void http_date(int64_t t, char *buf)
{
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)(t < HTTP_DATE_MIN ? HTTP_DATE_MIN : t > HTTP_DATE_MAX ? HTTP_DATE_MAX : t);
    struct tm tm;

    /* strftime's %Y does not pad years below 1000, so the fields are
     * formatted here; gmtime_r covers the whole range on 64-bit time_t. The
     * remainders only tell the compiler how wide each field is. */
    if (gmtime_r(&tt, &tm) == NULL)
        tm = (struct tm){.tm_mday = 1, .tm_year = 70, .tm_wday = 4};
    snprintf(buf, 30, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT", days[(unsigned)tm.tm_wday % 7],
             (unsigned)tm.tm_mday % 32, months[(unsigned)tm.tm_mon % 12],
             (unsigned)(tm.tm_year + 1900) % 10000, (unsigned)tm.tm_hour % 24,
             (unsigned)tm.tm_min % 60, (unsigned)tm.tm_sec % 61);
}
