/* SPDX-License-Identifier: MIT */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "array.h"
#include "escape.h"
#include "file.h"
#include "reason.h"
#include "trust.h"
#include "version.h"

/* A directory entry that may become an image. */
struct candidate {
    char *name;
    char *bin_file;
    bool writing;             /* a writer has it open: not read */
    /* Loaded ahead by preload(), on several threads, within limits: */
    struct generation_limits limits;
    bool loaded;
    int load_error;           /* generation_load()'s result */
    struct generation *gen;   /* owned until refresh() takes it */
};

/* Threads that load images during a scan (at most; one per CPU). */
enum { LOAD_THREADS_MAX = 8 };

static void free_candidates(struct candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].bin_file);
        generation_unref(c[i].gen);
    }
    free(c);
}

static int compare_name_only(const void *pa, const void *pb)
{
    return strcmp(((const struct candidate *)pa)->name, ((const struct candidate *)pb)->name);
}

static int compare_candidates(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);

    if (c != 0)
        return c;
    /* "x.bin" sorts before "x.BIN": the exact suffix wins a tie. */
    return strcmp(b->bin_file, a->bin_file);
}

/* Lists the NAME.bin entries of the directory (only those of @only, if not
 * NULL), sorted by name, the preferred spelling of a name first. A name that
 * is not UTF-8 or holds control characters is reported to @cat and left out:
 * it would forge lines of the listing or the log, or break the JSON. */
static int read_candidates(struct catalog *cat, int dirfd, const char *only,
                           struct candidate **ret, size_t *ret_n)
{
    struct candidate *c = NULL;
    size_t n = 0, cap = 0, only_len = only ? strlen(only) : 0;
    struct dirent *de;
    DIR *d;
    int fd, r = 0;

    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (d == NULL) {
        r = -errno;
        close(fd);
        return r;
    }
    for (;;) {
        size_t len;

        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            r = -errno;
            break;
        }
        len = strlen(de->d_name);
        /* Dot files are temporaries of editors and rsync: never served. */
        if (de->d_name[0] == '.' || len <= 4 || strcasecmp(de->d_name + len - 4, ".bin") != 0)
            continue;
        if (only != NULL && (len - 4 != only_len || memcmp(de->d_name, only, only_len) != 0))
            continue;
        if (!escape_name_ok(de->d_name)) {
            catalog_report(cat, &(struct catalog_change){
                                    .event = CATALOG_SKIPPED, .file = de->d_name,
                                    .reason = "name is not UTF-8 or has control characters"});
            continue;
        }
        if (array_grow(&c, &cap, n + 1, sizeof(*c)) < 0) {
            r = -ENOMEM;
            break;
        }
        c[n] = (struct candidate){.bin_file = strdup(de->d_name),
                                  .name = strndup(de->d_name, len - 4)};
        n++;
        if (c[n - 1].bin_file == NULL || c[n - 1].name == NULL) {
            r = -ENOMEM;
            break;
        }
    }
    closedir(d);
    if (r < 0) {
        free_candidates(c, n);
        return r;
    }
    if (n > 0)
        qsort(c, n, sizeof(*c), compare_candidates);
    *ret = c;
    *ret_n = n;
    return 0;
}

/* Why @img has the default version, or NULL if it has its file's. */
static const char *version_reason(const struct image *img)
{
    if (img->version_source == VERSION_FILE_MISSING)
        return "missing";
    if (img->version_source == VERSION_FILE_INVALID)
        return reason_version(img->version_error);
    return NULL;
}

static void report_image(struct catalog *cat, enum catalog_event event, const struct image *img)
{
    catalog_report(cat, &(struct catalog_change){.event = event, .name = img->name, .img = img,
                                                 .version_problem = version_reason(img)});
}

static void report_file(struct catalog *cat, enum catalog_event event, const char *file,
                        const char *other, const char *reason)
{
    catalog_report(cat, &(struct catalog_change){
                            .event = event, .file = file, .other = other, .reason = reason});
}

