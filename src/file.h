/* SPDX-License-Identifier: MIT */
/* Reading files of the firmware directory safely: never blocking on a FIFO,
 * never treating a directory or device as data. */
#ifndef OTAD_FILE_H
#define OTAD_FILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Identity of a file, to tell whether it changed since it was read. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
};

/* Opens @name relative to @dirfd for reading, following symlinks, and checks
 * it is a regular file. Returns the descriptor (the caller closes it) and
 * fills @ret_st; or -ENODEV if it is not a regular file, or the errno of
 * open/fstat. */
int file_open_regular(int dirfd, const char *name, struct stat *ret_st);

/* Reads up to @len bytes from @fd into @buf, retrying short reads, until
 * @len bytes or end of file. Returns the byte count or a negative errno. */
ssize_t file_read_upto(int fd, void *buf, size_t len);

/* Writes the @len bytes at @buf to @fd whole, retrying short writes and
 * EINTR. Returns 0 or the negative errno of write(). */
int file_write_all(int fd, const void *buf, size_t len);

/* Reads the identity of @file relative to @dirfd, following symlinks.
 * Returns 0 or a negative errno. */
int file_id_read(int dirfd, const char *file, struct file_id *ret);

/* Fills @ret with the identity of the file @st describes. */
void file_id_from_stat(const struct stat *st, struct file_id *ret);

/* True when both identities describe the same unchanged file. */
int file_id_equal(const struct file_id *a, const struct file_id *b);

#endif
