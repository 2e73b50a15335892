/* SPDX-License-Identifier: MIT */
#include "array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int array_grow(void *items_ptr, size_t *cap, size_t need, size_t size)
{
    size_t grown_cap = *cap ? *cap : 8;
    void *items, *grown;

    if (need <= *cap)
        return 0;
    while (grown_cap < need) {
        if (grown_cap > SIZE_MAX / 2)
            return -ENOMEM;
        grown_cap *= 2;
    }
    if (size != 0 && grown_cap > SIZE_MAX / size)
        return -ENOMEM;
    /* Copied, not cast: the pointer is of the caller's element type. */
    memcpy(&items, items_ptr, sizeof(items));
    grown = realloc(items, grown_cap * size);
    if (grown == NULL)
        return -ENOMEM;
    memcpy(items_ptr, &grown, sizeof(grown));
    *cap = grown_cap;
    return 0;
}
