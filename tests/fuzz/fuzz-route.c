/* SPDX-License-Identifier: MIT */
/* Fuzz target: request path routing. */
#include <stdint.h>
#include <stdlib.h>

#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = (const char *)data;
    struct route r;

    route_parse(path, size, &r);
    switch (r.kind) {
    case ROUTE_NONE:
    case ROUTE_LISTING:
        break;
    case ROUTE_HEADER:
    case ROUTE_BLOCK:
    case ROUTE_IMAGE:
    case ROUTE_MANIFEST:
    case ROUTE_REPORT:
        /* The name is a non-empty piece of the path. */
        if (r.name_len == 0 || r.name < path || r.name + r.name_len > path + size)
            abort();
        break;
    default:
        abort();
    }
    return 0;
}
