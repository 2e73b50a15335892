/* SPDX-License-Identifier: MIT */
/* Fuzz target: the inotify event parser, on arbitrary record streams (wrong
 * lengths, unknown descriptors, names without a terminator). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(void *ctx, enum watch_kind kind, const char *name)
{
    size_t *count = ctx;

    if ((kind == WATCH_DIR || kind == WATCH_OVERFLOW) != (name == NULL))
        abort();
    if (name != NULL)
        (void)strlen(name); /* terminated, inside its record */
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct watch *w;
    size_t count = 0;
    void *copy;

    /* One real watch for the run (opening one per input is a hundred times
     * slower): the kernel gives its first watches descriptors 1 and 2 (the
     * parent, then the directory). */
    if (w == NULL && watch_open("/tmp", &w) < 0)
        abort();
    /* The records are read into aligned memory, as read(2) would. */
    copy = malloc(size + 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    watch_parse(w, copy, size, on_event, &count);
    free(copy);
    /* A forged IN_IGNORED made the parser forget the directory's watch; the
     * kernel still has it, so re-adding gives descriptor 2 again and the
     * next input starts from the same state. */
    if (watch_rearm(w) < 0)
        abort();
    return 0;
}
