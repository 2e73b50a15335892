#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "version.h"

/* An older generation kept for the downloads that started with it. */
struct retained {
    char *name;
    struct generation *gen;   /* owned reference */
    uint64_t retired_ms;      /* monotonic */
};

struct catalog {
    char *dir;
    struct catalog_limits limits;
    pthread_rwlock_t lock;
    struct image **items;     /* current images, sorted by name; owned */
    size_t n, cap;
    struct retained *old;     /* retained generations, oldest first */
    size_t nold, cap_old;
    uint64_t memory;          /* map_len of current and retained generations */
    bool scanned;             /* the first scan logs images, later ones changes */
};

/* A directory entry that may become an image. */
struct candidate {
    char *name;
    char *bin_file;
    /* Loaded ahead by preload(), on several threads: */
    bool loaded;
    int load_error;           /* generation_load()'s result */
    struct generation *gen;   /* owned until refresh() takes it */
};

/* Threads that load images during a scan (at most; one per CPU). */
enum { LOAD_THREADS_MAX = 8 };

/* What a change did, for the log. */
enum change { CHANGE_NONE, CHANGE_ADDED, CHANGE_REPLACED, CHANGE_VERSION, CHANGE_REMOVED };

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int catalog_open(const char *dir, const struct catalog_limits *limits, struct catalog **ret)
{
    struct catalog *cat;
    int fd;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    cat = calloc(1, sizeof(*cat));
    if (cat == NULL)
        return -ENOMEM;
    cat->dir = strdup(dir);
    if (cat->dir == NULL) {
        free(cat);
        return -ENOMEM;
    }
    cat->limits = *limits;
    pthread_rwlock_init(&cat->lock, NULL);
    *ret = cat;
    return 0;
}

void catalog_close(struct catalog *cat)
{
    if (cat == NULL)
        return;
    for (size_t i = 0; i < cat->n; i++)
        image_unref(cat->items[i]);
    for (size_t i = 0; i < cat->nold; i++) {
        free(cat->old[i].name);
        generation_unref(cat->old[i].gen);
    }
    free(cat->items);
    free(cat->old);
    pthread_rwlock_destroy(&cat->lock);
    free(cat->dir);
    free(cat);
}

const char *catalog_dir(const struct catalog *cat)
{
    return cat->dir;
}

static int compare_name(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static bool name_is(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

/* Binary search; returns the index, or -(insertion point) - 1. */
static ssize_t find(struct image *const *items, size_t n, const char *name, size_t len)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_name(name, len, items[mid]->name);

        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -(ssize_t)lo - 1;
}

/* Drops retained generation @i; the caller holds the write lock and unrefs
 * the returned entry's contents after unlocking. */
static struct retained take_old(struct catalog *cat, size_t i)
{
    struct retained r = cat->old[i];

    memmove(&cat->old[i], &cat->old[i + 1], (cat->nold - i - 1) * sizeof(*cat->old));
    cat->nold--;
    cat->memory -= r.gen->map_len;
    return r;
}

static void log_dropped(struct retained *dropped, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        log_info("dropped generation %s of %s: %s", dropped[i].gen->etag, dropped[i].name, why);
        free(dropped[i].name);
        generation_unref(dropped[i].gen);
    }
}

/* Makes @img (one reference, consumed; NULL to remove) the current image of
 * @name. The generation it replaces is retained, then the oldest retained
 * generations are dropped while over max_memory. */
