/* SPDX-License-Identifier: MIT */
/* The rest of the contract on a Linux host: the transport (TCP by default,
 * see host_tcp.c), time, log, and a "jump" that only records where the
 * application would start. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "host_tcp.h"
#include "ota_port.h"

static struct ota_server server = {.host = "127.0.0.1", .port = 8000, .name = "firmware"};
static char host_buf[256], host_hdr_buf[sizeof(host_buf) + 2], name_buf[256], id_buf[65];
static const struct host_net_ops *net;
static bool quiet, virtual_sleep;
static uint64_t slept, sleep_limit;
static uint32_t jumped;
static unsigned resets;

/* ---- Transport ------------------------------------------------------------ */

/* Ample for a server on the same machine or network. */
#define CONNECT_TIMEOUT_MS 5000u

static struct host_tcp tcp = {.host = "127.0.0.1", .port = 8000,
                              .connect_timeout_ms = CONNECT_TIMEOUT_MS, .fd = -1};

void host_net_use(const struct host_net_ops *ops)
{
    net = ops;
}

static const struct host_net_ops *ops(void)
{
    static const struct host_net_ops tcp_ops = {host_tcp_open, host_tcp_send, host_tcp_recv,
                                                host_tcp_close, &tcp};

    return net != NULL ? net : &tcp_ops;
}

int ota_port_net_open(void)
{
    return ops()->open(ops()->ctx);
}

int ota_port_net_send(const void *data, uint32_t len)
{
    return ops()->send(ops()->ctx, data, len);
}

int ota_port_net_recv(void *buf, uint32_t len, uint32_t timeout_ms)
{
    return ops()->recv(ops()->ctx, buf, len, timeout_ms);
}

void ota_port_net_close(void)
{
    ops()->close(ops()->ctx);
}

/* ---- Configuration, time, log, control ---------------------------------- */

/* The trusted keys: none until a test or otaget sets them. */
static const struct ota_key *keys;
static uint32_t nkeys;

void host_set_keys(const struct ota_key *k, uint32_t n)
{
    keys = k;
    nkeys = n;
}

const struct ota_key *ota_port_keys(uint32_t *count)
{
    *count = nkeys;
    return keys;
}

void host_set_server(const char *host, uint16_t port, const char *name)
{
    snprintf(host_buf, sizeof(host_buf), "%s", host);
    /* An IPv6 address goes into the Host header in brackets (RFC 7230 5.4),
     * or its port would be one more of its colon-separated groups. */
    snprintf(host_hdr_buf, sizeof(host_hdr_buf), strchr(host_buf, ':') ? "[%s]" : "%s",
             host_buf);
    snprintf(name_buf, sizeof(name_buf), "%s", name);
    host_tcp_close(&tcp);
    host_tcp_init(&tcp, host_buf, port, CONNECT_TIMEOUT_MS);
    server.host = host_hdr_buf;
    server.port = port;
    server.name = name_buf;
}

void host_set_device_id(const char *id)
{
    snprintf(id_buf, sizeof(id_buf), "%s", id != NULL ? id : "");
    server.device_id = id != NULL ? id_buf : NULL;
}

const struct ota_server *ota_port_server(void)
{
    return &server;
}

uint32_t ota_port_millis(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + slept);
}

void host_set_virtual_sleep(bool virtual_time)
{
    virtual_sleep = virtual_time;
}

uint64_t host_slept_ms(void)
{
    return slept;
}

void host_set_sleep_budget(uint64_t ms)
{
    sleep_limit = ms == 0 ? 0 : slept + ms;
}

void ota_port_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    if (virtual_sleep) {
        slept += ms;
        if (sleep_limit != 0 && slept > sleep_limit && host_power_cut != NULL) {
            sleep_limit = 0;
            longjmp(*host_power_cut, 2);
        }
        return;
    }
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void host_set_quiet(bool q)
{
    quiet = q;
}

void ota_port_log(const char *line)
{
    if (!quiet)
        fprintf(stderr, "%s\n", line);
}

/* Where a Cortex-M application's stack may start: a 96 KiB RAM, as on the
 * STM32F401 whose flash the host port simulates. */
const struct ota_ram *ota_port_ram(void)
{
    static const struct ota_ram ram = {.base = 0x20000000u, .size = 96u * 1024u};

    return &ram;
}

void ota_port_jump(uint32_t app_addr)
{
    jumped = app_addr;
}

void ota_port_reset(void)
{
    resets++;
}

uint32_t host_jumped_to(void)
{
    return jumped;
}

unsigned host_resets(void)
{
    return resets;
}

void host_clear_boot(void)
{
    jumped = 0;
    resets = 0;
}
