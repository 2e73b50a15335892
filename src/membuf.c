/* SPDX-License-Identifier: MIT */
#include "membuf.h"

#include <errno.h>
#include <stdlib.h>

int membuf_render(int (*write)(FILE *f, const void *cls), const void *cls, char **ret,
                  size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int r;

    if (f == NULL)
        return -ENOMEM;
    r = write(f, cls);
    if (r == 0 && ferror(f))
        r = -ENOMEM;
    /* fclose() writes buf and len, also after an error. */
    if (fclose(f) != 0 && r == 0)
        r = -ENOMEM;
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}