static int set_current(struct catalog *cat, const char *name, struct image *img)
{
    size_t len = strlen(name), ndropped = 0;
    struct retained *dropped = NULL;
    struct image *old = NULL;
    char *old_name = NULL;
    ssize_t i;
    int r = 0;

    if (cat->limits.retain_seconds > 0)
        old_name = strdup(name);
    pthread_rwlock_wrlock(&cat->lock);
    i = find(cat->items, cat->n, name, len);
    if (i < 0 && img != NULL && cat->n == cat->cap) {
        size_t cap = cat->cap ? cat->cap * 2 : 16;
        struct image **grown = realloc(cat->items, cap * sizeof(*grown));

        if (grown == NULL) {
            r = -ENOMEM;
            goto unlock;
        }
        cat->items = grown;
        cat->cap = cap;
    }
    if (i >= 0)
        old = cat->items[i];
    /* A retained generation becoming current again leaves the retained list. */
    for (size_t k = 0; img != NULL && k < cat->nold; k++) {
        if (cat->old[k].gen == img->gen) {
            struct retained back = take_old(cat, k);

            free(back.name);
            generation_unref(back.gen); /* img holds its own reference */
            break;
        }
    }
    if (old != NULL && (img == NULL || img->gen != old->gen)) {
        /* The downloads that started with the old bytes may finish them. */
        if (old_name != NULL && cat->nold == cat->cap_old) {
            size_t cap = cat->cap_old ? cat->cap_old * 2 : 16;
            struct retained *grown = realloc(cat->old, cap * sizeof(*grown));

            if (grown != NULL) {
                cat->old = grown;
                cat->cap_old = cap;
            }
        }
        if (old_name != NULL && cat->nold < cat->cap_old) {
            cat->old[cat->nold++] = (struct retained){
                .name = old_name, .gen = generation_ref(old->gen), .retired_ms = now_ms()};
            old_name = NULL;
        } else {
            cat->memory -= old->gen->map_len;
        }
    }
    if (img != NULL && (old == NULL || img->gen != old->gen))
        cat->memory += img->gen->map_len;
    if (img == NULL && old != NULL) {
        memmove(&cat->items[i], &cat->items[i + 1], (cat->n - (size_t)i - 1) * sizeof(*cat->items));
        cat->n--;
    } else if (img != NULL && old != NULL) {
        cat->items[i] = img;
    } else if (img != NULL) {
        i = -i - 1;
        memmove(&cat->items[i + 1], &cat->items[i], (cat->n - (size_t)i) * sizeof(*cat->items));
        cat->items[i] = img;
        cat->n++;
    }
    img = NULL;
    while (cat->memory > cat->limits.max_memory && cat->nold > 0) {
        struct retained *grown = realloc(dropped, (ndropped + 1) * sizeof(*dropped));

        if (grown == NULL)
            break;
        dropped = grown;
        dropped[ndropped++] = take_old(cat, 0);
    }
unlock:
    pthread_rwlock_unlock(&cat->lock);
    log_dropped(dropped, ndropped, "over max_memory");
    free(dropped);
    free(old_name);
    image_unref(old);
    image_unref(img);
    return r;
}

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
 * NULL), sorted by name, the preferred spelling of a name first. */
