/* Fuzz target: the Range, If-Range/If-None-Match/If-Match entity-tag lists
 * and the HTTP date. The input is "VALUE\nETAG" with the image size taken
 * from the first four bytes. */
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
    (void)etag_list_matches(value, etag != NULL ? etag : "\"1-1\"", true);
    (void)etag_list_matches(value, etag != NULL ? etag : "\"1-1\"", false);
    memset(date, 'x', sizeof(date));
    http_date(t, date);
    if (memchr(date, '\0', 30) == NULL)
        abort(); /* the date fits its 30 bytes */
    free(value);
    return 0;
}
