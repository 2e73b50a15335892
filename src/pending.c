#include "pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct entry {
    char *name;
    bool writing;       /* modified since the last close: not due */
    uint64_t due_ms;
};

struct pending {
    unsigned settle_ms;
    struct entry *e;
    size_t n, cap;
    bool full;          /* a full rescan waits */
    uint64_t full_due_ms;
};

int pending_new(unsigned settle_ms, struct pending **ret)
{
    struct pending *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -ENOMEM;
    p->settle_ms = settle_ms;
    *ret = p;
    return 0;
}

static void clear(struct pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->e[i].name);
    p->n = 0;
}

void pending_free(struct pending *p)
{
    if (p == NULL)
        return;
    clear(p);
    free(p->e);
    free(p);
}

/* The firmware NAME a file belongs to, or 0 if none: length of the prefix. */
static size_t firmware_name(const char *file)
{
    size_t len = strlen(file);

    if (file[0] == '.' || len <= 4)
        return 0;
    if (strcasecmp(file + len - 4, ".bin") == 0 || strcmp(file + len - 4, ".txt") == 0)
        return len - 4;
    return 0;
}

static struct entry *entry_for(struct pending *p, const char *name, size_t len)
{
    struct entry *grown;

    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->e[i].name) == len && memcmp(p->e[i].name, name, len) == 0)
            return &p->e[i];
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;

        grown = realloc(p->e, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        p->e = grown;
        p->cap = cap;
    }
    p->e[p->n].name = strndup(name, len);
    if (p->e[p->n].name == NULL)
        return NULL;
    p->e[p->n].writing = false;
    p->e[p->n].due_ms = UINT64_MAX;
    return &p->e[p->n++];
}

int pending_note(struct pending *p, enum watch_kind kind, const char *file, uint64_t now_ms)
{
    struct entry *e;
    size_t len;

    if (kind == WATCH_DIR || kind == WATCH_OVERFLOW) {
        p->full = true;
        p->full_due_ms = now_ms + p->settle_ms;
        return 0;
    }
    len = firmware_name(file);
    if (len == 0)
        return 0;
    e = entry_for(p, file, len);
    if (e == NULL)
        return -ENOMEM;
    if (kind == WATCH_WRITING) {
        e->writing = true;
        e->due_ms = UINT64_MAX;
    } else {
        e->writing = false;
        e->due_ms = now_ms + p->settle_ms;
    }
    return 0;
}

long pending_timeout(const struct pending *p, uint64_t now_ms)
{
    uint64_t next = p->full ? p->full_due_ms : UINT64_MAX;

    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].due_ms < next)
            next = p->e[i].due_ms;
    if (next == UINT64_MAX)
        return -1;
    return next <= now_ms ? 0 : (long)(next - now_ms);
}

unsigned pending_run(struct pending *p, uint64_t now_ms,
                     void (*fn)(void *ctx, const char *name), void *ctx)
{
    unsigned calls = 0;

    if (p->full && p->full_due_ms <= now_ms) {
        /* The rescan reads every name; names still being written stay
         * pending so their final state is loaded after their close. */
        size_t kept = 0;

        p->full = false;
        for (size_t i = 0; i < p->n; i++) {
            if (p->e[i].writing)
                p->e[kept++] = p->e[i];
            else
                free(p->e[i].name);
        }
        p->n = kept;
        fn(ctx, NULL);
        calls++;
    }
    for (size_t i = 0; i < p->n;) {
        if (p->e[i].writing || p->e[i].due_ms > now_ms) {
            i++;
            continue;
        }
        char *name = p->e[i].name;

        p->e[i] = p->e[--p->n];
        fn(ctx, name);
        free(name);
        calls++;
    }
    return calls;
}

bool pending_writing(const struct pending *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].writing && strcmp(p->e[i].name, name) == 0)
            return true;
    return false;
}
