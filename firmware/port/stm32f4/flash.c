/* The STM32F401RE's 512 KiB of flash, register-level (RM0368,
 * "embedded flash memory interface").
 *
 *   sector 0-1  0x08000000  2 x 16 KiB   the bootloader: never erased or written
 *   sector 2    0x08008000  16 KiB       boot state, copy A
 *   sector 3    0x0800C000  16 KiB       boot state, copy B
 *   sector 4    0x08010000  64 KiB       the application ...
 *   sector 5-7  0x08020000  3 x 128 KiB  ... up to 0x0807FFFF (448 KiB)
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
#include "f401_layout.h"
#include "ota_port.h"
#include "ota_state.h"
#include "regs.h"

#define NSECTORS F401_NSECTORS
#define BOOT_SECTORS 2u /* sectors 0 and 1 */
#define FLASH_END (FLASH_BASE_ADDR + FLASH_SIZE)
#define WRITABLE_START (FLASH_BASE_ADDR + 32u * 1024u)

#define PSIZE FLASH_CR_PSIZE_X32

/* STM32F401xD/xE datasheet, flash characteristics at x32: a 128 KiB sector
 * erases in 2 s at most, a word programs in 100 us at most; with margin. */
#define ERASE_TIMEOUT_MS 5000u
#define PROGRAM_TIMEOUT_MS 5u
/* Second bound on the same waits, in loop turns (at least tens of seconds at
 * 84 MHz), for the case where nothing runs the SysTick. */
#define SPIN_LIMIT (1u << 30)

static const struct ota_flash_layout layout = F401_LAYOUT(FLASH_BASE_ADDR);

const struct ota_flash_layout *ota_port_flash_layout(void)
{
    return &layout;
}

/* [addr, addr + len) lies within [lo, end of flash). */
static bool range_ok(uint32_t addr, uint32_t len, uint32_t lo)
{
    return addr >= lo && addr <= FLASH_END && len <= FLASH_END - addr;
}

/* Waits for the end of the running operation; returns FLASH_SR. Inlined into
 * the SRAM functions below: it must not be a call into flash. */
ALWAYS_INLINE uint32_t flash_wait(uint32_t timeout_ms)
{
    uint32_t start = clock_ms, sr;

    for (uint32_t n = 0; ((sr = FLASH_SR) & FLASH_SR_BSY) && n < SPIN_LIMIT; n++)
        if (clock_ms - start > timeout_ms)
            break;
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

int ota_port_flash_erase(uint32_t sector)
{
    if (sector < BOOT_SECTORS || sector >= NSECTORS)
        return -1;
    if (flash_begin() < 0)
        return -1;
    uint32_t sr = flash_ram_erase(FLASH_CR_SER | FLASH_CR_SNB(sector) | PSIZE);
    if (flash_end(sr) < 0)
        return -1;

    /* Trust but verify: a worn or protected sector must not pass as erased. */
    const volatile uint32_t *p = (const volatile uint32_t *)ota_flash_sector_addr(&layout, sector);
    for (uint32_t i = 0; i < f401_sector_size[sector] / 4u; i++)
        if (p[i] != 0xFFFFFFFFu)
            return -1;
    return 0;
}

int ota_port_flash_program(uint32_t addr, const void *data, uint32_t len)
{
    const uint8_t *src = data;
    uint32_t sr = 0;

    if (!range_ok(addr, len, WRITABLE_START))
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

int ota_port_flash_read(uint32_t addr, void *buf, uint32_t len)
{
    if (!range_ok(addr, len, FLASH_BASE_ADDR))
        return -1;
    __builtin_memcpy(buf, (const void *)addr, len);
    return 0;
}
