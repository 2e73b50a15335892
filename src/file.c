#include "file.h"

#include <errno.h>
#include <fcntl.h>
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
