/* SPDX-License-Identifier: MIT */
/* The tree's retention: what a symlink lets go of is marked with its
 * modification time, and removed once that is retain_seconds old and no
 * symlink points at it again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "export_priv.h"

/* The generations the tree's symlinks point at, by key. */
struct keys {
    char (*key)[EXPORT_KEY_LEN + 1];
    size_t n, cap;
};

/* The key of the release @rel ("KEY-VERSION..."): up to its second dash. */
static void rel_key(const char *rel, char key[EXPORT_KEY_LEN + 1])
{
    const char *dash = strchr(rel, '-');
    size_t len = dash != NULL && (dash = strchr(dash + 1, '-')) != NULL ? (size_t)(dash - rel)
                                                                       : strlen(rel);

    if (len > EXPORT_KEY_LEN)
        len = EXPORT_KEY_LEN;
    memcpy(key, rel, len);
    key[len] = '\0';
}

void export_retire(int outfd, const char *target)
{
    char key[EXPORT_KEY_LEN + 1], path[EXPORT_KEY_LEN + 3];
    const char *rel = strrchr(target, '/');

    if (strncmp(target, "n/", 2) != 0 || rel == NULL)
        return;
    (void)utimensat(outfd, target, NULL, 0);
    rel_key(rel + 1, key);
    memcpy(path, "g/", 2);
    memcpy(path + 2, key, strlen(key) + 1);
    (void)utimensat(outfd, path, NULL, 0);
}

int export_remove_tree(int dirfd, const char *name)
{
    struct dirent *e;
    struct stat st;
    DIR *d;
    int fd, r = 0;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (r == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        /* Blocks are most of a tree: no stat for what says it is a file. */
        if (e->d_type == DT_REG || e->d_type == DT_LNK)
            r = unlinkat(fd, e->d_name, 0) < 0 ? -errno : 0;
        else
            r = export_remove_tree(fd, e->d_name);
        if (r == -ENOENT)
            r = 0;
    }
    closedir(d);
    if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
        r = -errno;
    return r;
}

/* Opens the directory @name in @dirfd for reading its entries. */
static DIR *open_entries(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

    if (d == NULL && fd >= 0)
        close(fd);
    return d;
}

/* Removes @name in @dirfd if it was let go of @retain seconds before @now,
 * else lowers rep->due to when it will be. */
static int expire(int dirfd, const char *name, unsigned retain, time_t now,
                  struct export_report *rep)
{
    struct stat st;
    long left;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    left = (long)(st.st_mtime + (time_t)retain - now);
    if (left <= 0)
        return export_remove_tree(dirfd, name);
    if (rep->due < 0 || left < rep->due)
        rep->due = left;
    return 0;
}

/* The root: drops the symlinks of names not current (marking what they let
 * go of), notes the keys of those that stay, removes stale temporary links. */
static int prune_links(int outfd, struct catalog *cat, struct keys *keys)
{
    char target[NAME_MAX + 64];
    struct dirent *e;
    DIR *d = open_entries(outfd, ".");
    int r = 0;

    if (d == NULL)
        return -errno;
    while (r == 0 && (e = readdir(d)) != NULL) {
        ssize_t n = readlinkat(outfd, e->d_name, target, sizeof(target) - 1);
        const char *rel;

        if (n < 0)
            continue;
        target[n] = '\0';
        rel = strrchr(target, '/');
        if (strncmp(e->d_name, EXPORT_TMP, strlen(EXPORT_TMP)) == 0) {
            r = unlinkat(outfd, e->d_name, 0) < 0 ? -errno : 0;
        } else if (strncmp(target, "n/", 2) != 0 || rel == NULL) {
            continue;   /* not the tree's */
        } else if (catalog_current(cat, e->d_name) == NULL || export_reserved(e->d_name)) {
            export_retire(outfd, target);
            r = unlinkat(outfd, e->d_name, 0) < 0 ? -errno : 0;
        } else if ((r = array_grow(&keys->key, &keys->cap, keys->n + 1,
                                   sizeof(*keys->key))) == 0) {
            rel_key(rel + 1, keys->key[keys->n++]);
        }
    }
    closedir(d);
    return r;
}

/* firmware/: the NAME.bin symlinks of names not current. */
static int prune_bins(int outfd, struct catalog *cat)
{
    char name[NAME_MAX + 1];
    struct dirent *e;
    DIR *d = open_entries(outfd, "firmware");
    int r = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    while (r == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (e->d_name[0] == '.' && strncmp(e->d_name, EXPORT_TMP, strlen(EXPORT_TMP)) != 0)
            continue;
        memcpy(name, e->d_name, len + 1);
        if (len > 4 && strcmp(name + len - 4, ".bin") == 0)
            name[len - 4] = '\0';
        if (e->d_name[0] == '.' || catalog_current(cat, name) == NULL)
            r = unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT ? -errno : 0;
    }
    closedir(d);
    return r;
}

/* n/NAME/: the releases but the one the symlink NAME points at. */
static int prune_releases(int outfd, int namefd, const char *name, unsigned retain, time_t now,
                          struct export_report *rep)
{
    char target[NAME_MAX + 64], current[NAME_MAX + 64];
    ssize_t n = readlinkat(outfd, name, target, sizeof(target) - 1);
    struct dirent *e;
    DIR *d = open_entries(namefd, name);
    int r = 0;

    target[n >= 0 ? n : 0] = '\0';
    if (d == NULL)
        return -errno;
    while (r == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(current, sizeof(current), "n/%s/%s", name, e->d_name);
        if (strcmp(current, target) != 0)
            r = expire(dirfd(d), e->d_name, retain, now, rep);
    }
    closedir(d);
    /* The last release of a name gone leaves an empty directory. */
    if (r == 0 && unlinkat(namefd, name, AT_REMOVEDIR) < 0 && errno != ENOTEMPTY &&
        errno != EEXIST)
        r = -errno;
    return r;
}

/* g/ (@keys NULL: n/): each entry not pointed at expires. */
static int prune_dir(int outfd, const char *dir, const struct keys *keys, unsigned retain,
                     time_t now, struct export_report *rep)
{
    struct dirent *e;
    DIR *d = open_entries(outfd, dir);
    int r = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : export_fail(rep, -errno, "%s", dir);
    while (r == 0 && (e = readdir(d)) != NULL) {
        bool used = false;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (keys == NULL && e->d_name[0] != '.') {
            r = prune_releases(outfd, dirfd(d), e->d_name, retain, now, rep);
            continue;
        }
        for (size_t i = 0; keys != NULL && i < keys->n && !used; i++)
            used = strcmp(keys->key[i], e->d_name) == 0;
        if (!used)
            r = expire(dirfd(d), e->d_name, retain, now, rep);
    }
    closedir(d);
    return r < 0 && rep->path[0] == '\0' ? export_fail(rep, r, "%s", dir) : r;
}

int export_prune(int outfd, struct catalog *cat, unsigned retain, time_t now,
                 struct export_report *rep)
{
    struct keys keys = {0};
    int r;

    r = prune_links(outfd, cat, &keys);
    if (r < 0)
        export_fail(rep, r, ".");
    if (r == 0 && (r = prune_bins(outfd, cat)) < 0)
        export_fail(rep, r, "firmware");
    if (r == 0)
        r = prune_dir(outfd, "n", NULL, retain, now, rep);
    if (r == 0)
        r = prune_dir(outfd, "g", &keys, retain, now, rep);
    free(keys.key);
    return r;
}
