/* SPDX-License-Identifier: MIT */
/* The contract between the portable OTA core and a port: everything the core
 * needs from a target, in one place. A port implements every function below;
 * firmware/PORTING.md explains each one and what the core expects of it.
 *
 * Freestanding: only <stdint.h>, <stdbool.h> and <stddef.h>. */
#ifndef OTA_PORT_H
#define OTA_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Flash ------------------------------------------------------------ */

/* The flash as named areas (MCUboot's flash_area). The core addresses every
 * byte as (area, offset in the area); only the port knows where an area is
 * physically. A port declares a table and translates. */
enum ota_area {
    OTA_AREA_PRIMARY,    /* the application runs from here */
    OTA_AREA_SECONDARY,  /* downloads land here: dual-slot layouts only */
    OTA_AREA_SCRATCH,    /* one spare sector for the swap: dual-slot only */
    OTA_AREA_STATE_A,    /* the boot state: two areas of one sector each */
    OTA_AREA_STATE_B,
    OTA_AREA_COUNT
};

struct ota_flash_area {
    uint32_t addr;                /* where the CPU reads offset 0: only the
                                     vector-table check and the jump use it */
    uint32_t nsectors;            /* 0: the layout has no such area */
    const uint32_t *sector_size;  /* bytes of each of its erase sectors */
};

/* The layout follows from the table: with a secondary area it is dual-slot
 * (download beside the running application, install by swap, trial boot and
 * revert); without one, single-slot (download over the application). In a
 * dual-slot map the primary and secondary areas have the same sectors, and
 * the scratch area one sector at least as large as each of them. */
struct ota_flash_map {
    struct ota_flash_area area[OTA_AREA_COUNT];
};

/* The port's flash map (static; the core never frees it). */
const struct ota_flash_map *ota_port_flash_map(void);

/* Erases the sector of @area that starts at offset @off: every byte reads
 * 0xFF afterwards. 0 or negative. */
int ota_port_flash_erase(enum ota_area area, uint32_t off);

/* Programs @len bytes at offset @off of @area. Programming can only clear
 * bits (1 -> 0); the core only programs erased bytes, or bytes again with
 * the same value. 0 or negative. */
int ota_port_flash_program(enum ota_area area, uint32_t off, const void *data, uint32_t len);

/* Reads @len bytes at offset @off of @area into @buf. 0 or negative. */
int ota_port_flash_read(enum ota_area area, uint32_t off, void *buf, uint32_t len);

/* Keeps a watchdog from resetting the chip during a long operation. The
 * core calls it before every erase, between the 256-byte chunks of a copy,
 * every 16 KiB of a CRC pass, and before every request and every wait for
 * response bytes. The waits themselves (ota_port_sleep_ms, a back-off of up
 * to backoff_max_ms; ota_port_net_recv, up to the receive timeout;
 * ota_port_net_open, which may join a network) are the port's: it must feed
 * the watchdog inside them. A port without a watchdog does nothing. */
void ota_port_watchdog_feed(void);

/* ---- Network transport: one TCP connection to the server -------------- */

/* Opens the connection to the server (joining the network first if the
 * port needs to). 0 or negative. */
int ota_port_net_open(void);

/* Sends all @len bytes. 0 or negative. */
int ota_port_net_send(const void *data, uint32_t len);

/* Receives up to @len bytes, waiting at most @timeout_ms for the first one.
 * Returns the count (> 0), 0 on timeout, negative if the connection is gone. */
int ota_port_net_recv(void *buf, uint32_t len, uint32_t timeout_ms);

/* Closes the connection (a no-op if it is not open). */
void ota_port_net_close(void);

/* ---- Configuration ------------------------------------------------------ */

/* What and where to download from, and who asks. */
struct ota_server {
    const char *host;     /* for the Host header, e.g. "192.168.1.10" */
    uint16_t port;        /* for the Host header */
    const char *name;     /* the firmware NAME on the server */
    const char *device_id; /* X-Device-Id: 1..64 of [A-Za-z0-9._:-], the chip's
                              unique ID (ota_fmt_hex); NULL: the server knows the
                              device by its address */
};

const struct ota_server *ota_port_server(void);

/* ---- Trusted keys --------------------------------------------------------- */

/* A public key the bootloader trusts for signed manifests: its key id (the
 * first 8 bytes of SHA-256 over X || Y) and its P-256 point X || Y, both as
 * scripts/otakeys.py writes them from a KEY.pub. */
struct ota_key {
    uint8_t id[8];
    uint8_t xy[64];
};

/* The port's key table (static; the core never frees it) and its length in
 * *@count. Two or more keys let a new key be rolled out before the old one
 * is retired. */
const struct ota_key *ota_port_keys(uint32_t *count);

/* ---- Time, log, control ------------------------------------------------- */

/* Milliseconds since boot; wraps around (the core compares differences). */
uint32_t ota_port_millis(void);

/* Waits @ms milliseconds. */
void ota_port_sleep_ms(uint32_t ms);

/* Writes one log line (@line has no newline). */
void ota_port_log(const char *line);

/* The RAM an application's initial stack pointer must point into. */
struct ota_ram {
    uint32_t base;
    uint32_t size;
};

/* The port's RAM (static; the core never frees it). The core checks an
 * application's vector table against it before jumping. */
const struct ota_ram *ota_port_ram(void);

/* Starts the application whose vector table is at @app_addr. Does not return
 * on a device; a simulator may return to let its caller observe the boot. */
void ota_port_jump(uint32_t app_addr);

/* Resets the system. Does not return on a device. */
void ota_port_reset(void);

#endif
