/* SPDX-License-Identifier: MIT */
/* File-backed flash with the semantics that matter for power-loss safety:
 * erase sets a whole sector to 0xFF, programming can only clear bits, and
 * power can fail in the middle of any operation. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "f4_layouts.h"
#include "host.h"
#include "ota_flash.h"
#include "ota_port.h"

static const struct ota_flash_map f401 = F401_MAP(HOST_FLASH_BASE);
static const struct ota_flash_map f405 = F405_MAP(HOST_FLASH_BASE);

static const struct ota_flash_map *map = &f401;
static uint32_t size = F401_FLASH_SIZE;
static uint8_t *mem; /* mapped: with a file, every change is in the file */
static long ops, cut_at = -1, erases[OTA_AREA_COUNT];
static bool violation;
jmp_buf *host_power_cut;

const struct ota_flash_map *ota_port_flash_map(void)
{
    return map;
}

void host_flash_set_layout(enum host_layout layout)
{
    host_flash_close();
    map = layout == HOST_LAYOUT_F405 ? &f405 : &f401;
    size = layout == HOST_LAYOUT_F405 ? F405_FLASH_SIZE : F401_FLASH_SIZE;
}

uint32_t host_flash_size(void)
{
    return size;
}

void ota_port_watchdog_feed(void)
{
    /* The host has no watchdog; the tests bound their runs themselves. */
}

/* What a new chip has seen: nothing. */
static void reset_counters(void)
{
    ops = 0;
    memset(erases, 0, sizeof(erases));
    cut_at = -1;
    violation = false;
}

int host_flash_open(const char *path)
{
    struct stat st;
    bool fresh = true;
    int fd = -1;

    host_flash_close();
    reset_counters();
    if (path == NULL) {
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        if (fstat(fd, &st) < 0 || (st.st_size != 0 && st.st_size != size)) {
            close(fd);
            return -EINVAL; /* not a flash image of this size */
        }
        fresh = st.st_size == 0;
        if (fresh && ftruncate(fd, size) < 0) {
            close(fd);
            return -errno;
        }
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
    }
    if (mem == MAP_FAILED) {
        mem = NULL;
        return -ENOMEM;
    }
    if (fresh)
        memset(mem, 0xFF, size); /* a new chip comes erased */
    return 0;
}

void host_flash_reset(void)
{
    reset_counters();
    if (mem != NULL)
        memset(mem, 0xFF, size);
}

void host_flash_close(void)
{
    if (mem != NULL)
        munmap(mem, size);
    mem = NULL;
}

void host_flash_cut_after(long n)
{
    cut_at = n < 0 ? -1 : ops + n;
}

long host_flash_ops(void)
{
    return ops;
}

bool host_flash_violation(void)
{
    return violation;
}

uint8_t *host_flash_mem(void)
{
    return mem;
}

uint8_t *host_area_mem(enum ota_area area)
{
    uint32_t addr;

    if (mem == NULL || !ota_area_span(map, area, 0, 0, &addr))
        return NULL;
    return mem + (addr - HOST_FLASH_BASE);
}

long host_flash_erases(enum ota_area area)
{
    return (unsigned)area < OTA_AREA_COUNT ? erases[area] : 0;
}

/* Counts an operation; true if power fails during it. */
static bool counts_and_cuts(void)
{
    ops++;
    return cut_at >= 0 && ops == cut_at;
}

static void power_fails(void)
{
    cut_at = -1;
    longjmp(*host_power_cut, 1);
}

/* The bytes of [@off, @off + @len) of @area, or NULL outside it. */
static uint8_t *span(enum ota_area area, uint32_t off, uint32_t len)
{
    uint32_t addr;

    if (mem == NULL || !ota_area_span(map, area, off, len, &addr))
        return NULL;
    return mem + (addr - HOST_FLASH_BASE);
}

int ota_port_flash_erase(enum ota_area area, uint32_t off)
{
    uint32_t start, sector;
    uint8_t *dst;

    if (!ota_area_sector(map, area, off, &start, &sector) || start != off ||
        (dst = span(area, off, sector)) == NULL)
        return -EINVAL;
    erases[area]++;
    if (counts_and_cuts()) {
        /* Interrupted: part of the sector erased, the rest as it was. */
        memset(dst, 0xFF, sector / 2);
        power_fails();
    }
    memset(dst, 0xFF, sector);
    return 0;
}

int ota_port_flash_program(enum ota_area area, uint32_t off, const void *data, uint32_t len)
{
    const uint8_t *src = data;
    uint8_t *dst = span(area, off, len);

    if (dst == NULL)
        return -EINVAL;
    for (uint32_t i = 0; i < len; i++) {
        if ((dst[i] & src[i]) != src[i]) {
            fprintf(stderr, "host flash: programming 0x%02x over 0x%02x at area %d + 0x%x sets bits\n",
                    src[i], dst[i], (int)area, off + i);
            violation = true;
            return -EIO;
        }
    }
    if (counts_and_cuts()) {
        /* Interrupted: the first half of the bytes programmed. */
        for (uint32_t i = 0; i < len / 2; i++)
            dst[i] &= src[i];
        power_fails();
    }
    for (uint32_t i = 0; i < len; i++)
        dst[i] &= src[i];
    return 0;
}

int ota_port_flash_read(enum ota_area area, uint32_t off, void *buf, uint32_t len)
{
    const uint8_t *src = span(area, off, len);

    if (src == NULL)
        return -EINVAL;
    memcpy(buf, src, len);
    return 0;
}
