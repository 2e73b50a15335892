/* SPDX-License-Identifier: MIT */
/* The network transport: one TCP connection through an ESP8266 running
 * Espressif's AT firmware (1.x or later), in transparent ("passthrough")
 * mode, on USART1.
 *
 * open:  AT, ATE0, AT+CWMODE=1, join the network (AT+CWJAP) unless already
 *        joined, AT+CIPMUX=0, AT+CIPMODE=1, AT+CIPSTART="TCP",host,port,
 *        AT+CIPSEND and its '>' prompt: from then on every byte either way is
 *        the TCP stream.
 * close: "+++" alone, with a quiet second before and after, leaves
 *        transparent mode; AT+CIPCLOSE, AT+CIPMODE=0.
 *
 * In transparent mode the module reports nothing, not even a closed
 * connection (it quietly reconnects), so recv() can only time out: the core
 * then closes and opens again, which is the recovery for every failure here.
 * Every wait is bounded and feeds the watchdog; every failure is logged once
 * and returns -1. */
#include <stdbool.h>

#include <board_config.h> /* <>: the CONFIG_DIR copy wins, see Makefile */
#include "ota_port.h"
#include "uart.h"
#include "watchdog.h"

#define AT_TIMEOUT_MS 2000u      /* a plain command */
#define SYNC_TIMEOUT_MS 500u     /* "AT" while probing for the module */
#define JOIN_TIMEOUT_MS 20000u   /* AT+CWJAP: scan, authenticate, DHCP */
#define CONNECT_TIMEOUT_MS 10000u /* AT+CIPSTART: DNS and TCP handshake */
#define GUARD_MS 1100u           /* silence around "+++" (>= 1 s) */

enum at_status {
    AT_OK = 0,
    AT_ERROR = -1,   /* ERROR or FAIL */
    AT_TIMEOUT = -2, /* no final answer in time */
};

static bool transparent; /* the UART is the TCP stream */
static bool tcp_up;      /* AT+CIPSTART succeeded and no AT+CIPCLOSE since */
static bool joined;      /* the module was on the network at the last check */
static uint32_t last_tx_ms;

/* ---- Small string helpers (no libc) --------------------------------------- */

struct sbuf {
    char s[256]; /* AT+CWJAP with a 32-byte SSID and 64-byte key, all escaped */
    uint32_t n;
    bool overflow;
};

static void sb_putc(struct sbuf *b, char c)
{
    if (b->n + 1 >= sizeof b->s) {
        b->overflow = true;
        return;
    }
    b->s[b->n++] = c;
    b->s[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    while (*s)
        sb_putc(b, *s++);
}

/* An AT string argument: quoted, with '"', ',' and '\' escaped by '\'. */
static void sb_quoted(struct sbuf *b, const char *s)
{
    sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == ',' || *s == '\\')
            sb_putc(b, '\\');
        sb_putc(b, *s);
    }
    sb_putc(b, '"');
}

static void sb_uint(struct sbuf *b, uint32_t v)
{
    char digits[10];
    int n = 0;

    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        sb_putc(b, digits[--n]);
}

static bool str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static bool str_starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix)
        s++, prefix++;
    return *prefix == '\0';
}

/* ---- AT responses ---------------------------------------------------------- */

static char line[80]; /* longer lines are cut: only their start matters */

enum at_event { EV_LINE, EV_PROMPT, EV_TIMEOUT };

/* Assembles the module's output into lines (CR dropped, empty lines skipped)
 * until one is complete, or, if @prompt, until a '>' starts a line (the
 * AT+CIPSEND prompt has no line end). */
static enum at_event at_next(uint32_t start, uint32_t timeout_ms, bool prompt)
{
    uint32_t len = 0;
    uint8_t c;

    for (;;) {
        if (uart_esp_read(&c, 1) == 0) {
            if (ota_port_millis() - start >= timeout_ms)
                return EV_TIMEOUT;
            watchdog_feed(); /* AT+CWJAP may legitimately take 20 s */
            continue;
        }
        if (c == '\r')
            continue;
        if (c == '>' && prompt && len == 0)
            return EV_PROMPT;
        if (c != '\n') {
            if (len < sizeof line - 1)
                line[len++] = (char)c;
            continue;
        }
        if (len == 0)
            continue;
        line[len] = '\0';
        return EV_LINE;
    }
}

