/* SPDX-License-Identifier: MIT */
/* Fuzz target: the Range header, the entity-tag lists of If-Match,
 * If-None-Match and If-Range (the walk serve.c's If-Match uses too), the
 * status decision of an image request, and the HTTP date. The input is
 * "VALUE\nETAG" with the image size taken from the first four bytes; VALUE
 * serves as every header at once. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t first = 0, last = 0, image;
    char *value, *etag, date[32];
    int64_t t = 0;

    if (size < 4)
        return 0;
    image = (uint64_t)data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16 |
            (uint64_t)data[3] << 24;
    memcpy(&t, data, size < sizeof(t) ? size : sizeof(t));
    value = strndup((const char *)data + 4, size - 4); /* a header value has no NUL */
    if (value == NULL)
        abort();
    etag = strchr(value, '\n');
    if (etag != NULL)
        *etag++ = '\0';
    switch (range_parse(value, image, &first, &last)) {
    case RANGE_PARTIAL: /* never for an empty image */
        if (first > last || last >= image)
            abort();
        break;
    case RANGE_FULL:
    case RANGE_UNSATISFIABLE:
        break;
    default:
        abort();
    }
    {
        const char *p = value, *tag;
        size_t len, n = 0;
        bool weak;
        unsigned status;

        while (etag_list_next(&p, &tag, &len, &weak)) {
            if (tag < value || tag + len > value + strlen(value) || len < 2 || tag[0] != '"' ||
                tag[len - 1] != '"' || ++n > size)
                abort(); /* a quoted tag inside the value; the walk ends */
        }
        status = range_decide(&(struct range_conditions){.range = value, .if_range = value,
                                                         .if_none_match = value},
                              "\"1-1\"", t, image, &first, &last);
        if (status != 200 && status != 206 && status != 304 && status != 416)
            abort();
        if ((status == 200 || status == 206) && image > 0 && (first > last || last >= image))
            abort();
    }
    (void)etag_list_matches(value, etag != NULL ? etag : "\"1-1\"", true);
    (void)etag_list_matches(value, etag != NULL ? etag : "\"1-1\"", false);
    memset(date, 'x', sizeof(date));
    http_date(t, date);
    if (memchr(date, '\0', 30) == NULL)
        abort(); /* the date fits its 30 bytes */
    free(value);
    return 0;
}
