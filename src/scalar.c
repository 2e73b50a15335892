/* SPDX-License-Identifier: MIT */
#include "scalar.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int scalar_uint(const char *s, uint64_t *ret)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        if (v > 10000000000000ull) /* far beyond every range: stop before overflow */
            return -ERANGE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *ret = v;
    return 0;
}

int scalar_size(const char *s, uint64_t *ret)
{
    size_t len = strlen(s);
    char digits[32];
    int shift = 0;
    uint64_t v;
    int r;

    if (len == 0 || len >= sizeof(digits))
        return -EINVAL;
    memcpy(digits, s, len + 1);
    switch (digits[len - 1]) {
    case 'G': case 'g': shift = 30; break;
    case 'M': case 'm': shift = 20; break;
    case 'K': case 'k': shift = 10; break;
    default: break;
    }
    if (shift > 0)
        digits[len - 1] = '\0';
    r = scalar_uint(digits, &v);
    if (r < 0)
        return r;
    if (v > (UINT64_MAX >> shift))
        return -ERANGE;
    *ret = v << shift;
    return 0;
}

int scalar_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

const char *scalar_size_text(uint64_t v, char *buf, size_t len)
{
    static const char units[] = "KMG";
    int i = -1;

    while (i < 2 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        i++;
    }
    if (i >= 0)
        snprintf(buf, len, "%llu%c", (unsigned long long)v, units[i]);
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