/* Waits for the final answer to a command. A line starting with @want (if
 * not NULL) sets *@seen. Everything else the module volunteers ("WIFI GOT
 * IP", "WIFI DISCONNECT", "busy p...", the echo before ATE0, boot garbage)
 * is noise. "no change" is how AT 0.x firmware says OK to a setting it
 * already had. */
static enum at_status at_wait(uint32_t timeout_ms, const char *want, bool *seen)
{
    uint32_t start = ota_port_millis();

    while (at_next(start, timeout_ms, false) == EV_LINE) {
        if (want && str_starts(line, want))
            *seen = true;
        if (str_eq(line, "OK") || str_eq(line, "no change"))
            return AT_OK;
        if (str_eq(line, "ERROR") || str_eq(line, "FAIL"))
            return AT_ERROR;
    }
    return AT_TIMEOUT;
}

static int at_send(const char *cmd)
{
    uint32_t len = 0;

    while (cmd[len])
        len++;
    uart_esp_discard(); /* stale noise must not answer this command */
    if (uart_esp_write(cmd, len) < 0 || uart_esp_write("\r\n", 2) < 0)
        return AT_ERROR;
    last_tx_ms = ota_port_millis();
    return AT_OK;
}

static enum at_status at_cmd_seen(const char *cmd, uint32_t timeout_ms, const char *want,
                                  bool *seen)
{
    if (at_send(cmd) < 0)
        return AT_ERROR;
    return at_wait(timeout_ms, want, seen);
}

static enum at_status at_cmd(const char *cmd, uint32_t timeout_ms)
{
    return at_cmd_seen(cmd, timeout_ms, NULL, NULL);
}

static void log_failure(const char *what, enum at_status st)
{
    struct sbuf b = {.n = 0};

    sb_puts(&b, "esp8266: ");
    sb_puts(&b, what);
    sb_puts(&b, st == AT_TIMEOUT ? ": no answer" : ": error");
    ota_port_log(b.s);
}

/* ---- Connection steps ------------------------------------------------------ */

/* Leaves transparent mode: "+++" counts only as a packet of its own, with no
 * other byte for a second before and after it. */
static void escape_transparent(void)
{
    uint32_t quiet = ota_port_millis() - last_tx_ms;

    if (quiet < GUARD_MS)
        ota_port_sleep_ms(GUARD_MS - quiet);
    uart_esp_write("+++", 3);
    ota_port_sleep_ms(GUARD_MS);
    last_tx_ms = ota_port_millis();
    transparent = false;
}

/* Gets the module's attention. It may still be booting, or still be in
 * transparent mode because the MCU was reset in the middle of a download
 * (the module keeps its state across our resets): then "AT" went out as data
 * and only "+++" brings it back. */
static enum at_status at_sync(void)
{
    enum at_status st = AT_TIMEOUT;

    for (int attempt = 0; attempt < 4; attempt++) {
        if (attempt == 2)
            escape_transparent();
        st = at_cmd("AT", SYNC_TIMEOUT_MS);
        if (st == AT_OK)
            return st;
    }
    return st;
}

/* Joins the configured network unless the module already is on it (it
 * reconnects by itself after its own resets, and rejoining costs seconds). */
static enum at_status wifi_join(void)
{
    bool on_it = false;
    enum at_status st = at_cmd_seen("AT+CWJAP?", AT_TIMEOUT_MS,
                                    "+CWJAP:\"" BOARD_WIFI_SSID "\"", &on_it);
    if (st == AT_OK && on_it)
        return AT_OK;

    struct sbuf b = {.n = 0};
    sb_puts(&b, "AT+CWJAP=");
    sb_quoted(&b, BOARD_WIFI_SSID);
    sb_putc(&b, ',');
    sb_quoted(&b, BOARD_WIFI_PASSWORD);
    if (b.overflow)
        return AT_ERROR;
    return at_cmd(b.s, JOIN_TIMEOUT_MS);
}

/* AT+CIPSTART. "ALREADY CONNECTED" (then ERROR) means a connection left over
 * from before our reset: it may hold half a response, so close it and start
 * afresh. */
static enum at_status tcp_start(void)
{
    const struct ota_server *srv = ota_port_server();
    struct sbuf b = {.n = 0};
    enum at_status st = AT_ERROR;

