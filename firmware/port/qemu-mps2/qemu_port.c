/* SPDX-License-Identifier: MIT */
/* The port contract on QEMU's mps2-an386: the log on UART0, the network on
 * UART1 (a QEMU chardev socket to the server), flash emulated on the code
 * RAM with real flash semantics and written through to a host file by
 * semihosting, so that killing QEMU is a power cut. */
#include <stdint.h>
#include <string.h>

#include "f4_layouts.h"
#include "mps2.h"
#include "ota_flash.h"
#include "ota_log.h"
#include "ota_port.h"
#include "qemu_port.h"
#include "semihost.h"

/* mps2-an386 has no unique ID: a fixed one of an STM32's 24 hex digits
 * stands in, and a run can give its own with id=ID. */
#define QEMU_DEVICE_ID "a38600000000000000000001"

static char device_id[65] = QEMU_DEVICE_ID;
static const struct ota_server server = {
    .host = "127.0.0.1", .port = 8000, .name = "app", .device_id = device_id};

static volatile uint32_t ticks;
static int flash_fd = -1;
static uint32_t ops, cut_at;
/* trace: every flash operation; trace=coarse: only erases and programs of
 * the boot state (the boundaries of download blocks and swap steps), so that
 * timing them costs the guest little. */
static enum { TRACE_NONE, TRACE_ALL, TRACE_COARSE } trace;

/* ---- UARTs and time ------------------------------------------------------ */

static void uart_init(uint32_t base)
{
    UART_BAUDDIV(base) = 16;
    /* TX must be enabled before the first write; the first read after
     * enabling RX avoids a delayed first byte (see the QEMU notes). */
    UART_CTRL(base) = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
    (void)UART_DATA(base);
}

static void uart_put(uint32_t base, char c)
{
    while (UART_STATE(base) & UART_STATE_TX_FULL)
        ;
    UART_DATA(base) = (uint8_t)c;
}

void qemu_log_raw(const char *s)
{
    while (*s != '\0')
        uart_put(UART0_BASE, *s++);
}

void SysTick_Handler(void)
{
    ticks++;
}

uint32_t ota_port_millis(void)
{
    return ticks;
}

uint32_t qemu_micros(void)
{
    uint32_t t, cvr;

    /* A tick between the two reads would pair the new count with the old
     * tick: read until they agree. */
    do {
        t = ticks;
        cvr = SYST_CVR;
    } while (t != ticks);
    return t * 1000u + (SYST_RVR - cvr) / (SYSCLK_HZ / 1000000u);
}

/* A wait the bootloader chose (a back-off) is not a hang: the watchdog is
 * fed through it. */
void ota_port_sleep_ms(uint32_t ms)
{
    uint32_t start = ticks;

    while (ticks - start < ms) {
        ota_port_watchdog_feed();
        __asm__ volatile("wfi");
    }
}

void ota_port_log(const char *line)
{
    qemu_log_raw(line);
    qemu_log_raw("\n");
}

