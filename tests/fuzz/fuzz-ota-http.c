/* SPDX-License-Identifier: MIT */
/* Fuzz target: the bootloader's incremental HTTP response parser. The
 * first input byte sets the chunk size the bytes are fed in (1 to 64), so
 * that every split of a head and a body across reads is tried. */
#include <stdint.h>
#include <stdlib.h>

#include "ota_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t body[300];
    struct ota_http_parser p;
    uint32_t chunk, used;
    int r = 0;

    if (size < 1)
        return 0;
    chunk = (uint32_t)(data[0] % 64u) + 1u;
    data++;
    size--;
    ota_http_parser_init(&p, body, sizeof(body));
    while (size > 0 && r == 0) {
        uint32_t n = size < chunk ? (uint32_t)size : chunk;

        used = 0;
        r = ota_http_parser_feed(&p, data, n, &used);
        if (used > n || (r == 0 && used != n))
            abort(); /* it takes all it is given until the response ends */
        data += used;
        size -= used;
    }
    if (r == 1 && p.status == 200 && (p.body_len > sizeof(body) || p.body_len != p.content_length))
        abort();
    return 0;
}