static int read_candidates(int dirfd, const char *only, struct candidate **ret, size_t *ret_n)
{
    struct candidate *c = NULL, *grown;
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
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            grown = realloc(c, cap * sizeof(*c));
            if (grown == NULL) {
                r = -ENOMEM;
                break;
            }
            c = grown;
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

static const char *version_problem(int error)
{
    switch (error) {
    case -EINVAL:
        return "not a decimal number";
    case -ERANGE:
        return "above 4294967295";
    case -EFBIG:
        return "longer than 64 bytes";
    case -ENODEV:
        return "not a regular file";
    default:
        return strerror(-error);
    }
}

static const char *load_problem(int error)
{
    switch (error) {
    case -ENODEV:
        return "not a regular file";
    case -ENODATA:
        return "empty";
    case -EFBIG:
        return "larger than 4 GiB";
    default:
        return strerror(-error);
    }
}

static void log_version_warning(const struct image *img)
{
    if (img->version_source == VERSION_FILE_MISSING)
        log_warning("%s: missing; using version %u", img->version_file, VERSION_DEFAULT);
    else if (img->version_source == VERSION_FILE_INVALID)
        log_warning("%s: %s; using version %u", img->version_file,
                    version_problem(img->version_error), VERSION_DEFAULT);
}

static void log_change(bool first, enum change change, const struct image *img, const char *name)
{
    static const char *const what[] = {
        [CHANGE_ADDED] = "added", [CHANGE_REPLACED] = "replaced"};

    switch (change) {
    case CHANGE_NONE:
        return;
    case CHANGE_REMOVED:
        log_info("removed %s", name);
        return;
    case CHANGE_VERSION:
        log_version_warning(img);
        if (img->version_source == VERSION_FROM_FILE)
            log_info("version %s: %u (from %s)", img->name, img->version, img->version_file);
        else
            log_info("version %s: %u (default: %s %s)", img->name, img->version,
                     img->version_file,
                     img->version_source == VERSION_FILE_MISSING ? "missing" : "invalid");
        return;
    case CHANGE_ADDED:
    case CHANGE_REPLACED:
        log_version_warning(img);
        log_info("%s %s: version %u, %u bytes, crc 0x%08X, %u blocks, etag %s",
                 first ? "image" : what[change], img->name, img->version, img->gen->size,
                 img->gen->crc, img->gen->nblocks, img->gen->etag);
        return;
    }
}

static bool same_bytes(const struct generation *a, const struct generation *b)
{
    return a->size == b->size && strcmp(a->etag, b->etag) == 0 &&
           memcmp(a->data, b->data, a->size) == 0;
}

/* A generation of @name already held (current or retained) with the bytes
 * of @gen, or NULL: reloading identical bytes (a touch, a directory put back,
 * a rollback) must neither cost memory nor strand the downloads pinned to
 * them. Called by the writer thread, which needs no lock to read. */
static struct generation *held_copy(struct catalog *cat, const char *name,
                                    const struct generation *gen)
{
    ssize_t i = find(cat->items, cat->n, name, strlen(name));

    if (i >= 0 && same_bytes(cat->items[i]->gen, gen))
        return cat->items[i]->gen;
    for (size_t k = cat->nold; k-- > 0;)
        if (strcmp(cat->old[k].name, name) == 0 && same_bytes(cat->old[k].gen, gen))
            return cat->old[k].gen;
    return NULL;
}

/* True when @old (NULL: none) is served from the file @bin_file is now:
 * nothing to read again. */
static bool same_file(const struct image *old, int dirfd, const char *bin_file)
{
    struct file_id id;

    return old != NULL && strcmp(old->bin_file, bin_file) == 0 &&
           file_id_read(dirfd, bin_file, &id) == 0 && file_id_equal(&id, &old->bin_id);
}

/* True when candidate @i is another spelling of the name before it (the
 * preferred spelling sorts first and is the one used). */
static bool other_spelling(const struct candidate *cand, size_t i)
{
    return i > 0 && strcmp(cand[i - 1].name, cand[i].name) == 0;
}

/* Brings @name up to date with the file @bin_file (NULL: there is none),
 * using the generation @pre loaded ahead, if it is not NULL and was loaded. */
static int refresh(struct catalog *cat, int dirfd, const char *name, const char *bin_file,
                   struct candidate *pre)
{
    ssize_t i = find(cat->items, cat->n, name, strlen(name));
    /* Only this thread changes items: reading them here needs no lock. */
    struct image *old = i >= 0 ? cat->items[i] : NULL, *img = NULL;
    struct generation *gen = NULL, *held;
    bool preloaded = pre != NULL && pre->loaded; /* then known not to be the same file */
    enum change change;
    int r;

    if (bin_file == NULL) {
        if (old == NULL)
            return 0;
        log_change(false, CHANGE_REMOVED, NULL, name);
        return set_current(cat, name, NULL);
    }
    if (!preloaded && same_file(old, dirfd, bin_file)) {
        /* Same file: at most the version changed, and nothing is re-read. */
        if (!image_version_changed(old, dirfd))
            return 0;
        r = image_make(name, bin_file, old->gen, &old->bin_id, dirfd, &img);
    } else {
        if (preloaded) {
            r = pre->load_error;
            gen = pre->gen;
            pre->gen = NULL;
        } else {
            r = generation_load(dirfd, bin_file, &gen);
        }
        if (r == -EAGAIN || r == -ENOMEM)
            return r;
        if (r < 0) {
            log_warning("%s: %s; skipped", bin_file, load_problem(r));
            return refresh(cat, dirfd, name, NULL, NULL);
        }
        held = held_copy(cat, name, gen);
        r = image_make(name, bin_file, held != NULL ? held : gen, &gen->file, dirfd, &img);
        generation_unref(gen);
    }
    if (r < 0)
        return r;
    if (old == NULL)
        change = CHANGE_ADDED;
    else if (old->gen != img->gen)
        change = CHANGE_REPLACED;
    else if (old->version != img->version || old->version_source != img->version_source)
        change = CHANGE_VERSION;
    else
        change = CHANGE_NONE; /* touched, same bytes: only the file identity is new */
    log_change(!cat->scanned, change, img, name);
    return set_current(cat, name, img);
}

/* Empties the catalog: the directory is gone. */
static void clear(struct catalog *cat)
{
    while (cat->n > 0) {
        char *name = strdup(cat->items[cat->n - 1]->name);

        if (name == NULL)
            return;
        log_change(false, CHANGE_REMOVED, NULL, name);
        if (set_current(cat, name, NULL) < 0) {
            free(name);
            return;
        }
        free(name);
    }
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

        c->load_error = generation_load(q->dirfd, c->bin_file, &c->gen);
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
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    /* With one CPU the calling thread loads them all in refresh(). */
    if (cpus < 2 || ncand < 2)
        return;
    q.todo = calloc(ncand, sizeof(*q.todo));
    if (q.todo == NULL)
        return;
    for (size_t i = 0; i < ncand; i++) {
        ssize_t k = find(cat->items, cat->n, cand[i].name, strlen(cand[i].name));

        if (other_spelling(cand, i) || same_file(k >= 0 ? cat->items[k] : NULL, dirfd,
                                                 cand[i].bin_file))
            continue; /* ignored, or served already: refresh() checks the version */
        q.todo[q.n++] = &cand[i];
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

static int open_dir(struct catalog *cat)
{
    int fd = open(cat->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    return fd < 0 ? -errno : fd;
}

int catalog_scan(struct catalog *cat)
{
    struct candidate *cand = NULL;
    size_t ncand = 0;
    char **stale = NULL;
    size_t nstale = 0;
    int dirfd, r;

    dirfd = open_dir(cat);
    if (dirfd == -ENOENT || dirfd == -ENOTDIR) {
        clear(cat);
        return dirfd;
    }
    if (dirfd < 0)
        return dirfd;
    r = read_candidates(dirfd, NULL, &cand, &ncand);
    if (r < 0)
        goto out;
    /* Names served now but no longer in the directory. */
    stale = calloc(cat->n ? cat->n : 1, sizeof(*stale));
    if (stale == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cat->n; i++) {
        struct candidate key = {.name = cat->items[i]->name};
        bool found = ncand > 0 &&
                     bsearch(&key, cand, ncand, sizeof(*cand), compare_name_only) != NULL;

        if (!found && (stale[nstale] = strdup(cat->items[i]->name)) != NULL)
            nstale++;
    }
    for (size_t i = 0; i < nstale; i++)
        refresh(cat, dirfd, stale[i], NULL, NULL);
    preload(cat, dirfd, cand, ncand);
    for (size_t i = 0; i < ncand; i++) {
        if (other_spelling(cand, i)) {
            log_warning("%s: same name as %s; ignored", cand[i].bin_file, cand[i - 1].bin_file);
            continue;
        }
        r = refresh(cat, dirfd, cand[i].name, cand[i].bin_file, &cand[i]);
        if (r == -ENOMEM)
            goto out;
        if (r == -EAGAIN)
            log_warning("%s: changed while being read; kept the previous state",
                        cand[i].bin_file);
    }
    cat->scanned = true;
    r = (int)cat->n;
out:
    for (size_t i = 0; i < nstale; i++)
        free(stale[i]);
    free(stale);
    free_candidates(cand, ncand);
    close(dirfd);
    return r;
}

int catalog_reload(struct catalog *cat, const char *name)
{
    struct candidate *cand = NULL;
    size_t ncand = 0;
    int dirfd, r;

    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL)
        return 0;
    dirfd = open_dir(cat);
    if (dirfd < 0)
        return dirfd;
    r = read_candidates(dirfd, name, &cand, &ncand);
    if (r == 0)
        r = refresh(cat, dirfd, name, ncand > 0 ? cand[0].bin_file : NULL, NULL);
    for (size_t i = 1; r == 0 && i < ncand; i++)
        log_warning("%s: same name as %s; ignored", cand[i].bin_file, cand[0].bin_file);
    free_candidates(cand, ncand);
    close(dirfd);
    return r;
}

long catalog_expire(struct catalog *cat)
{
    uint64_t now = now_ms(), keep = (uint64_t)cat->limits.retain_seconds * 1000;
    struct retained *dropped = NULL;
    size_t ndropped = 0;
    long next = -1;

    pthread_rwlock_wrlock(&cat->lock);
    while (cat->nold > 0 && now - cat->old[0].retired_ms >= keep) {
        struct retained *grown = realloc(dropped, (ndropped + 1) * sizeof(*dropped));

        if (grown == NULL)
            break;
        dropped = grown;
        dropped[ndropped++] = take_old(cat, 0);
    }
    if (cat->nold > 0)
        next = (long)(cat->old[0].retired_ms + keep - now);
    pthread_rwlock_unlock(&cat->lock);
    log_dropped(dropped, ndropped, "retain_seconds passed");
    free(dropped);
    return next;
}

struct image *catalog_lookup(struct catalog *cat, const char *name, size_t len)
{
    struct image *img = NULL;
    ssize_t i;

    pthread_rwlock_rdlock(&cat->lock);
    i = find(cat->items, cat->n, name, len);
    if (i >= 0)
        img = image_ref(cat->items[i]);
    pthread_rwlock_unlock(&cat->lock);
    return img;
}

/* Finds a generation of @name matching @match(gen, arg): current first, then
 * the retained ones, newest first. */
static struct generation *find_generation(struct catalog *cat, const char *name, size_t len,
                                          bool (*match)(const struct generation *, const void *),
                                          const void *arg)
{
    struct generation *g = NULL;
    ssize_t i;

    pthread_rwlock_rdlock(&cat->lock);
    i = find(cat->items, cat->n, name, len);
    if (i >= 0 && match(cat->items[i]->gen, arg))
        g = generation_ref(cat->items[i]->gen);
    for (size_t k = cat->nold; g == NULL && k-- > 0;)
        if (name_is(name, len, cat->old[k].name) && match(cat->old[k].gen, arg))
            g = generation_ref(cat->old[k].gen);
    pthread_rwlock_unlock(&cat->lock);
    return g;
}

static bool match_id(const struct generation *g, const void *arg)
{
    return g->id == *(const uint64_t *)arg;
}

struct etag_arg {
    const char *etag;
    size_t len;
};

static bool match_etag(const struct generation *g, const void *arg)
{
    const struct etag_arg *e = arg;

    return name_is(e->etag, e->len, g->etag);
}

struct generation *catalog_find_generation(struct catalog *cat, const char *name, size_t len,
                                           uint64_t id)
{
    return find_generation(cat, name, len, match_id, &id);
}

struct generation *catalog_find_etag(struct catalog *cat, const char *name, size_t len,
                                     const char *etag, size_t etag_len)
{
    struct etag_arg arg = {etag, etag_len};

    return find_generation(cat, name, len, match_etag, &arg);
}

int catalog_list(struct catalog *cat, struct catalog_item **ret)
{
    struct catalog_item *list;
    size_t n;

    pthread_rwlock_rdlock(&cat->lock);
    n = cat->n;
    list = calloc(n ? n : 1, sizeof(*list));
    if (list == NULL) {
        pthread_rwlock_unlock(&cat->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        list[i].img = image_ref(cat->items[i]);
        for (size_t k = 0; k < cat->nold; k++)
            if (strcmp(cat->old[k].name, cat->items[i]->name) == 0)
                list[i].retained++;
    }
    pthread_rwlock_unlock(&cat->lock);
    *ret = list;
    return (int)n;
}

void catalog_release(struct catalog_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        image_unref(items[i].img);
    free(items);
}

uint64_t catalog_memory(struct catalog *cat)
{
    uint64_t m;

    pthread_rwlock_rdlock(&cat->lock);
    m = cat->memory;
    pthread_rwlock_unlock(&cat->lock);
    return m;
}
