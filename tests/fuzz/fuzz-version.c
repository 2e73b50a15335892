/* SPDX-License-Identifier: MIT */
/* Fuzz target: the version file parser. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t v = 0;
    int r = version_parse((const char *)data, size, &v);

    if (r != 0 && r != -EINVAL && r != -ERANGE)
        abort();
    if (r == 0 && size == 0)
        abort(); /* empty is never a version */
    return 0;
}