static uint32_t parse_u32(const char *s)
{
    uint32_t v = 0;

    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

void qemu_port_init(bool load)
{
    const char *path, *cut, *trace_arg, *id;
    char name[200];
    uint32_t n = 0;

    uart_init(UART0_BASE);
    uart_init(UART1_BASE);
    SYST_RVR = SYSCLK_HZ / 1000 - 1;
    SYST_CVR = 0;
    SYST_CSR = 0x7; /* processor clock, interrupt, enabled */

    path = semihost_arg("flash");
    if (path == 0 || *path == '\0') {
        qemu_log_raw("port: no flash=FILE argument\n");
        semihost_exit(EXIT_NOTHING_TO_DO);
    }
    while (path[n] != ' ' && path[n] != '\0' && n < sizeof(name) - 1) {
        name[n] = path[n];
        n++;
    }
    name[n] = '\0';
    flash_fd = semihost_open_rw(name);
    if (flash_fd < 0) {
        qemu_log_raw("port: cannot open the flash file\n");
        semihost_exit(EXIT_NOTHING_TO_DO);
    }
    cut = semihost_arg("cut");
    cut_at = cut != 0 ? parse_u32(cut) : 0;
    id = semihost_arg("id");
    for (n = 0; id != 0 && id[n] != ' ' && id[n] != '\0' && n < sizeof(device_id) - 1; n++)
        device_id[n] = id[n];
    if (id != 0)
        device_id[n] = '\0';
    trace_arg = semihost_arg("trace");
    if (trace_arg != 0)
        trace = trace_arg[0] == 'c' ? TRACE_COARSE : TRACE_ALL;
    /* The bootloader's own sectors come from the ELF; the rest is the file. */
    if (load && semihost_pread(flash_fd, BOOT_SIZE, (void *)(FLASH_BASE + BOOT_SIZE),
                               qemu_flash_size - BOOT_SIZE) < 0) {
        qemu_log_raw("port: cannot read the flash file\n");
        semihost_exit(EXIT_NOTHING_TO_DO);
    }
}

/* ---- Flash --------------------------------------------------------------- */

static const char *const area_name[OTA_AREA_COUNT] = {
    [OTA_AREA_PRIMARY] = "primary", [OTA_AREA_SECONDARY] = "secondary",
    [OTA_AREA_SCRATCH] = "scratch", [OTA_AREA_STATE_A] = "state-a",
    [OTA_AREA_STATE_B] = "state-b",
};

/* The address of [@off, @off + @len) of @area, if it lies inside the area
 * and the flash file. The bootloader's sectors are in no area. */
static bool span(enum ota_area area, uint32_t off, uint32_t len, uint32_t *addr)
{
    return ota_area_span(ota_port_flash_map(), area, off, len, addr) &&
           *addr >= FLASH_BASE + BOOT_SIZE && *addr - FLASH_BASE + len <= qemu_flash_size;
}

/* Counts an operation; with cut=N, the N-th one is applied half-way (in the
 * file: that is what survives) and the power fails. */
static bool cut_now(void)
{
    ops++;
    return cut_at != 0 && ops == cut_at;
}

static void power_fails(void)
{
    qemu_log_raw("port: power cut\n");
    semihost_exit(EXIT_POWER_CUT);
}

/* The trace names the physical place (the F4 sector, the absolute address:
 * what the single-slot tests parse) and the area with the offset in it (what
 * the dual-slot tests parse), with the time in microseconds. */
int ota_port_flash_erase(enum ota_area area, uint32_t off)
{
    uint32_t addr, start, size;
    uint8_t ff[256];

    if (!ota_area_sector(ota_port_flash_map(), area, off, &start, &size) || start != off ||
        !span(area, off, size, &addr))
        return -1;
    if (trace != TRACE_NONE)
        ota_logf("flash op %u: erase sector %u (%s +0x%x) t=%u", ops + 1,
                 f4_sector_of(addr - FLASH_BASE), area_name[area], off, qemu_micros());
    memset(ff, 0xFF, sizeof(ff));
    for (uint32_t at = 0; at < size; at += sizeof(ff)) {
        if (at == size / 2 && cut_now())
            power_fails();
        if (semihost_pwrite(flash_fd, addr - FLASH_BASE + at, ff, sizeof(ff)) < 0)
            return -1;
    }
    memset((void *)addr, 0xFF, size);
    return 0;
}

int ota_port_flash_program(enum ota_area area, uint32_t off, const void *data, uint32_t len)
{
    const uint8_t *src = data;
    uint32_t addr;
    uint8_t *dst;

    if (!span(area, off, len, &addr))
        return -1;
    dst = (uint8_t *)addr;
    if (trace == TRACE_ALL ||
        (trace == TRACE_COARSE && (area == OTA_AREA_STATE_A || area == OTA_AREA_STATE_B)))
        ota_logf("flash op %u: program 0x%x %u (%s +0x%x) t=%u", ops + 1, addr, len,
                 area_name[area], off, qemu_micros());
    for (uint32_t i = 0; i < len; i++) {
        if ((dst[i] & src[i]) != src[i]) {
            ota_logf("flash: program would set bits at 0x%x", addr + i);
            semihost_exit(EXIT_FLASH_VIOLATION);
        }
    }
    if (cut_now()) {
        uint8_t half[256];
        uint32_t n = len / 2 < sizeof(half) ? len / 2 : sizeof(half);

        for (uint32_t i = 0; i < n; i++)
            half[i] = dst[i] & src[i];
        semihost_pwrite(flash_fd, addr - FLASH_BASE, half, n);
        power_fails();
    }
    for (uint32_t i = 0; i < len; i++)
        dst[i] &= src[i];
    return semihost_pwrite(flash_fd, addr - FLASH_BASE, dst, len);
}

int ota_port_flash_read(enum ota_area area, uint32_t off, void *buf, uint32_t len)
{
    uint32_t addr;

    if (!span(area, off, len, &addr))
        return -1;
    memcpy(buf, (const void *)addr, len);
    return 0;
}

/* ---- Network: UART1 is a TCP connection QEMU holds to the server ------- */

/* QEMU connects the chardev (reconnect=1) only once its main loop runs,
 * while the guest is already executing: bytes sent before that are lost,
 * and a first request sent within the first tens of milliseconds of a run
 * went unanswered. A Wi-Fi module also needs time to join its network, so
 * the link counts as up LINK_UP_MS after power-on. */
#define LINK_UP_MS 300u

int ota_port_net_open(void)
{
    while (semihost_elapsed_ms() < LINK_UP_MS)
        ota_port_sleep_ms(10);
    return 0; /* QEMU holds the connection and reconnects by itself */
}

int ota_port_net_send(const void *data, uint32_t len)
{
    const char *p = data;

    while (len-- > 0)
        uart_put(UART1_BASE, *p++);
    return 0;
}

int ota_port_net_recv(void *buf, uint32_t len, uint32_t timeout_ms)
{
    uint8_t *out = buf;
    uint32_t start = ticks, n = 0;

    /* The wait is bounded by the core's timeout: not a hang, so the
     * watchdog is fed through it. Unfed, a 1.5 s timeout measured in
     * SysTicks was seen to outlast the watchdog's 3 s on a loaded host. */
    while (!(UART_STATE(UART1_BASE) & UART_STATE_RX_FULL)) {
        ota_port_watchdog_feed();
        if (ticks - start >= timeout_ms)
            return 0;
    }
    while (n < len && (UART_STATE(UART1_BASE) & UART_STATE_RX_FULL))
        out[n++] = (uint8_t)UART_DATA(UART1_BASE);
    return (int)n;
}

/* There is no connection to close: the link stays. What a real close does
 * for the next request, a fresh byte stream, is done by dropping whatever
 * is still arriving of an abandoned response. */
void ota_port_net_close(void)
{
    uint32_t quiet = ticks;

    while (ticks - quiet < 200) {
        ota_port_watchdog_feed();
        if (UART_STATE(UART1_BASE) & UART_STATE_RX_FULL) {
            (void)UART_DATA(UART1_BASE);
            quiet = ticks;
        }
    }
}

const struct ota_server *ota_port_server(void)
{
    return &server;
}

/* ---- Control --------------------------------------------------------------- */

const struct ota_ram *ota_port_ram(void)
{
    static const struct ota_ram ram = {.base = SRAM_BASE, .size = SRAM_END - SRAM_BASE};

    return &ram;
}

void ota_port_jump(uint32_t app_addr)
{
    const uint32_t *v = (const uint32_t *)app_addr;

    /* The guest time of the jump: what the checks before it took
     * (bench/bootcheck.py, under -icount shift=0). */
    if (trace != TRACE_NONE)
        ota_logf("jump t=%u", qemu_micros());
    __asm__ volatile("cpsid i" ::: "memory");
    SYST_CSR = 0;
    SCB_VTOR = app_addr;
    __asm__ volatile("msr msp, %0\n"
                     "cpsie i\n"
                     "bx %1\n" ::"r"(v[0]),
                     "r"(v[1])
                     : "memory");
    __builtin_unreachable();
}

void ota_port_reset(void)
{
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = AIRCR_SYSRESETREQ;
    for (;;)
        ;
}
