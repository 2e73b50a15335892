/* SPDX-License-Identifier: MIT */
/* Growing an array by doubling, the one way the daemon does it.
 *
 * The caller owns the array and its capacity; the helper only reallocates. */
#ifndef OTAD_ARRAY_H
#define OTAD_ARRAY_H

#include <stddef.h>

/* Makes the array at @items_ptr (the address of a pointer to elements of
 * @size bytes, NULL when empty) hold at least @need elements, doubling
 * *@cap from 8. Returns 0, or -ENOMEM if out of memory or if the size in
 * bytes would overflow; then the array and *@cap are unchanged. */
int array_grow(void *items_ptr, size_t *cap, size_t need, size_t size);

#endif
