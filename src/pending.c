/* SPDX-License-Identifier: MIT */
#include "pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"

struct entry {
    char *name;
    unsigned opens;     /* opened and not closed yet, as far as events tell */
    bool writing;       /* modified while open, not closed by a writer yet */
    /* UINT64_MAX: not due. A writing entry is due only once events were
     * lost: by then its writer is taken as gone, if nothing was heard. */
    bool retrying;      /* due again by pending_retry(), no event since */
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
    /* The manifest settles with the image: one unit of three files. */
    if (strcasecmp(file + len - 4, ".bin") == 0 || strcmp(file + len - 4, ".txt") == 0 ||
        strcmp(file + len - 4, ".sig") == 0)
        return len - 4;
    return 0;
}

/* The entry of the @len bytes of @name, or NULL. */
static struct entry *find_entry(const struct pending *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->e[i].name) == len && memcmp(p->e[i].name, name, len) == 0)
            return &p->e[i];
    return NULL;
}

static struct entry *entry_for(struct pending *p, const char *name, size_t len)
{
    struct entry *e = find_entry(p, name, len);

    if (e != NULL)
        return e;
    if (array_grow(&p->e, &p->cap, p->n + 1, sizeof(*p->e)) < 0)
        return NULL;
    p->e[p->n].name = strndup(name, len);
    if (p->e[p->n].name == NULL)
        return NULL;
    p->e[p->n].opens = 0;
    p->e[p->n].writing = false;
    p->e[p->n].retrying = false;
    p->e[p->n].due_ms = UINT64_MAX;
    return &p->e[p->n++];
}

/* Forgets an entry that neither waits nor watches a writer. */
static void forget_idle(struct pending *p, struct entry *e)
{
    if (e->opens > 0 || e->writing || e->retrying || e->due_ms != UINT64_MAX)
        return;
    free(e->name);
    *e = p->e[--p->n];
}

int pending_note(struct pending *p, enum watch_kind kind, const char *file, uint64_t now_ms)
{
    struct entry *e;
    size_t len;

    if (kind == WATCH_DIR || kind == WATCH_OVERFLOW) {
        p->full = true;
        p->full_due_ms = now_ms + p->settle_ms;
        /* Lost events: open counts are unknown, and a writer's close may
         * have been lost too. */
        for (size_t i = 0; kind == WATCH_OVERFLOW && i < p->n; i++) {
            p->e[i].opens = 0;
            if (p->e[i].writing)
                p->e[i].due_ms = now_ms + PENDING_LOST_WRITER_MS;
        }
        return 0;
    }
    len = firmware_name(file);
    if (len == 0)
        return 0;
    e = entry_for(p, file, len);
    if (e == NULL)
        return -ENOMEM;
    if (kind != WATCH_OPENED && kind != WATCH_CLOSED)
        e->retrying = false; /* the file changed: a new state to load */
    switch (kind) {
    case WATCH_OPENED:
        e->opens++;
        break;
    case WATCH_CLOSED:
        if (e->opens > 0)
            e->opens--;
        /* The last one holding the file open did not write: the
         * modification seen meanwhile was made by path (truncate(2) while
         * a reader had the file open) and is complete now. */
        if (e->opens == 0 && e->writing) {
            e->writing = false;
            e->due_ms = now_ms + p->settle_ms;
        }
        break;
    case WATCH_MODIFIED:
        if (e->opens > 0) {
            e->writing = true;
            e->due_ms = UINT64_MAX;
            break;
        }
        e->writing = false;
        e->due_ms = now_ms + p->settle_ms;
        break;
    case WATCH_WRITTEN:
        if (e->opens > 0)
            e->opens--;
        e->writing = false;
        e->due_ms = now_ms + p->settle_ms;
        break;
    default: /* WATCH_CHANGED */
        e->writing = false;
        e->due_ms = now_ms + p->settle_ms;
        break;
    }
    forget_idle(p, e);
    return 0;
}

int pending_retry(struct pending *p, const char *name, uint64_t now_ms, unsigned min_ms)
{
    struct entry *e = entry_for(p, name, strlen(name));
    uint64_t due_ms = now_ms + (p->settle_ms > min_ms ? p->settle_ms : min_ms);

    if (e == NULL)
        return -ENOMEM;
    /* A writer at work: its close makes the name due. */
    if (!e->writing && due_ms < e->due_ms)
        e->due_ms = due_ms;
    e->retrying = !e->writing;
    return 0;
}

bool pending_retrying(const struct pending *p, const char *name)
{
    const struct entry *e = find_entry(p, name, strlen(name));

    return e != NULL && e->retrying;
}

bool pending_writing(const struct pending *p, const char *name)
{
    const struct entry *e = find_entry(p, name, strlen(name));

    return e != NULL && e->writing;
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
        /* The rescan reads every name, as a fresh start would; names still
         * being written stay so that their final state is loaded after the
         * writer's close. */
        size_t kept = 0;

        p->full = false;
        for (size_t i = 0; i < p->n; i++) {
            if (p->e[i].writing || p->e[i].opens > 0) {
                if (!p->e[i].writing)
                    p->e[i].due_ms = UINT64_MAX;
                p->e[kept++] = p->e[i];
            } else {
                free(p->e[i].name);
            }
        }
        p->n = kept;
        fn(ctx, NULL);
        calls++;
    }
    for (size_t i = 0; i < p->n;) {
        struct entry *e;
        char *name;

        if (p->e[i].due_ms > now_ms) {
            i++;
            continue;
        }
        p->e[i].due_ms = UINT64_MAX;
        p->e[i].writing = false; /* due while writing: its writer is gone */
        name = strdup(p->e[i].name);
        if (name == NULL) {
            p->e[i].retrying = false;
            forget_idle(p, &p->e[i]);
            continue;
        }
        /* The entry stays during the call, which may ask for a retry (and
         * asks whether it is one) or note events; it stays after it while
         * someone holds the file open: its count is needed to read the next
         * modification right. */
        fn(ctx, name);
        calls++;
        e = find_entry(p, name, strlen(name));
        free(name);
        if (e != NULL) {
            bool at_i = e == &p->e[i];
            size_t before = p->n;

            if (e->due_ms == UINT64_MAX)
                e->retrying = false;
            forget_idle(p, e);
            if (at_i && p->n < before)
                continue; /* the last entry moved into slot i */
        }
        i++;
    }
    return calls;
}
