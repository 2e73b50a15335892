#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int version_parse(const char *buf, size_t len, uint32_t *ret)
{
    size_t i = 0, end = len;
    uint64_t v = 0;

    while (i < end && is_space(buf[i]))
        i++;
    while (end > i && is_space(buf[end - 1]))
        end--;
    if (i == end)
        return -EINVAL;
    for (; i < end; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(buf[i] - '0');
        if (v > UINT32_MAX)
            return -ERANGE;
    }
    *ret = (uint32_t)v;
    return 0;
}

int version_read(int dirfd, const char *name, uint32_t *ret)
{
    char buf[VERSION_MAX_FILE + 1];
    struct stat st;
    size_t len = 0;
    ssize_t n;
    int fd, r;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -ENODEV;
        goto out;
    }
    /* One byte more than allowed tells a too-long file apart. */
    while (len < sizeof(buf)) {
        n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > VERSION_MAX_FILE) {
        r = -EFBIG;
        goto out;
    }
    r = version_parse(buf, len, ret);
out:
    close(fd);
    return r;
}
