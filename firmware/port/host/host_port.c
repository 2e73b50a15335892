/* The rest of the contract on a Linux host: a TCP transport, time, log, and
 * a "jump" that only records where the application would start. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "ota_port.h"

static struct ota_server server = {.host = "127.0.0.1", .port = 8000, .name = "firmware"};
static char host_buf[256], name_buf[256];
static const struct host_net_ops *net;
static bool quiet, virtual_sleep;
static uint64_t slept;
static uint32_t jumped;
static unsigned resets;

/* ---- TCP ---------------------------------------------------------------- */

static int tcp_fd = -1;

static int tcp_open(void *ctx)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *ai;
    char port[8];
    int one = 1;

    (void)ctx;
    snprintf(port, sizeof(port), "%u", server.port);
    if (getaddrinfo(server.host, port, &hints, &res) != 0)
        return -EHOSTUNREACH;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        tcp_fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (tcp_fd < 0)
            continue;
        if (connect(tcp_fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(tcp_fd);
        tcp_fd = -1;
    }
    freeaddrinfo(res);
    if (tcp_fd < 0)
        return -ECONNREFUSED;
    /* Requests are small and each waits for its answer. */
    setsockopt(tcp_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static int tcp_send(void *ctx, const void *data, uint32_t len)
{
    const char *p = data;

    (void)ctx;
    while (len > 0) {
        ssize_t n = send(tcp_fd, p, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (uint32_t)n;
    }
    return 0;
}

static int tcp_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = tcp_fd, .events = POLLIN};
    ssize_t n;
    int r;

    (void)ctx;
    r = poll(&pfd, 1, (int)timeout_ms);
    if (r == 0)
        return 0;
    if (r < 0)
        return -errno;
    n = recv(tcp_fd, buf, len, 0);
    if (n == 0)
        return -ECONNRESET; /* closed by the server */
    return n < 0 ? -errno : (int)n;
}

static void tcp_close(void *ctx)
{
    (void)ctx;
    if (tcp_fd >= 0)
        close(tcp_fd);
    tcp_fd = -1;
}

static const struct host_net_ops tcp = {tcp_open, tcp_send, tcp_recv, tcp_close, NULL};

void host_net_use(const struct host_net_ops *ops)
{
    net = ops;
}

static const struct host_net_ops *ops(void)
{
    return net != NULL ? net : &tcp;
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

void host_set_server(const char *host, uint16_t port, const char *name)
{
    snprintf(host_buf, sizeof(host_buf), "%s", host);
    snprintf(name_buf, sizeof(name_buf), "%s", name);
    server.host = host_buf;
    server.port = port;
    server.name = name_buf;
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

void ota_port_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    if (virtual_sleep) {
        slept += ms;
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
