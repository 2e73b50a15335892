/* SPDX-License-Identifier: MIT */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int file_open_regular(int dirfd, const char *name, struct stat *ret_st)
{
    int fd, r;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, ret_st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(ret_st->st_mode)) {
        close(fd);
        return -ENODEV;
    }
    return fd;
}

ssize_t file_read_upto(int fd, void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int file_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void file_id_from_stat(const struct stat *st, struct file_id *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->dev = st->st_dev;
    ret->ino = st->st_ino;
    ret->size = st->st_size;
    ret->mtime = st->st_mtim;
    ret->ctime = st->st_ctim;
}

int file_id_read(int dirfd, const char *file, struct file_id *ret)
{
    struct stat st;

    if (fstatat(dirfd, file, &st, 0) < 0)
        return -errno;
    file_id_from_stat(&st, ret);
    return 0;
}

int file_id_equal(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}
