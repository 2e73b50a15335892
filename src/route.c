/* SPDX-License-Identifier: MIT */
#include "route.h"

#include <stdbool.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* True when @s (@len bytes) equals the NUL-terminated @lit. */
static bool equals(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static bool parse_index(const char *s, size_t len, uint64_t *ret)
{
    uint64_t v = 0;
    size_t i = 0;

    if (len == 0)
        return false;
    for (size_t k = 0; k < len; k++)
        if (!is_digit(s[k]))
            return false;
    while (i < len - 1 && s[i] == '0')
        i++;
    /* uint32 block counts have at most 10 digits; anything longer is out of
     * range for every image, however many digits it has. */
    if (len - i > 10) {
        *ret = ROUTE_INDEX_HUGE;
        return true;
    }
    for (; i < len; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    *ret = v;
    return true;
}

void route_parse(const char *path, size_t len, struct route *ret)
{
    const char *name, *rest, *slash, *end = path + len;

    memset(ret, 0, sizeof(*ret));
    ret->kind = ROUTE_NONE;
    if (len == 0 || path[0] != '/')
        return;
    if (equals(path, len, "/firmwares")) {
        ret->kind = ROUTE_LISTING;
        return;
    }
    /* File names cannot contain '/', so the first one ends NAME. A NUL from
     * a decoded %00 can never match a name either: names come from readdir. */
    name = path + 1;
    slash = memchr(name, '/', (size_t)(end - name));
    if (slash == NULL || slash == name || memchr(name, '\0', (size_t)(slash - name)))
        return;
    rest = slash + 1;
    if (equals(name, (size_t)(slash - name), "firmware") && (size_t)(end - rest) > 4 &&
        memcmp(end - 4, ".bin", 4) == 0 && memchr(rest, '/', (size_t)(end - rest)) == NULL) {
        ret->kind = ROUTE_IMAGE;
        ret->name = rest;
        ret->name_len = (size_t)(end - rest) - 4;
        return;
    }
    ret->name = name;
    ret->name_len = (size_t)(slash - name);
    if (equals(rest, (size_t)(end - rest), "image")) {
        ret->kind = ROUTE_IMAGE;
        return;
    }
    if (equals(rest, (size_t)(end - rest), "header")) {
        ret->kind = ROUTE_HEADER;
        return;
    }
    if (equals(rest, (size_t)(end - rest), "manifest")) {
        ret->kind = ROUTE_MANIFEST;
        return;
    }
    if (equals(rest, (size_t)(end - rest), "report")) {
        ret->kind = ROUTE_REPORT;
        return;
    }
    if ((size_t)(end - rest) > 6 && memcmp(rest, "block/", 6) == 0 &&
        parse_index(rest + 6, (size_t)(end - rest - 6), &ret->index)) {
        ret->kind = ROUTE_BLOCK;
        return;
    }
    ret->name = NULL;
    ret->name_len = 0;
}

const char *route_kind_name(enum route_kind kind)
{
    static const char *const names[ROUTE_KINDS] = {
        [ROUTE_NONE] = "none",     [ROUTE_LISTING] = "listing",
        [ROUTE_HEADER] = "header", [ROUTE_BLOCK] = "block",
        [ROUTE_IMAGE] = "image",   [ROUTE_MANIFEST] = "manifest",
        [ROUTE_REPORT] = "report",
    };

    return (unsigned)kind < ROUTE_KINDS ? names[kind] : "none";
}
