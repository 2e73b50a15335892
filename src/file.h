/* Reading files of the firmware directory safely: never blocking on a FIFO,
 * never treating a directory or device as data. */
#ifndef OTAD_FILE_H
#define OTAD_FILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Opens @name relative to @dirfd for reading, following symlinks, and checks
 * it is a regular file. Returns the descriptor (the caller closes it) and
 * fills @ret_st; or -ENODEV if it is not a regular file, or the errno of
 * open/fstat. */
int file_open_regular(int dirfd, const char *name, struct stat *ret_st);

/* Reads up to @len bytes from @fd into @buf, retrying short reads, until
 * @len bytes or end of file. Returns the byte count or a negative errno. */
ssize_t file_read_upto(int fd, void *buf, size_t len);

#endif
