/* SPDX-License-Identifier: MIT */
#include "ota_fmt.h"

uint32_t ota_fmt_dec(char *buf, uint32_t max, uint32_t v)
{
    char digits[OTA_FMT_DEC_MAX];
    uint32_t k = 0, n = 0;

    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (k > 0 && n < max)
        buf[n++] = digits[--k];
    return n;
}

void ota_fmt_hex(char *buf, const uint8_t *bytes, uint32_t n)
{
    static const char digit[] = "0123456789abcdef";

    for (uint32_t i = 0; i < n; i++) {
        *buf++ = digit[bytes[i] >> 4];
        *buf++ = digit[bytes[i] & 0xF];
    }
    *buf = '\0';
}
