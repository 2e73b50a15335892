/* SPDX-License-Identifier: MIT */
/* The flash of the STM32F401 (512 KiB, RM0368) and F405/F407 (1 MiB,
 * RM0090), register-level ("embedded flash memory interface"): the same
 * controller, and the same sectors as far as the F401's go (4 x 16 KiB,
 * 64 KiB, then 128 KiB each).
 *
 * The core names an area and an offset in it; the map of the build
 * (layout_f401.c or layout_f405.c, from f4_layouts.h) says where that is.
 * Anything outside the map's areas is refused, and so, whatever the map
 * says, is every sector of the layout's keep-out set: the bootloader's
 * sectors 0-1 and, on the F405, sector 4 (the application's own data).
 *
 * Parallelism: 32-bit (PSIZE x32) for erasing and for aligned words, 8-bit
 * for the unaligned head and tail of a write. x32 needs a 2.7-3.6 V supply
 * (RM0368, "program/erase parallelism"), which every board carrying an
 * ESP8266 has (3.3 V), and programs a 256-byte block with 64 word operations
 * of about 16 us instead of 256 byte operations; sector erases are faster
 * too. A board powered below 2.7 V must change PSIZE below to
 * FLASH_CR_PSIZE_X8 (the read-back check would catch the failed writes).
 *
 * Erasing or programming stalls every read of the flash until it is done. The
 * code that starts an operation and waits for it runs from SRAM (RAMFUNC),
 * with the vector table and the SysTick and USART1 handlers, so the clock and
 * the ESP8266 reception go on meanwhile. The bootloader never erases its own
 * sectors, so it always has code to come back to. */
#include "clock.h"
#include "f4_layouts.h"
#include "layout.h"
#include "ota_flash.h"
#include "ota_port.h"
#include "regs.h"
#include "watchdog.h"

#define PSIZE FLASH_CR_PSIZE_X32

/* STM32F401xD/xE and STM32F405xx/F407xx datasheets, flash characteristics
 * at x32: a 128 KiB sector (the largest on both) erases in 2 s at most, a
 * word programs in 100 us at most; with margin. */
#define ERASE_TIMEOUT_MS 5000u
#define PROGRAM_TIMEOUT_MS 5u
/* Second bound on the same waits, in loop turns (at least tens of seconds at
 * 84 MHz), for the case where nothing runs the SysTick. */
#define SPIN_LIMIT (1u << 30)

/* Offset from FLASH_BASE_ADDR of physical sector @n (n = 12 is the end of a
 * 1 MiB flash): the inverse of f4_sector_of(). */
static uint32_t sector_start(uint32_t n)
{
    if (n <= 4)
        return n * 16u * F4_KIB;
    return (n - 4) * 128u * F4_KIB;
}

/* The address of [@off, @off + @len) of @area if it lies inside the area,
 * inside the flash, and in no sector of the keep-out set. */
static bool span_ok(enum ota_area area, uint32_t off, uint32_t len, uint32_t *ret_addr)
{
    uint32_t addr, first, last;

    if (!ota_area_span(ota_port_flash_map(), area, off, len, &addr) || addr < FLASH_BASE_ADDR ||
        addr - FLASH_BASE_ADDR > layout.flash_size ||
        len > layout.flash_size - (addr - FLASH_BASE_ADDR))
        return false;
    first = f4_sector_of(addr - FLASH_BASE_ADDR);
    last = len ? f4_sector_of(addr - FLASH_BASE_ADDR + len - 1u) : first;
    for (uint32_t n = first; n <= last; n++)
        if (layout.keep_out & (1u << n))
            return false;
    *ret_addr = addr;
    return true;
}

/* Waits for the end of the running operation, feeding the watchdog; returns
 * FLASH_SR. Inlined into the SRAM functions below: it must not be a call
 * into flash (watchdog_feed() is in SRAM too). */
ALWAYS_INLINE uint32_t flash_wait(uint32_t timeout_ms)
{
    uint32_t start = clock_ms, sr;

    for (uint32_t n = 0; ((sr = FLASH_SR) & FLASH_SR_BSY) && n < SPIN_LIMIT; n++) {
        if (clock_ms - start > timeout_ms)
            break;
        watchdog_feed();
    }
    return sr;
}

static RAMFUNC uint32_t flash_ram_erase(uint32_t cr)
{
    FLASH_CR = cr;
    FLASH_CR = cr | FLASH_CR_STRT;
    return flash_wait(ERASE_TIMEOUT_MS);
}