static void report_removed(struct catalog *cat, const char *name)
{
    catalog_report(cat, &(struct catalog_change){.event = CATALOG_REMOVED, .name = name});
}

/* True when @old (NULL: none) is served from the files @bin_file and its
 * NAME.sig are now: nothing to read again. */
static bool same_file(const struct image *old, int dirfd, const char *bin_file)
{
    struct file_id id, sig;

    if (old == NULL || strcmp(old->bin_file, bin_file) != 0 ||
        file_id_read(dirfd, bin_file, &id) < 0 || !file_id_equal(&id, &old->bin_id))
        return false;
    generation_sig_id(dirfd, bin_file, &sig);
    return file_id_equal(&sig, &old->sig_id);
}

/* Publishes @img (consumed) as @name unless the catalog's trust refuses it:
 * then it is told why, and what was served stays. */
static int publish(struct catalog *cat, const char *name, struct image *img)
{
    struct image *old = catalog_current(cat, name);
    char buf[128], sig[NAME_MAX + 1];
    const char *why, *file;

    why = trust_check(catalog_trust(cat), img, buf, sizeof(buf), sig, &file);
    if (why != NULL) {
        catalog_report(cat, &(struct catalog_change){.event = CATALOG_SKIPPED, .name = name,
                                                     .img = old, .file = file, .reason = why});
        image_unref(img);
        return 0;
    }
    if (old == NULL)
        report_image(cat, CATALOG_ADDED, img);
    else if (old->gen != img->gen)
        report_image(cat, CATALOG_REPLACED, img);
    else if (old->version != img->version || old->version_source != img->version_source)
        report_image(cat, CATALOG_VERSION, img);
    /* Otherwise touched, same bytes: only the file identity is new. */
    return catalog_set(cat, name, img);
}

/* True when candidate @i is another spelling of the name before it (the
 * preferred spelling sorts first and is the one used). */
static bool other_spelling(const struct candidate *cand, size_t i)
{
    return i > 0 && strcmp(cand[i - 1].name, cand[i].name) == 0;
}

/* Loads @bin_file for @name into @ret, or takes what preload() loaded for
 * it as @pre. Tells why not and returns the error (then the state served
 * stays, unless the file is gone: -ENOENT). */
static int load(struct catalog *cat, int dirfd, const char *name, const char *bin_file,
                struct candidate *pre, struct generation **ret)
{
    struct generation_limits lim;
    struct file_id id;
    char buf[192];
    int r = -ENOBUFS;

    if (pre != NULL && pre->loaded) {
        r = pre->load_error;
        lim = pre->limits;
        *ret = pre->gen;
        pre->gen = NULL;
    }
    /* Loaded ahead within a share of the room, or not at all: on its own now. */
    if (r == -ENOBUFS) {
        catalog_load_limits(cat, name, &lim);
        r = generation_load(dirfd, bin_file, &lim, ret);
    }
    if (r == 0 || r == -ENOMEM)
        return r;
    if (r == -EAGAIN) {
        catalog_report(cat, &(struct catalog_change){
                                .event = CATALOG_UNSETTLED, .name = name, .file = bin_file});
        return r;
    }
    if (file_id_read(dirfd, bin_file, &id) < 0)
        id.size = 0;
    catalog_report(cat, &(struct catalog_change){
                            .event = CATALOG_SKIPPED,
                            .name = name,
                            .img = catalog_current(cat, name),
                            .file = bin_file,
                            .reason = reason_load(r, &lim, (uint64_t)id.size, buf, sizeof(buf))});
    return r;
}

/* Brings @name up to date with the file @bin_file (NULL: there is none),
 * using the generation @pre loaded ahead, if it is not NULL and was loaded. */
