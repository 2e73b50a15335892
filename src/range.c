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
        if (b == 0)
            return RANGE_UNSATISFIABLE;
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

bool etag_list_matches(const char *value, const char *etag, bool weak_ok)
{
    size_t elen = strlen(etag);
    const char *p = skip_space(value);

    if (strcmp(p, "*") == 0)
        return true;
    while (*p != '\0') {
        bool weak = false;
        const char *end;

        p = skip_space(p);
        if (strncmp(p, "W/", 2) == 0) {
            weak = true;
            p += 2;
        }
        if (*p != '"')
            break;
        end = strchr(p + 1, '"');
        if (end == NULL)
            break;
        if ((!weak || weak_ok) && (size_t)(end - p + 1) == elen && memcmp(p, etag, elen) == 0)
            return true;
        p = skip_space(end + 1);
        if (*p == ',')
            p++;
    }
    return false;
}

unsigned range_decide(const struct range_conditions *c, const char *etag, int64_t mtime,
                      uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *range = c->range;
    uint64_t a = 0, b = size - 1;
    char date[32];

    if (c->if_none_match != NULL && etag_list_matches(c->if_none_match, etag, true))
        return 304;
    if (c->if_range != NULL && range != NULL) {
        http_date(mtime, date);
        if (strcmp(c->if_range, etag) != 0 && strcmp(c->if_range, date) != 0)
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

void http_date(int64_t t, char *buf)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 30, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        snprintf(buf, 30, "Thu, 01 Jan 1970 00:00:00 GMT");
}
