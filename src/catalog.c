#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "version.h"

struct catalog {
    char *dir;
    pthread_rwlock_t lock;
    struct image **items; /* sorted by name; owned references */
    size_t n;
    bool scanned;         /* the first scan logs images, later ones changes */
};

/* A directory entry that may become an image. */
struct candidate {
    char *name;
    char *bin_file;
};

int catalog_open(const char *dir, struct catalog **ret)
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
    pthread_rwlock_init(&cat->lock, NULL);
    *ret = cat;
    return 0;
}

void catalog_close(struct catalog *cat)
{
    if (cat == NULL)
        return;
    catalog_release(cat->items, cat->n);
    pthread_rwlock_destroy(&cat->lock);
    free(cat->dir);
    free(cat);
}

static int compare_name(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
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

/* Binary search in a sorted image array; returns the index or -1. */
static ssize_t find(struct image **items, size_t n, const char *name, size_t len)
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
    return -1;
}

static void free_candidates(struct candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].bin_file);
    }
    free(c);
}

/* Lists NAME.bin entries of the directory, sorted, duplicates kept. */
static int read_candidates(int dirfd, struct candidate **ret, size_t *ret_n)
{
    struct candidate *c = NULL, *grown;
    size_t n = 0, cap = 0;
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
        if (de->d_name[0] == '.' || len <= 4 ||
            strcasecmp(de->d_name + len - 4, ".bin") != 0)
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
        c[n].bin_file = strdup(de->d_name);
        c[n].name = strndup(de->d_name, len - 4);
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

static void log_image(const char *what, const struct image *img)
{
    if (img->version_source == VERSION_FILE_MISSING)
        log_warning("%s: missing; using version %u", img->version_file, VERSION_DEFAULT);
    else if (img->version_source == VERSION_FILE_INVALID)
        log_warning("%s: %s; using version %u", img->version_file,
                    version_problem(img->version_error), VERSION_DEFAULT);
    log_info("%s %s: version %u, %u bytes, crc 0x%08X, %u blocks", what, img->name,
             img->version, img->size, img->crc, img->nblocks);
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
    case -EAGAIN:
        return "shrank while being read";
    default:
        return strerror(-error);
    }
}

/* True when @img was loaded from the files that are there now. */
static bool unchanged(int dirfd, const struct image *img, const char *bin_file)
{
    struct file_id bin, ver;

    if (strcmp(img->bin_file, bin_file) != 0)
        return false;
    if (image_file_id(dirfd, bin_file, &bin) < 0 || !file_id_equal(&bin, &img->bin_id))
        return false;
    if (image_file_id(dirfd, img->version_file, &ver) < 0)
        memset(&ver, 0, sizeof(ver));
    return file_id_equal(&ver, &img->version_id);
}

int catalog_scan(struct catalog *cat)
{
    struct candidate *cand = NULL;
    struct image **items = NULL, **old_items;
    size_t ncand = 0, n = 0, old_n;
    bool first = !cat->scanned;
    int dirfd, r;

    dirfd = open(cat->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    r = read_candidates(dirfd, &cand, &ncand);
    if (r < 0)
        goto out;
    items = calloc(ncand ? ncand : 1, sizeof(*items));
    if (items == NULL) {
        r = -ENOMEM;
        goto out;
    }

    /* Only the scanning thread changes cat->items, so reading it here
     * without the lock is safe; readers never modify it. */
    for (size_t i = 0; i < ncand; i++) {
        const struct candidate *c = &cand[i];
        ssize_t old = find(cat->items, cat->n, c->name, strlen(c->name));
        struct image *img;

        if (i > 0 && strcmp(cand[i - 1].name, c->name) == 0) {
            log_warning("%s: same name as %s; ignored", c->bin_file, cand[i - 1].bin_file);
            continue;
        }
        if (old >= 0 && unchanged(dirfd, cat->items[old], c->bin_file)) {
            items[n++] = image_ref(cat->items[old]);
            continue;
        }
        r = image_load(dirfd, c->bin_file, c->name, &img);
        if (r == -ENOMEM)
            goto out;
        if (r < 0) {
            log_warning("%s: %s; skipped", c->bin_file, load_problem(r));
            continue;
        }
        log_image(first ? "image" : old >= 0 ? "replaced" : "added", img);
        items[n++] = img;
    }
    if (!first)
        for (size_t i = 0; i < cat->n; i++)
            if (find(items, n, cat->items[i]->name, strlen(cat->items[i]->name)) < 0)
                log_info("removed %s", cat->items[i]->name);

    /* Candidates were sorted by name, so items are too. */
    pthread_rwlock_wrlock(&cat->lock);
    old_items = cat->items;
    old_n = cat->n;
    cat->items = items;
    cat->n = n;
    cat->scanned = true;
    pthread_rwlock_unlock(&cat->lock);
    items = NULL;
    catalog_release(old_items, old_n);
    r = (int)n;
out:
    if (items != NULL)
        catalog_release(items, n);
    free_candidates(cand, ncand);
    close(dirfd);
    return r;
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

int catalog_list(struct catalog *cat, struct image ***ret)
{
    struct image **list;
    size_t n;

    pthread_rwlock_rdlock(&cat->lock);
    n = cat->n;
    list = malloc((n ? n : 1) * sizeof(*list));
    if (list == NULL) {
        pthread_rwlock_unlock(&cat->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        list[i] = image_ref(cat->items[i]);
    pthread_rwlock_unlock(&cat->lock);
    *ret = list;
    return (int)n;
}

void catalog_release(struct image **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        image_unref(list[i]);
    free(list);
}