static int refresh(struct catalog *cat, int dirfd, const char *name, const char *bin_file,
                   struct candidate *pre)
{
    struct image *old = catalog_current(cat, name), *img = NULL;
    struct generation *gen = NULL, *held;
    bool preloaded = pre != NULL && pre->loaded; /* then known not to be the same file */
    int r;

    if (bin_file == NULL) {
        if (old == NULL)
            return 0;
        report_removed(cat, name);
        return catalog_set(cat, name, NULL);
    }
    if (!preloaded && same_file(old, dirfd, bin_file)) {
        /* Same file: at most the version changed, and nothing is re-read. */
        if (!image_version_changed(old, dirfd))
            return 0;
        r = image_make(name, bin_file, old->gen, &old->bin_id, &old->sig_id, dirfd, &img);
    } else {
        r = load(cat, dirfd, name, bin_file, pre, &gen);
        /* Only a file gone ends the name; an empty, unreadable or too large
         * one keeps what is served (an in-place rewrite is empty for a
         * moment); changing, not fitting now, or emptied, it is retried. */
        if (r == -ENOENT)
            return refresh(cat, dirfd, name, NULL, NULL);
        if (r == -EAGAIN || r == -ENOMEM || r == -ENOBUFS || (r == -ENODATA && old != NULL))
            return r;
        if (r < 0)
            return 0;
        held = catalog_held(cat, name, gen);
        r = image_make(name, bin_file, held != NULL ? held : gen, &gen->file, &gen->sig_file,
                       dirfd, &img);
        generation_unref(gen);
    }
    return r < 0 ? r : publish(cat, name, img);
}

/* Empties the catalog: the directory is gone. */
static void clear(struct catalog *cat)
{
    struct catalog_item *items;
    int n = catalog_list(cat, &items);

    for (int i = n; i-- > 0;) {
        report_removed(cat, items[i].img->name);
        if (catalog_set(cat, items[i].img->name, NULL) < 0)
            break;
    }
    if (n >= 0)
        catalog_release(items, (size_t)n);
}
/* Shared by the threads of one preload(). */
struct load_queue {
    int dirfd;
    struct candidate **todo;
    size_t n;
    atomic_size_t next;
};

static void *load_worker(void *arg)
{
    struct load_queue *q = arg;
    size_t i;

    while ((i = atomic_fetch_add(&q->next, 1)) < q->n) {
        struct candidate *c = q->todo[i];

        c->load_error = generation_load(q->dirfd, c->bin_file, &c->limits, &c->gen);
        c->loaded = true;
    }
    return NULL;
}

/* Loads, on up to one thread per CPU, the candidates a scan will read (new
 * names, and files that are not the ones served): reading and indexing is
 * nearly all of a start-up, and images are independent. Everything else,
 * the catalog included, stays with the calling thread; refresh() uses what
 * was loaded, and loads what was not itself. */
static void preload(struct catalog *cat, int dirfd, struct candidate *cand, size_t ncand)
{
    struct load_queue q = {.dirfd = dirfd};
    pthread_t threads[LOAD_THREADS_MAX];
    size_t nthreads = 0;
    uint64_t taken = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    /* With one CPU the calling thread loads them all in refresh(). */
    if (cpus < 2 || ncand < 2)
        return;
    q.todo = calloc(ncand, sizeof(*q.todo));
    if (q.todo == NULL)
        return;
    for (size_t i = 0; i < ncand; i++) {
        struct candidate *c;
        struct file_id id;
        uint64_t need;

        if (other_spelling(cand, i) || cand[i].writing ||
            same_file(catalog_current(cat, cand[i].name), dirfd, cand[i].bin_file))
            continue; /* ignored, or served already: refresh() checks the version */
        /* The loads share the room: each gets what the ones before left. */
        c = &cand[i];
        catalog_load_limits(cat, c->name, &c->limits);
        c->limits.room = c->limits.room > taken ? c->limits.room - taken : 0;
        need = file_id_read(dirfd, c->bin_file, &id) == 0 ? generation_footprint((uint64_t)id.size)
                                                          : 0;
        if (need <= c->limits.room)
            taken += need;
        q.todo[q.n++] = c;
    }
    atomic_init(&q.next, 0);
    /* With one image left, refresh() loads it too. */
    while (q.n > 1 && nthreads < (size_t)cpus && nthreads < LOAD_THREADS_MAX &&
           nthreads < q.n &&
           pthread_create(&threads[nthreads], NULL, load_worker, &q) == 0)
        nthreads++;
    for (size_t t = 0; t < nthreads; t++)
        pthread_join(threads[t], NULL);
    free(q.todo);
}

