/* SPDX-License-Identifier: MIT */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "export_priv.h"
#include "file.h"
#include "listing.h"

/* Room for "n/NAME/KEY-VERSION-MANIFEST" and the symlink targets. */
#define PATH_ROOM (NAME_MAX + 96)
/* Room for a release's name, "KEY-VERSION-MANIFEST". */
#define REL_ROOM 64

/* The directories of the tree open for one export. */
struct tree {
    int out, g, n, fw;
};

static void close_dirs(const struct tree *t)
{
    const int fds[] = {t->out, t->g, t->n, t->fw};

    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

bool export_reserved(const char *name)
{
    static const char *const names[] = {"g", "n", "firmware", "firmwares", "firmwares.json"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

int export_fail(struct export_report *rep, int r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rep->path, sizeof(rep->path), fmt, ap);
    va_end(ap);
    return r;
}

/* A new file @name in @dirfd (replacing one) holding the @len bytes at @data.
 * Not flushed: the caller flushes a whole directory at once. */
static int write_file(int dirfd, const char *name, const void *data, size_t len)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    int r;

    if (fd < 0)
        return -errno;
    r = file_write_all(fd, data, len);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

/* One file a block, opened, written and closed: no flush of its own (4 M
 * fsyncs for a GiB of images would take hours), see stage_done(). */
static int write_blocks(int dirfd, const struct generation *g, const struct export_options *o)
{
    uint8_t wire[OTA_BLOCK_WIRE];
    char name[16];

    for (uint32_t n = 0; n < g->nblocks; n++) {
        int r;

        if (n % EXPORT_STOP_BLOCKS == EXPORT_STOP_BLOCKS - 1 && o->stop != NULL &&
            o->stop(o->stop_ctx))
            return -EINTR;
        generation_block_copy(g, n, wire);
        snprintf(name, sizeof(name), "%u", n);
        r = write_file(dirfd, name, wire, sizeof(wire));
        if (r < 0)
            return r;
    }
    return 0;
}

/* Opens the directory @name in @dirfd, made first if missing. */
static int open_dir(int dirfd, const char *name)
{
    int fd;

    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
        return -errno;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* An immutable directory @name in @dirfd is made as EXPORT_TMP@name and
 * renamed into place when whole: stage_begin() opens it (0: it exists
 * already, nothing to do), stage_done() flushes and renames or removes it. */
static int stage_begin(int dirfd, const char *name, char *tmp, size_t len, int *ret_fd)
{
    int fd;

    *ret_fd = -1;
    if (faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (snprintf(tmp, len, EXPORT_TMP "%s", name) >= (int)len)
        return -ENAMETOOLONG;
    /* Left by a writer that stopped half-way. */
    fd = export_remove_tree(dirfd, tmp);
    if (fd < 0 && fd != -ENOENT)
        return fd;
    fd = open_dir(dirfd, tmp);
    if (fd < 0)
        return fd;
    *ret_fd = fd;
    return 1;
}

static int stage_done(int dirfd, const char *tmp, const char *name, int fd, int r)
{
    /* One flush of the file system for every file of the directory, before
     * its name makes it visible. */
    if (r == 0 && syncfs(fd) < 0)
        r = -errno;
    close(fd);
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0)
        (void)export_remove_tree(dirfd, tmp);
    return r;
}

/* g/KEY: the image and its blocks. */
static int put_generation(const struct tree *t, const struct generation *g, const char *key,
                          const struct export_options *o)
{
    char tmp[PATH_ROOM + sizeof(EXPORT_TMP)];
    int fd, bfd = -1, r;

    r = stage_begin(t->g, key, tmp, sizeof(tmp), &fd);
    if (r <= 0)
        return r;
    r = write_file(fd, "image", g->data, g->size);
    if (r == 0 && (bfd = open_dir(fd, "block")) < 0)
        r = bfd;
    if (r == 0)
        r = write_blocks(bfd, g, o);
    if (bfd >= 0)
        close(bfd);
    return stage_done(t->g, tmp, key, fd, r);
}

/* n/NAME/REL: the header, the manifest, and symlinks to the generation. */
static int put_release(int namefd, const struct image *img, const char *key, const char *rel)
{
    char tmp[PATH_ROOM + sizeof(EXPORT_TMP)], target[PATH_ROOM];
    int fd, r;

    r = stage_begin(namefd, rel, tmp, sizeof(tmp), &fd);
    if (r <= 0)
        return r;
    r = write_file(fd, "header", img->header, OTA_HEADER_WIRE);
    /* Served whenever it is whole, as otad does (trust.h). */
    if (r == 0 && img->gen->manifest_error == 0)
        r = write_file(fd, "manifest", img->gen->manifest, OTA_MANIFEST_SIZE);
    snprintf(target, sizeof(target), "../../../g/%s/image", key);
    if (r == 0 && symlinkat(target, fd, "image") < 0)
        r = -errno;
    snprintf(target, sizeof(target), "../../../g/%s/block", key);
    if (r == 0 && symlinkat(target, fd, "block") < 0)
        r = -errno;
    return stage_done(namefd, tmp, rel, fd, r);
}

/* Points the symlink @name in @dirfd at @target by renaming a new symlink
 * over it, so that a reader sees the old target or the new one. The one it
 * had goes into @old ("" if none). Returns 1 if it changed, 0 if it was
 * already so, -EEXIST if @name is not a symlink, or -errno. */
static int switch_link(int dirfd, const char *name, const char *target, char *old, size_t len)
{
    char tmp[32];
    ssize_t n = readlinkat(dirfd, name, old, len - 1);
    int r;

    old[n >= 0 ? n : 0] = '\0';
    if (n >= 0 && strcmp(old, target) == 0)
        return 0;
    if (n < 0 && errno != ENOENT)
        return errno == EINVAL ? -EEXIST : -errno;
    snprintf(tmp, sizeof(tmp), EXPORT_TMP "link-%ld", (long)getpid());
    (void)unlinkat(dirfd, tmp, 0);
    if (symlinkat(target, dirfd, tmp) < 0)
        return -errno;
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        r = -errno;
        (void)unlinkat(dirfd, tmp, 0);
        return r;
    }
    return 1;
}

/* Exports @img. Returns 0, 1 if it was refused (told), or -errno. */
static int put_image(const struct tree *t, const struct image *img,
                     const struct export_options *o, struct export_report *rep)
{
    const struct generation *g = img->gen;
    char key[GENERATION_ETAG_MAX], rel[REL_ROOM], target[PATH_ROOM], old[PATH_ROOM];
    char bin[NAME_MAX + 8];
    int namefd, r;

    /* The ETag without its quotes. */
    snprintf(key, sizeof(key), "%.*s", (int)strlen(g->etag) - 2, g->etag + 1);
    if (g->manifest_error == 0)
        snprintf(rel, sizeof(rel), "%s-%u-%08x", key, img->version,
                 crc_update(0, g->manifest, OTA_MANIFEST_SIZE));
    else
        snprintf(rel, sizeof(rel), "%s-%u", key, img->version);
    r = put_generation(t, g, key, o);
    if (r < 0)
        return export_fail(rep, r, "g/%s", key);
    namefd = open_dir(t->n, img->name);
    if (namefd < 0)
        return export_fail(rep, namefd, "n/%s", img->name);
    r = put_release(namefd, img, key, rel);
    close(namefd);
    if (r < 0)
        return export_fail(rep, r, "n/%s/%s", img->name, rel);
    snprintf(target, sizeof(target), "n/%s/%s", img->name, rel);
    r = switch_link(t->out, img->name, target, old, sizeof(old));
    if (r == -EEXIST) {
        if (o->refused != NULL)
            o->refused(o->ctx, img->name, "the tree holds a file of that name, not a symlink");
        return 1;
    }
    if (r < 0)
        return export_fail(rep, r, "%s", img->name);
    if (r == 1 && old[0] != '\0')
        export_retire(t->out, old);
    snprintf(target, sizeof(target), "../g/%s/image", key);
    snprintf(bin, sizeof(bin), "%s.bin", img->name);
    r = switch_link(t->fw, bin, target, old, sizeof(old));
    return r < 0 ? export_fail(rep, r, "firmware/%s", bin) : 0;
}

/* A file replaced whole: written under a temporary name, then renamed. */
static int put_file(int dirfd, const char *name, const void *data, size_t len)
{
    char tmp[PATH_ROOM + sizeof(EXPORT_TMP)];
    int r;

    snprintf(tmp, sizeof(tmp), EXPORT_TMP "%s", name);
    r = write_file(dirfd, tmp, data, len);
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0)
        (void)unlinkat(dirfd, tmp, 0);
    return r;
}

/* The listings of the @n images in @shown, each of the two written whole. */
static int put_listings(int outfd, const struct catalog_item *shown, size_t n,
                        struct export_report *rep)
{
    static const struct {
        const char *file;
        enum listing_format format;
    } listings[] = {{"firmwares", LISTING_TEXT}, {"firmwares.json", LISTING_JSON}};

    for (size_t i = 0; i < sizeof(listings) / sizeof(listings[0]); i++) {
        char *text = NULL;
        size_t len = 0;
        int r = listing_render(shown, n, listings[i].format, &text, &len);

        if (r == 0)
            r = put_file(outfd, listings[i].file, text, len);
        free(text);
        if (r < 0)
            return export_fail(rep, r, "%s", listings[i].file);
    }
    return 0;
}

/* Every image of @items; those in the tree are copied into @shown (borrowed
 * references) and counted in @ret_shown. Returns the number refused or -errno. */
static int put_images(const struct tree *t, const struct catalog_item *items, size_t n,
                      const struct export_options *o, struct catalog_item *shown,
                      size_t *ret_shown, struct export_report *rep)
{
    size_t k = 0;
    int refused = 0;

    for (size_t i = 0; i < n; i++) {
        int r = 1;

        if (o->stop != NULL && o->stop(o->stop_ctx))
            return export_fail(rep, -EINTR, "%s", items[i].img->name);
        if (export_reserved(items[i].img->name)) {
            if (o->refused != NULL)
                o->refused(o->ctx, items[i].img->name, "the name is one of the tree's own paths");
        } else {
            r = put_image(t, items[i].img, o, rep);
        }
        if (r < 0)
            return r;
        if (r == 0)
            shown[k++] = items[i];
        refused += r;
    }
    *ret_shown = k;
    return refused;
}

int export_write(struct catalog *cat, const struct export_options *o, struct export_report *rep)
{
    struct tree t = {-1, -1, -1, -1};
    struct catalog_item *items = NULL, *shown = NULL;
    size_t nshown = 0;
    int n, r, refused = 0;

    rep->path[0] = '\0';
    rep->due = -1;
    if (mkdir(o->out, 0755) < 0 && errno != EEXIST)
        return export_fail(rep, -errno, "%s", o->out);
    t.out = open(o->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t.out < 0)
        return export_fail(rep, -errno, "%s", o->out);
    n = catalog_list(cat, &items);
    r = n < 0 ? n : 0;
    if (r < 0 || (t.g = open_dir(t.out, "g")) < 0 || (t.n = open_dir(t.out, "n")) < 0 ||
        (t.fw = open_dir(t.out, "firmware")) < 0) {
        r = r < 0 ? r : t.g < 0 ? t.g : t.n < 0 ? t.n : t.fw;
        export_fail(rep, r, "%s", o->out);
        goto fail;
    }
    shown = calloc((size_t)n + 1, sizeof(*shown));
    if (shown == NULL) {
        r = export_fail(rep, -ENOMEM, "%s", o->out);
        goto fail;
    }
    refused = put_images(&t, items, (size_t)n, o, shown, &nshown, rep);
    r = refused < 0 ? refused : put_listings(t.out, shown, nshown, rep);
    if (r == 0) {
        /* The clock file times come from: time() reads a coarser one, which
         * can still say the second before a file's fine-grained mtime. */
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        r = export_prune(t.out, cat, o->retain_seconds, now.tv_sec, rep);
    }
    if (r == 0 && syncfs(t.out) < 0)
        r = export_fail(rep, -errno, "%s", o->out);
fail:
    free(shown);
    if (n >= 0)
        catalog_release(items, (size_t)n);
    close_dirs(&t);
    return r < 0 ? r : refused;
}
