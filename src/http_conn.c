/* SPDX-License-Identifier: MIT */
/* The http module's connections: the state each one carries (struct conn)
 * from its start to its close, its request-head deadline, its TLS hold, the
 * legacy keep-alive's hand-back of the socket (step 3 at the top of http.c),
 * and the count of open connections for the event callback. */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "deadline.h"
#include "generation.h"
#include "legacy.h"
#include "tls.h"

/* A connection opened (+1) or closed (-1). */
static void count_connection(const struct http *h, int delta)
{
    http_report(h, &(struct http_event){.kind = HTTP_EVENT_CONNECTION, .connections = delta});
}

static socklen_t address_length(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The bytes of @fd the library has read (received, less those still
 * queued), and those written to it (acknowledged or still queued), as the
 * kernel counts them; and whether the peer has not closed its side.
 * Returns 0 or -1. */
static int socket_counts(int fd, uint64_t *rx, uint64_t *tx, bool *open)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    int inq, outq;

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received) ||
        ioctl(fd, SIOCINQ, &inq) < 0 || ioctl(fd, SIOCOUTQ, &outq) < 0)
        return -1;
    *rx = ti.tcpi_bytes_received - (uint64_t)inq;
    *tx = ti.tcpi_bytes_acked + (uint64_t)outq;
    /* TCP_ESTABLISHED: netinet/tcp.h names it, but clashes with linux/tcp.h,
     * whose tcp_info has the byte counts. */
    *open = ti.tcpi_state == 1;
    return 0;
}

static int connection_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

    return fdi != NULL ? fdi->connect_fd : -1;
}

void http_conn_await(struct MHD_Connection *c, struct conn *conn)
{
    bool open;
    int fd = connection_fd(c);

    conn->awaiting = fd >= 0 && socket_counts(fd, &conn->rx_mark, &conn->tx_mark, &open) == 0;
}

/* libmicrohttpd 0.9.75 closes a connection whose request line has no space
 * (or starts with one) without a word, before any callback. It is closing
 * @c now: if it read bytes since @conn began to wait, no request line was
 * parsed from them, the library sent nothing and the client is still
 * there, they were such a line, and otad answers 400 itself. Plain HTTP
 * only: there, MHD_USE_TURBO leaves the socket open until the library's
 * close() (see the top of http.c). */