static bool writing(const struct scan_hooks *hooks, const char *name)
{
    return hooks != NULL && hooks->writing != NULL && hooks->writing(hooks->ctx, name);
}

static int open_dir(struct catalog *cat)
{
    int fd = open(catalog_dir(cat), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    return fd < 0 ? -errno : fd;
}

int scan_all(struct catalog *cat, const struct scan_hooks *hooks)
{
    struct candidate *cand = NULL;
    struct catalog_item *items = NULL;
    size_t ncand = 0;
    int nitems = 0, dirfd, r;

    dirfd = open_dir(cat);
    if (dirfd == -ENOENT || dirfd == -ENOTDIR) {
        clear(cat);
        return dirfd;
    }
    if (dirfd < 0)
        return dirfd;
    r = read_candidates(cat, dirfd, NULL, &cand, &ncand);
    if (r < 0)
        goto out;
    nitems = r = catalog_list(cat, &items);
    if (r < 0)
        goto out;
    /* Names served now but no longer in the directory. */
    for (int i = 0; i < nitems; i++) {
        struct candidate key = {.name = items[i].img->name};

        if (ncand == 0 || bsearch(&key, cand, ncand, sizeof(*cand), compare_name_only) == NULL)
            refresh(cat, dirfd, key.name, NULL, NULL);
    }
    for (size_t i = 0; i < ncand; i++)
        cand[i].writing = writing(hooks, cand[i].name);
    preload(cat, dirfd, cand, ncand);
    for (size_t i = 0; i < ncand; i++) {
        if (other_spelling(cand, i)) {
            report_file(cat, CATALOG_DUPLICATE, cand[i].bin_file, cand[i - 1].bin_file, NULL);
            continue;
        }
        /* Half written: its writer's close brings the final state. */
        if (cand[i].writing) {
            catalog_report(cat, &(struct catalog_change){.event = CATALOG_WRITING,
                                                         .name = cand[i].name,
                                                         .file = cand[i].bin_file});
            continue;
        }
        r = refresh(cat, dirfd, cand[i].name, cand[i].bin_file, &cand[i]);
        if (r == -ENOMEM)
            goto out;
        if ((r == -EAGAIN || r == -ENOBUFS || r == -ENODATA) && hooks != NULL &&
            hooks->retry != NULL)
            hooks->retry(hooks->ctx, cand[i].name, r);
    }
    r = (int)catalog_count(cat);
out:
    if (items != NULL)
        catalog_release(items, (size_t)nitems);
    free_candidates(cand, ncand);
    close(dirfd);
    return r;
}

int scan_reload(struct catalog *cat, const char *name)
{
    struct candidate *cand = NULL;
    size_t ncand = 0;
    int dirfd, r;

    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL)
        return 0;
    dirfd = open_dir(cat);
    if (dirfd < 0)
        return dirfd;
    r = read_candidates(cat, dirfd, name, &cand, &ncand);
    if (r == 0)
        r = refresh(cat, dirfd, name, ncand > 0 ? cand[0].bin_file : NULL, NULL);
    for (size_t i = 1; (r == 0 || r == -ENODATA) && i < ncand; i++)
        report_file(cat, CATALOG_DUPLICATE, cand[i].bin_file, cand[0].bin_file, NULL);
    free_candidates(cand, ncand);
    close(dirfd);
    return r;
}
