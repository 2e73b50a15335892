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

#include "f401_layout.h"
#include "host.h"
#include "ota_port.h"
#include "ota_state.h"

static const struct ota_flash_layout layout = F401_LAYOUT(HOST_FLASH_BASE);

static uint8_t *mem; /* mapped: with a file, every change is in the file */
static long ops, cut_at = -1;
static bool violation;
jmp_buf *host_power_cut;

const struct ota_flash_layout *ota_port_flash_layout(void)
{
    return &layout;
}

int host_flash_open(const char *path)
{
    struct stat st;
    bool fresh = true;
    int fd = -1;

    host_flash_close();
    ops = 0;
    cut_at = -1;
    violation = false;
    if (path == NULL) {
        mem = mmap(NULL, HOST_FLASH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        if (fstat(fd, &st) < 0 || (st.st_size != 0 && st.st_size != HOST_FLASH_SIZE)) {
            close(fd);
            return -EINVAL; /* not a flash image of this size */
        }
        fresh = st.st_size == 0;
        if (fresh && ftruncate(fd, HOST_FLASH_SIZE) < 0) {
            close(fd);
            return -errno;
        }
        mem = mmap(NULL, HOST_FLASH_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
    }
    if (mem == MAP_FAILED) {
        mem = NULL;
        return -ENOMEM;
    }
    if (fresh)
        memset(mem, 0xFF, HOST_FLASH_SIZE); /* a new chip comes erased */
    return 0;
}

void host_flash_close(void)
{
    if (mem != NULL)
        munmap(mem, HOST_FLASH_SIZE);
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

static bool in_range(uint32_t addr, uint32_t len)
{
    return addr >= HOST_FLASH_BASE && len <= HOST_FLASH_SIZE &&
           addr - HOST_FLASH_BASE <= HOST_FLASH_SIZE - len;
}

int ota_port_flash_erase(uint32_t sector)
{
    uint32_t off, size;

    if (sector >= layout.nsectors)
        return -EINVAL;
    off = ota_flash_sector_addr(&layout, sector) - HOST_FLASH_BASE;
    size = f401_sector_size[sector];
    if (counts_and_cuts()) {
        /* Interrupted: part of the sector erased, the rest as it was. */
        memset(mem + off, 0xFF, size / 2);
        power_fails();
    }
    memset(mem + off, 0xFF, size);
    return 0;
}

int ota_port_flash_program(uint32_t addr, const void *data, uint32_t len)
{
    const uint8_t *src = data;
    uint8_t *dst;

    if (!in_range(addr, len))
        return -EINVAL;
    dst = mem + (addr - HOST_FLASH_BASE);
    for (uint32_t i = 0; i < len; i++) {
        if ((dst[i] & src[i]) != src[i]) {
            fprintf(stderr, "host flash: programming 0x%02x over 0x%02x at 0x%08x sets bits\n",
                    src[i], dst[i], addr + i);
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

int ota_port_flash_read(uint32_t addr, void *buf, uint32_t len)
{
    if (!in_range(addr, len))
        return -EINVAL;
    memcpy(buf, mem + (addr - HOST_FLASH_BASE), len);
    return 0;
}