    sb_puts(&b, "AT+CIPSTART=\"TCP\",");
    sb_quoted(&b, srv->host);
    sb_putc(&b, ',');
    sb_uint(&b, srv->port);
    if (b.overflow)
        return AT_ERROR;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool already = false;
        st = at_cmd_seen(b.s, CONNECT_TIMEOUT_MS, "ALREADY", &already);
        if (!already)
            break;
        at_cmd("AT+CIPCLOSE", AT_TIMEOUT_MS);
    }
    return st;
}

/* AT+CIPSEND in transparent mode answers OK, then '>' when it is ready to
 * pass data through. */
static enum at_status enter_transparent(void)
{
    if (at_send("AT+CIPSEND") < 0)
        return AT_ERROR;

    uint32_t start = ota_port_millis();
    for (;;) {
        switch (at_next(start, AT_TIMEOUT_MS, true)) {
        case EV_PROMPT:
            return AT_OK;
        case EV_TIMEOUT:
            return AT_TIMEOUT;
        case EV_LINE:
            if (str_eq(line, "ERROR") || str_eq(line, "FAIL") ||
                str_eq(line, "link is not valid"))
                return AT_ERROR;
            break;
        }
    }
}

/* ---- ota_port.h ------------------------------------------------------------ */

int ota_port_net_open(void)
{
    enum at_status st;
    const char *step;

    ota_port_net_close();

    step = "AT";
    if ((st = at_sync()) != AT_OK)
        goto fail;
    step = "ATE0";
    if ((st = at_cmd("ATE0", AT_TIMEOUT_MS)) != AT_OK)
        goto fail;
    step = "AT+CWMODE=1";
    if ((st = at_cmd("AT+CWMODE=1", AT_TIMEOUT_MS)) != AT_OK)
        goto fail;
    step = "AT+CWJAP";
    if (!joined && (st = wifi_join()) != AT_OK)
        goto fail;
    joined = true;
    /* Transparent mode needs a single connection; an application may have
     * left the module in multi-connection mode. Refused (harmlessly) when a
     * connection is still up, which AT+CIPSTART then sorts out. */
    at_cmd("AT+CIPMUX=0", AT_TIMEOUT_MS);
    step = "AT+CIPMODE=1";
    if ((st = at_cmd("AT+CIPMODE=1", AT_TIMEOUT_MS)) != AT_OK)
        goto fail;
    step = "AT+CIPSTART";
    if ((st = tcp_start()) != AT_OK) {
        joined = false; /* maybe the network is gone: check again next time */
        goto fail;
    }
    tcp_up = true;
    step = "AT+CIPSEND";
    if ((st = enter_transparent()) != AT_OK)
        goto fail;
    transparent = true;
    return 0;

fail:
    log_failure(step, st);
    ota_port_net_close();
    return -1;
}

int ota_port_net_send(const void *data, uint32_t len)
{
    if (!transparent)
        return -1;
    if (uart_esp_write(data, len) < 0)
        return -1;
    last_tx_ms = ota_port_millis();
    return 0;
}

int ota_port_net_recv(void *buf, uint32_t len, uint32_t timeout_ms)
{
    uint32_t start = ota_port_millis();

    if (!transparent)
        return -1;
    if (len == 0)
        return 0;
    for (;;) {
        uint32_t n = uart_esp_read(buf, len);
        if (n > 0)
            return (int)n; /* at most the ring's 2 KiB */
        if (ota_port_millis() - start >= timeout_ms)
            return 0;
        watchdog_feed(); /* the core's receive timeout exceeds the watchdog's */
    }
}

void ota_port_net_close(void)
{
    if (transparent)
        escape_transparent();
    if (tcp_up) {
        /* Whatever the server was still sending is in the ring: at_send()
         * drops it. ERROR here just means the server closed first. */
        at_cmd("AT+CIPCLOSE", AT_TIMEOUT_MS);
        at_cmd("AT+CIPMODE=0", AT_TIMEOUT_MS);
        tcp_up = false;
    }

    static uint32_t lost_reported;
    uint32_t lost = uart_esp_lost();
    if (lost != lost_reported) {
        struct sbuf b = {.n = 0};
        sb_puts(&b, "esp8266: received bytes lost so far: ");
        sb_uint(&b, lost);
        ota_port_log(b.s);
        lost_reported = lost;
    }
}
