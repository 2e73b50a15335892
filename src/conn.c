/* SPDX-License-Identifier: MIT */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "otad/proto.h"

struct conn *conn_new(void)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c != NULL)
        c->fd = -1;
    return c;
}

void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    free(c->pin_name);
    fleet_tag_free(c->fleet);
    download_clear(&c->download);
    free(c->block_wire);
    free(c);
}

uint8_t *conn_block_buffer(struct conn *c)
{
    /* Made with the first block, not with the connection: idle ones stay
     * small. Cache-line aligned, 5 lines: apart from the copy, a plain
     * malloc() here happened to leave the library's response beside the
     * heap's top, and glibc then consolidated its heap at each response's
     * free (330 instructions a block request, bench/request-cost.py). */
    if (c->block_wire == NULL)
        c->block_wire = aligned_alloc(64, 320);
    return c->block_wire;
}

int conn_pin(struct conn *c, const char *name, size_t len, uint64_t gen, uint32_t version)
{
    if (c->pin_name == NULL || c->pin_len != len || memcmp(c->pin_name, name, len) != 0) {
        free(c->pin_name);
        c->pin_name = malloc(len + 1);
        if (c->pin_name == NULL) {
            c->pin_len = 0;
            return -ENOMEM;
        }
        memcpy(c->pin_name, name, len);
        c->pin_name[len] = '\0';
        c->pin_len = len;
    }
    c->pin_gen = gen;
    c->pin_version = version;
    return 0;
}

bool conn_pinned(const struct conn *c, const char *name, size_t len, uint64_t *ret_gen)
{
    if (c == NULL || c->pin_name == NULL || c->pin_len != len ||
        memcmp(c->pin_name, name, len) != 0)
        return false;
    *ret_gen = c->pin_gen;
    return true;
}

void conn_parking_init(struct conn_parking *p)
{
    pthread_mutex_init(&p->lock, NULL);
    p->head = NULL;
}

void conn_parking_fini(struct conn_parking *p)
{
    while (p->head != NULL) {
        struct conn *c = p->head;

        p->head = c->next;
        conn_free(c);
    }
    pthread_mutex_destroy(&p->lock);
}

void conn_park(struct conn_parking *p, struct conn *c, int fd, const struct sockaddr *peer,
               socklen_t peer_len)
{
    c->fd = fd;
    if (peer_len > sizeof(c->peer))
        peer_len = sizeof(c->peer);
    memcpy(&c->peer, peer, peer_len);
    c->peer_len = peer_len;
    pthread_mutex_lock(&p->lock);
    c->next = p->head;
    p->head = c;
    pthread_mutex_unlock(&p->lock);
}

struct conn *conn_claim(struct conn_parking *p, int fd, const struct sockaddr *peer,
                        socklen_t peer_len)
{
    struct conn **link, *c = NULL;

    pthread_mutex_lock(&p->lock);
    for (link = &p->head; *link != NULL; link = &(*link)->next) {
        if ((*link)->fd == fd && (*link)->peer_len == peer_len &&
            memcmp(&(*link)->peer, peer, peer_len) == 0) {
            c = *link;
            *link = c->next;
            c->next = NULL;
            c->fd = -1;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return c;
}
