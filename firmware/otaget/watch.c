/* SPDX-License-Identifier: MIT */
#include "watch.h"

#include "progress.h"

void watch_init(struct watch *w, const char *host, uint16_t port, uint32_t connect_timeout_ms)
{
    host_tcp_init(&w->tcp, host, port, connect_timeout_ms);
    w->watching = false;
    w->last_status = 0;
}

void watch_attempt(struct watch *w)
{
    w->tcp.fail = HOST_TCP_FINE;
    w->last_status = 0;
}

static void watch_reset(struct watch *w)
{
    ota_http_parser_init(&w->parser, w->body, sizeof(w->body));
    w->watching = true;
}

static void watch_feed(struct watch *w, const uint8_t *p, uint32_t len)
{
    while (len > 0 && w->watching) {
        uint32_t used = 0;
        int r = ota_http_parser_feed(&w->parser, p, len, &used);

        if (r < 0) {
            w->watching = false; /* the engine sees the same and reconnects */
            return;
        }
        if (r == 1) {
            w->last_status = w->parser.status;
            if (w->last_status != 200)
                progress_break();
            watch_reset(w);
        } else if (used == 0) {
            return;
        }
        p += used;
        len -= used;
    }
}

static int watch_open(void *ctx)
{
    struct watch *w = ctx;
    int r;

    watch_reset(w);
    r = host_tcp_open(&w->tcp);
    if (r < 0)
        progress_break();
    return r;
}

static int watch_send(void *ctx, const void *data, uint32_t len)
{
    struct watch *w = ctx;
    int r = host_tcp_send(&w->tcp, data, len);

    if (r < 0)
        progress_break();
    return r;
}

static int watch_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms)
{
    struct watch *w = ctx;
    int r = host_tcp_recv(&w->tcp, buf, len, timeout_ms);

    if (r <= 0)
        progress_break();
    else
        watch_feed(w, buf, (uint32_t)r);
    return r;
}

static void watch_close(void *ctx)
{
    struct watch *w = ctx;

    host_tcp_close(&w->tcp);
}

struct host_net_ops watch_ops(struct watch *w)
{
    return (struct host_net_ops){watch_open, watch_send, watch_recv, watch_close, w};
}
