/* SPDX-License-Identifier: MIT */
/* Fuzz target: the configuration loader (conf_load_file) on arbitrary YAML.
 * The input is written to a memfd that is opened again by its /proc path,
 * as conf_load_file() opens a path. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    struct conf c;
    char err[512];

    if (fd < 0) {
        fd = memfd_create("otad.yaml", MFD_CLOEXEC);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    if (conf_init(&c) < 0)
        abort();
    err[0] = '\0';
    if (conf_load_file(&c, path, err, sizeof(err)) == 0) {
        /* What loaded must satisfy the table's rules. */
        if (c.firmware_dir == NULL || c.bind == NULL || c.port == 0 ||
            (c.tls_cert == NULL) != (c.tls_key == NULL))
            abort();
        conf_check(&c, err, sizeof(err));
        conf_describe(&c, err, sizeof(err));
    } else if (err[0] == '\0') {
        abort(); /* every error says why */
    }
    conf_fini(&c);
    return 0;
}