static RAMFUNC uint32_t flash_ram_program(uint32_t cr, uint32_t addr, uint32_t value)
{
    FLASH_CR = cr;
    if ((cr & FLASH_CR_PSIZE_X32) == FLASH_CR_PSIZE_X32)
        *(volatile uint32_t *)addr = value;
    else
        *(volatile uint8_t *)addr = (uint8_t)value;
    dsb();
    return flash_wait(PROGRAM_TIMEOUT_MS);
}

/* Unlocks the control register and clears the error flags a previous
 * operation (or a debugger) may have left: a stale PGSERR or PGPERR would
 * refuse the next operation. 0 or negative. */
static int flash_begin(void)
{
    if (flash_wait(PROGRAM_TIMEOUT_MS) & FLASH_SR_BSY)
        return -1;
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    if (FLASH_CR & FLASH_CR_LOCK)
        return -1;
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP; /* write 1 to clear */
    return 0;
}

/* The ART accelerator may hold lines of what was just erased or written; an
 * application running with the caches on would read them stale. RM0368 (ART
 * accelerator): a cache may be reset only while it is disabled. */
static void flash_flush_caches(void)
{
    uint32_t acr = FLASH_ACR, off = acr & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN);

    if (acr == off)
        return;
    FLASH_ACR = off;
    FLASH_ACR = off | FLASH_ACR_ICRST | FLASH_ACR_DCRST;
    FLASH_ACR = off;
    FLASH_ACR = acr;
}

/* Ends an operation whose last status was @sr: locks the flash again and
 * turns the status into 0 or negative. */
static int flash_end(uint32_t sr)
{
    FLASH_CR = 0;
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP;
    FLASH_CR = FLASH_CR_LOCK;
    flash_flush_caches();
    return (sr & (FLASH_SR_ERRORS | FLASH_SR_BSY)) ? -1 : 0;
}

/* The core names a sector by the offset of its start in an area; the map's
 * sector there must be one physical sector of the chip, exactly. */
int ota_port_flash_erase(enum ota_area area, uint32_t off)
{
    uint32_t start, size, addr, sector;

    if (!ota_area_sector(ota_port_flash_map(), area, off, &start, &size) || start != off ||
        !span_ok(area, off, size, &addr))
        return -1;
    sector = f4_sector_of(addr - FLASH_BASE_ADDR);
    if (sector_start(sector) != addr - FLASH_BASE_ADDR ||
        sector_start(sector + 1) - sector_start(sector) != size)
        return -1;
    if (flash_begin() < 0)
        return -1;
    uint32_t sr = flash_ram_erase(FLASH_CR_SER | FLASH_CR_SNB(sector) | PSIZE);
    if (flash_end(sr) < 0)
        return -1;

    /* Trust but verify: a worn or protected sector must not pass as erased. */
    const volatile uint32_t *p = (const volatile uint32_t *)addr;
    for (uint32_t i = 0; i < size / 4u; i++)
        if (p[i] != 0xFFFFFFFFu)
            return -1;
    return 0;
}

int ota_port_flash_program(enum ota_area area, uint32_t off, const void *data, uint32_t len)
{
    const uint8_t *src = data;
    uint32_t addr, sr = 0;

    if (!span_ok(area, off, len, &addr))
        return -1;
    if (len == 0)
        return 0;
    if (flash_begin() < 0)
        return -1;
    for (uint32_t a = addr, end = addr + len; a < end;) {
        if ((a & 3u) == 0 && end - a >= 4u) {
            uint32_t word = (uint32_t)src[0] | (uint32_t)src[1] << 8 |
                            (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
            sr = flash_ram_program(FLASH_CR_PG | PSIZE, a, word);
            a += 4;
            src += 4;
        } else {
            sr = flash_ram_program(FLASH_CR_PG | FLASH_CR_PSIZE_X8, a, *src);
            a++;
            src++;
        }
        if (sr & (FLASH_SR_ERRORS | FLASH_SR_BSY))
            break;
    }
    if (flash_end(sr) < 0)
        return -1;

    /* Programming can only clear bits: a byte that needed a 0 -> 1 shows up
     * here, as does a write the hardware silently refused. */
    if (__builtin_memcmp((const void *)addr, data, len) != 0)
        return -1;
    return 0;
}

int ota_port_flash_read(enum ota_area area, uint32_t off, void *buf, uint32_t len)
{
    uint32_t addr;

    if (!ota_area_span(ota_port_flash_map(), area, off, len, &addr))
        return -1;
    __builtin_memcpy(buf, (const void *)addr, len);
    return 0;
}
