/* SPDX-License-Identifier: MIT */
#include "version.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "file.h"

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
    ssize_t len;
    int fd;

    fd = file_open_regular(dirfd, name, &st);
    if (fd < 0)
        return fd;
    /* One byte more than allowed tells a too-long file apart. */
    len = file_read_upto(fd, buf, sizeof(buf));
    close(fd);
    if (len < 0)
        return (int)len;
    if ((size_t)len > VERSION_MAX_FILE)
        return -EFBIG;
    return version_parse(buf, (size_t)len, ret);
}
