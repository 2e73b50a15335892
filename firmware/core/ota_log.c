/* SPDX-License-Identifier: MIT */
#include "ota_log.h"

#include <stdarg.h>

#include "ota_fmt.h"
#include "ota_port.h"

#define LINE_MAX 120

struct out {
    char buf[LINE_MAX + 1];
    unsigned len;
};

static void put(struct out *o, char c)
{
    if (o->len < LINE_MAX)
        o->buf[o->len++] = c;
}

static void put_dec(struct out *o, uint32_t v)
{
    o->len += ota_fmt_dec(o->buf + o->len, LINE_MAX - o->len, v);
}

static void put_hex(struct out *o, uint32_t v)
{
    for (int shift = 28; shift >= 0; shift -= 4)
        put(o, "0123456789abcdef"[(v >> shift) & 15]);
}

void ota_logf(const char *fmt, ...)
{
    struct out o = {.len = 0};
    va_list ap;

    va_start(ap, fmt);
    for (; *fmt != '\0'; fmt++) {
        if (*fmt != '%' || fmt[1] == '\0') {
            put(&o, *fmt);
            continue;
        }
        switch (*++fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);

            while (s != 0 && *s != '\0')
                put(&o, *s++);
            break;
        }
        case 'u':
            put_dec(&o, va_arg(ap, uint32_t));
            break;
        case 'x':
            put_hex(&o, va_arg(ap, uint32_t));
            break;
        case 'd': {
            int32_t v = va_arg(ap, int32_t);

            if (v < 0) {
                put(&o, '-');
                put_dec(&o, (uint32_t)0 - (uint32_t)v);
            } else {
                put_dec(&o, (uint32_t)v);
            }
            break;
        }
        default:
            put(&o, *fmt);
            break;
        }
    }
    va_end(ap);
    o.buf[o.len] = '\0';
    ota_port_log(o.buf);
}
