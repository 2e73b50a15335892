/* SPDX-License-Identifier: MIT */
#include "semihost.h"

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_SEEK = 0x0A,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT_EXTENDED = 0x20,
    SYS_ELAPSED = 0x30,
};

static int call(uint32_t op, void *args)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = args;

    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

static uint32_t length(const char *s)
{
    uint32_t n = 0;

    while (s[n] != '\0')
        n++;
    return n;
}

int semihost_open_rw(const char *path)
{
    /* Mode 3 is "rb+": read and write an existing file, no truncation. */
    uint32_t args[3] = {(uint32_t)path, 3, length(path)};

    return call(SYS_OPEN, args);
}

static int seek(int fd, uint32_t offset)
{
    uint32_t args[2] = {(uint32_t)fd, offset};

    return call(SYS_SEEK, args) == 0 ? 0 : -1;
}

int semihost_pwrite(int fd, uint32_t offset, const void *data, uint32_t len)
{
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)data, len};

    if (seek(fd, offset) < 0)
        return -1;
    return call(SYS_WRITE, args) == 0 ? 0 : -1; /* returns the bytes NOT written */
}

int semihost_pread(int fd, uint32_t offset, void *buf, uint32_t len)
{
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, len};

    if (seek(fd, offset) < 0)
        return -1;
    return call(SYS_READ, args) == 0 ? 0 : -1;
}

static char cmdline[256];
static int cmdline_read;

const char *semihost_cmdline(void)
{
    if (!cmdline_read) {
        uint32_t args[2] = {(uint32_t)cmdline, sizeof(cmdline) - 1};

        if (call(SYS_GET_CMDLINE, args) != 0)
            cmdline[0] = '\0';
        cmdline_read = 1;
    }
    return cmdline;
}

const char *semihost_arg(const char *key)
{
    const char *p = semihost_cmdline();
    uint32_t klen = length(key);

    while (*p != '\0') {
        const char *word = p;
        uint32_t i = 0;

        while (i < klen && word[i] == key[i])
            i++;
        if (i == klen && (word[i] == '=' || word[i] == ' ' || word[i] == '\0'))
            return word[i] == '=' ? word + i + 1 : word + i;
        while (*p != ' ' && *p != '\0')
            p++;
        while (*p == ' ')
            p++;
    }
    return 0;
}

void semihost_exit(uint32_t code)
{
    /* ADP_Stopped_ApplicationExit with a status: QEMU exits with @code. */
    uint32_t args[2] = {0x20026, code};

    for (;;)
        call(SYS_EXIT_EXTENDED, args);
}

uint32_t semihost_elapsed_ms(void)
{
    /* QEMU counts nanoseconds (its SYS_TICKFREQ is 1e9), into two words. */
    uint32_t ticks[2] = {0, 0};

    if (call(SYS_ELAPSED, ticks) != 0)
        return 0;
    return (uint32_t)((((uint64_t)ticks[1] << 32) | ticks[0]) / 1000000u);
}
