/* SPDX-License-Identifier: MIT */
/* The host port: the OTA core on a Linux machine, for the tests and for
 * otaget. Flash is simulated in a file with real flash semantics and an
 * STM32F401-like sector map, and can lose power at a chosen operation; the
 * transport is a TCP socket, or any byte source a test plugs in. */
#ifndef OTA_HOST_H
#define OTA_HOST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "ota_port.h"

/* The simulated flash, at 0x08000000, in one of the two maps of
 * port/f4_layouts.h: the single-slot f401 (512 KiB, application at
 * 0x08010000, the default) or the dual-slot f405 (1 MiB, primary slot at
 * 0x08020000). */
#define HOST_FLASH_BASE 0x08000000u
#define HOST_FLASH_SIZE (512u * 1024u) /* of the f401 map */
#define HOST_APP_ADDR 0x08010000u      /* of the f401 map */

enum host_layout { HOST_LAYOUT_F401, HOST_LAYOUT_F405 };

/* Chooses the map of the next host_flash_open(). */
void host_flash_set_layout(enum host_layout layout);

/* Bytes of the current map's flash. */
uint32_t host_flash_size(void);

/* Opens the flash image @path (created erased if missing, or kept in memory
 * only if @path is NULL). A file must have the map's size. Returns 0 or a
 * negative errno. */
int host_flash_open(const char *path);

/* Erases the whole chip of the open flash and resets its counters, as a
 * fresh host_flash_open(NULL) would, without mapping it again. */
void host_flash_reset(void);

/* Writes the image back (if it has a file) and frees it. */
void host_flash_close(void);

/* Cuts the power during the @n-th flash operation from now (1: the next
 * one): that erase or program is applied only half-way, then the core is
 * abandoned with longjmp(*host_power_cut, 1). A negative @n never cuts. */
void host_flash_cut_after(long n);

/* Where a power cut jumps to; set by the caller before running the core. */
extern jmp_buf *host_power_cut;

/* Erase and program operations since host_flash_open(). */
long host_flash_ops(void);

/* True once the core tried to set a bit by programming (a core bug on real
 * flash); such a program operation fails. */
bool host_flash_violation(void);

/* Direct access to the simulated flash contents, for tests: the whole chip,
 * or the start of one area of the map (NULL if the map has none). */
uint8_t *host_flash_mem(void);
uint8_t *host_area_mem(enum ota_area area);

/* Sector erases since host_flash_open(), of the area @area. */
long host_flash_erases(enum ota_area area);

/* A byte transport for the core's ota_port_net_*(): the default is a TCP
 * connection to the configured host and port. */
struct host_net_ops {
    int (*open)(void *ctx);
    int (*send)(void *ctx, const void *data, uint32_t len);
    int (*recv)(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms);
    void (*close)(void *ctx);
    void *ctx;
};

/* Uses @ops (NULL: TCP) for the transport. */
void host_net_use(const struct host_net_ops *ops);

/* The server the core talks to: @host (a name, an IPv4 address or an IPv6
 * one without brackets; the Host header gets it in brackets), @port, @name.
 * The strings are copied. */
void host_set_server(const char *host, uint16_t port, const char *name);

/* The device's X-Device-Id (copied; NULL: none, as at first). */
void host_set_device_id(const char *id);

/* Log lines go to stderr unless @quiet. */
void host_set_quiet(bool quiet);

/* The keys ota_port_keys() returns (the caller keeps @k alive); none at first. */
void host_set_keys(const struct ota_key *k, uint32_t n);

/* Sleeps are real unless @virtual_time: then they only add to a counter. */
void host_set_virtual_sleep(bool virtual_time);
uint64_t host_slept_ms(void);

/* With virtual sleeps: once the device has slept @ms more (from now), the
 * next sleep abandons the core with longjmp(*host_power_cut, 2), as a test's
 * bound on a device that never boots. 0: no bound. */
void host_set_sleep_budget(uint64_t ms);

/* The address ota_port_jump() was last called with (0: none), and resets. */
uint32_t host_jumped_to(void);
unsigned host_resets(void);
void host_clear_boot(void);

#endif
