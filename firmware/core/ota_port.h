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

/* The flash as the core sees it: sectors of possibly different sizes from
 * @base, and which of them hold the boot state and the application. */
struct ota_flash_layout {
    uint32_t base;                 /* address of sector 0 */
    const uint32_t *sector_size;   /* bytes of each sector */
    uint32_t nsectors;
    uint32_t state_sector[2];      /* two sectors for the boot state (>= 8 KiB each) */
    uint32_t app_first_sector;     /* the application area: these sectors, */
    uint32_t app_last_sector;      /* inclusive, contiguous */
};

/* The port's flash layout (static; the core never frees it). */
const struct ota_flash_layout *ota_port_flash_layout(void);

/* Erases sector @sector: every byte reads 0xFF afterwards. 0 or negative. */
int ota_port_flash_erase(uint32_t sector);

/* Programs @len bytes at @addr. Programming can only clear bits (1 -> 0);
 * the core only programs erased bytes, or bytes again with the same value.
 * 0 or negative. */
int ota_port_flash_program(uint32_t addr, const void *data, uint32_t len);

/* Reads @len bytes at @addr into @buf. 0 or negative. */
int ota_port_flash_read(uint32_t addr, void *buf, uint32_t len);

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

/* What and where to download from. */
struct ota_server {
    const char *host;     /* for the Host header, e.g. "192.168.1.10" */
    uint16_t port;        /* for the Host header */
    const char *name;     /* the firmware NAME on the server */
};

const struct ota_server *ota_port_server(void);

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
