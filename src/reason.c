/* SPDX-License-Identifier: MIT */
#include "reason.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *reason_file(int error)
{
    return error == -ENODEV ? "not a regular file" : strerror(-error);
}

const char *reason_version(int error)
{
    switch (error) {
    case -EINVAL:
        return "not a decimal number";
    case -ERANGE:
        return "above 4294967295";
    case -EFBIG:
        return "longer than 64 bytes";
    default:
        return reason_file(error);
    }
}

const char *reason_load(int error, const struct generation_limits *lim, uint64_t size,
                        char *buf, size_t len)
{
    unsigned long long need = (generation_footprint(size) + (1u << 20) - 1) >> 20;

    switch (error) {
    case -ENODATA:
        return "empty";
    case -EFBIG:
        if (size > GENERATION_MAX_SIZE)
            return "larger than 4 GiB";
        snprintf(buf, len, "larger than max_image_size (%llu bytes)",
                 (unsigned long long)lim->max_size);
        return buf;
    case -ENOSPC:
        snprintf(buf, len, "needs %llu MiB of memory, more than max_memory (%llu MiB)", need,
                 (unsigned long long)lim->max_memory >> 20);
        return buf;
    case -ENOBUFS:
        snprintf(buf, len,
                 "needs %llu MiB of memory, %llu MiB free under max_memory while downloads "
                 "hold older generations; retried until it fits",
                 need, (unsigned long long)lim->room >> 20);
        return buf;
    default:
        return reason_file(error);
    }
}

