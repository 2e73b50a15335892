/* SPDX-License-Identifier: MIT */
#include "page.h"

#include <string.h>

const struct page_asset *page_find(const char *url)
{
    for (const struct page_asset *a = page_assets; a->path != NULL; a++)
        if (strcmp(a->path, url) == 0)
            return a;
    return NULL;
}