static void answer_garbage(struct MHD_Connection *c, const struct conn *conn)
{
    static const char answer[] = "HTTP/1.1 400 Bad Request\r\n"
                                 "Connection: close\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: 12\r\n"
                                 "\r\n"
                                 "bad request\n";
    char drain[512];
    uint64_t rx, tx;
    bool open;
    int fd = connection_fd(c);

    if (!conn->awaiting || fd < 0 || socket_counts(fd, &rx, &tx, &open) < 0 || !open ||
        rx == conn->rx_mark || tx != conn->tx_mark)
        return;
    /* Unread bytes at the close would make it a reset that can discard the
     * answer before the client reads it. */
    while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
        ;
    if (send(fd, answer, sizeof(answer) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        (void)shutdown(fd, SHUT_WR);
}

/* The end of @d, a download on @c, for the access log. */
static void download_ended(const struct http *h, struct MHD_Connection *c,
                           const struct conn *conn, const struct download *d)
{
    http_report(h, &(struct http_event){.kind = HTTP_EVENT_DOWNLOAD, .connection = c,
                                        .download = d, .finished = download_finished(d),
                                        .device = fleet_tag_id(conn->fleet)});
}

void http_count_download(const struct http *h, struct MHD_Connection *c, struct conn *conn,
                         const struct route *route, const struct serve_response *s)
{
    struct download abandoned;
    bool block = route->kind == ROUTE_BLOCK;

    if (conn == NULL || s->served == NULL || (s->status != 200 && s->status != 206) ||
        (!block && route->kind != ROUTE_IMAGE))
        return;
    if (download_count(&conn->download,
                       &(struct download_step){
                           .name = route->name, .name_len = route->name_len,
                           .gen = s->served->id, .version = s->served_version,
                           .blocks = s->served->nblocks, .size = s->served->size,
                           .block = block, .bytes = s->body_len},
                       download_now_us(), &abandoned) == 1) {
        download_ended(h, c, conn, &abandoned);
        download_clear(&abandoned);
    }
    if (download_finished(&conn->download)) {
        download_ended(h, c, conn, &conn->download);
        download_clear(&conn->download);
    }
}

/* A connection's end: its state goes (NULL: it had none), and with it the
 * download it left unfinished. */
static void drop(const struct http *h, struct MHD_Connection *c, struct conn *conn)
{
    if (conn != NULL && conn->download.name != NULL)
        download_ended(h, c, conn, &conn->download);
    conn_free(conn);
    count_connection(h, -1);
}

/* Legacy keep-alive, step 3 (see the top of http.c). Takes @conn. The
 * connection stays open for the event callback while its state is parked. */
static void reopen(struct http *h, struct MHD_Connection *c, struct conn *conn)
{
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct MHD_Daemon *d;
    socklen_t len;
    int fd;

    /* Bytes read past the last request died with the library's buffer:
     * the stream cannot be resumed in step, so it is closed. */
    if (fdi == NULL || ai == NULL || ai->client_addr == NULL ||
        !legacy_in_sync(fdi->connect_fd, conn->head_bytes)) {
        drop(h, c, conn);
        return;
    }
    len = address_length(ai->client_addr);
    fd = fcntl(fdi->connect_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        http_report(h, &(struct http_event){.kind = HTTP_EVENT_KEEP_ALIVE_FAILED, .error = -errno});
        drop(h, c, conn);
        return;
    }
    /* Parked before the library may start the new connection, in any thread. */
    conn->reopen = false;
    conn_park(&h->parking, conn, fd, ai->client_addr, len);
    /* A connection accepted from the backlog while the library was starting
     * can get here before MHD_start_daemon() has returned the daemon. */
    while ((d = atomic_load(&h->daemon)) == NULL)
        sched_yield();
    /* The library takes the descriptor and closes it itself on failure. */
    if (MHD_add_connection(d, fd, ai->client_addr, len) != MHD_YES) {
        http_report(h, &(struct http_event){.kind = HTTP_EVENT_KEEP_ALIVE_FAILED, .error = -errno});
        /* Unless a library connection started on it and took it back. */
        conn = conn_claim(&h->parking, fd, ai->client_addr, len);
        if (conn != NULL)
            drop(h, c, conn);
    }
}

void http_connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    struct http *h = cls;
    struct conn *conn = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fdi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        int64_t head_ms = h->later_head_ms;

        if (h->legacy_keep_alive && fdi != NULL && ai != NULL && ai->client_addr != NULL)
            conn = conn_claim(&h->parking, fdi->connect_fd, ai->client_addr,
                              address_length(ai->client_addr));
        if (conn == NULL) {
            conn = conn_new();
            head_ms = h->first_head_ms;
            count_connection(h, 1);
        }
        /* Without memory for it the connection has the idle timeout only. */
        if (conn != NULL && fdi != NULL)
            (void)deadline_add(h->deadlines, fdi->connect_fd, deadline_now() + head_ms,
                               &conn->deadline);
        /* A handshake may be handed any pair current from now to the close. */
        if (h->tls != NULL)
            tls_hold(h->tls, conn != NULL ? &conn->tls : NULL);
        else if (conn != NULL)
            http_conn_await(c, conn);
        *socket_context = conn;
        return;
    }
    *socket_context = NULL;
    if (conn != NULL) {
        /* Before the library closes the descriptor (see deadline.c). */
        deadline_remove(h->deadlines, conn->deadline);
        conn->deadline = NULL;
    }
    if (h->tls != NULL)
        tls_release(h->tls, conn != NULL ? conn->tls : NULL);
    if (conn != NULL && conn->reopen && !atomic_load(&h->stopping)) {
        reopen(h, c, conn);
        return;
    }
    if (conn != NULL && h->tls == NULL && !atomic_load(&h->stopping))
        answer_garbage(c, conn);
    drop(h, c, conn);
}

_Static_assert(HTTP_PEER_NAME_MAX >= INET6_ADDRSTRLEN, "room for an IPv6 address");
_Static_assert(HTTP_PEER_NAME_MAX <= FLEET_ADDRESS_MAX, "an address fits the registry");

void http_peer_name(const struct http_event *e, char *buf, size_t len)
{
    if (e->address != NULL)
        snprintf(buf, len, "%s", e->address);
    else
        reply_peer_name(e->connection, buf, len);
}

unsigned http_peer_port(const struct http_event *e)
{
    return reply_peer_port(e->connection);
}
