/* SPDX-License-Identifier: MIT */
#include "tls.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A chain longer than this is not a server's. */
#define CHAIN_MAX 8
/* PEM files larger than this are not certificates or keys. */
#define PEM_MAX (256 * 1024)

/* A certificate pair. A connection may be handed any pair that is current
 * from its start to its close (a handshake, or a TLS 1.2 renegotiation, asks
 * for the current one), so a replaced pair is freed only once every
 * connection that started before it was replaced has closed: each pair
 * counts the connections that started while it was current, and replaced
 * pairs are freed oldest first, each when it and all older ones count 0. */
struct pair {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned nchain;
    gnutls_privkey_t key;
    atomic_uint open;     /* connections that started while this was current */
    struct pair *newer;   /* replaced pairs: the next one replaced, or current */
};

struct tls {
    char *cert_path, *key_path;
    _Atomic(struct pair *) current;
    pthread_mutex_t lock; /* orders tls_hold() against freeing replaced pairs */
    struct pair *oldest;  /* the replaced pairs still kept, then current */
    atomic_uint untracked; /* open connections that could not keep a claim */
};

static struct tls *the_tls;

static int read_pem(const char *path, gnutls_datum_t *ret, char *err, size_t errlen)
{
    struct stat st;
    ssize_t n;
    int fd;

    fd = file_open_regular(AT_FDCWD, path, &st);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, fd == -ENODEV ? "not a regular file" : strerror(-fd));
        return fd;
    }
    if (st.st_size <= 0 || st.st_size > PEM_MAX) {
        close(fd);
        snprintf(err, errlen, "%s: not a PEM file (%lld bytes)", path, (long long)st.st_size);
        return -EINVAL;
    }
    ret->data = gnutls_malloc((size_t)st.st_size + 1);
    if (ret->data == NULL) {
        close(fd);
        return -ENOMEM;
    }
    n = file_read_upto(fd, ret->data, (size_t)st.st_size);
    close(fd);
    if (n != st.st_size) {
        gnutls_free(ret->data);
        ret->data = NULL;
        snprintf(err, errlen, "%s: changed while being read", path);
        return -EAGAIN;
    }
    ret->data[n] = '\0';
    ret->size = (unsigned)n;
    return 0;
}

static void pair_free(struct pair *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->nchain; i++)
        gnutls_pcert_deinit(&p->chain[i]);
    if (p->key != NULL)
        gnutls_privkey_deinit(p->key);
    free(p);
}

/* Frees the replaced pairs that no open connection can be using. Called
 * with t->lock held. */
static void prune(struct tls *t)
{
    struct pair *current = atomic_load(&t->current);

    if (atomic_load(&t->untracked) > 0)
        return; /* such a connection may be using any pair */
    while (t->oldest != current && atomic_load(&t->oldest->open) == 0) {
        struct pair *p = t->oldest;

        t->oldest = p->newer;
        pair_free(p);
    }
}

/* Loads and checks a pair. */
static int load(const struct tls *t, struct pair **ret, char *err, size_t errlen)
{
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    gnutls_certificate_credentials_t check = NULL;
    struct pair *p = NULL;
    int r, g;

    r = read_pem(t->cert_path, &cert, err, errlen);
    if (r == 0)
        r = read_pem(t->key_path, &key, err, errlen);
    if (r < 0)
        goto out;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* Each file on its own first, so an error names the one at fault. */
    p->nchain = CHAIN_MAX;
    g = gnutls_pcert_list_import_x509_raw(p->chain, &p->nchain, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0) {
        p->nchain = 0;
        snprintf(err, errlen, "%s: not a PEM certificate chain: %s", t->cert_path,
                 gnutls_strerror(g));
        r = -EINVAL;
        goto out;
    }
    if ((g = gnutls_privkey_init(&p->key)) < 0 ||
        (g = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: not an unencrypted PEM private key: %s", t->key_path,
                 gnutls_strerror(g));
        r = -EINVAL;
        goto out;
    }
    /* Then the library's own pairing check: a key that is not the
     * certificate's is refused here, at start or at reload, not at the
     * first handshake. */
    if (gnutls_certificate_allocate_credentials(&check) < 0) {
        r = -ENOMEM;
        goto out;
    }
    g = gnutls_certificate_set_x509_key_mem2(check, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        snprintf(err, errlen, "%s, %s: %s", t->cert_path, t->key_path,
                 g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH
                     ? "the key does not belong to the certificate"
                     : gnutls_strerror(g));
        r = -EINVAL;
        goto out;
    }
    *ret = p;
    p = NULL;
out:
    pair_free(p);
    if (check != NULL)
        gnutls_certificate_free_credentials(check);
    gnutls_free(cert.data);
    if (key.data != NULL) {
        memset(key.data, 0, key.size); /* private key material */
        gnutls_free(key.data);
    }
    return r;
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    struct pair *p = the_tls != NULL ? atomic_load(&the_tls->current) : NULL;

    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (p == NULL)
        return -1;
    *pcert = p->chain;
    *pcert_length = p->nchain;
    *pkey = p->key;
    return 0;
}

int tls_open(const char *cert, const char *key, struct tls **ret, char *err, size_t errlen)
{
    struct tls *t;
    struct pair *p = NULL;
    int r;

    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->cert_path = strdup(cert);
    t->key_path = strdup(key);
    if (t->cert_path == NULL || t->key_path == NULL) {
        tls_close(t);
        return -ENOMEM;
    }
    r = load(t, &p, err, errlen);
    if (r < 0) {
        tls_close(t);
        return r;
    }
    pthread_mutex_init(&t->lock, NULL);
    atomic_store(&t->current, p);
    t->oldest = p;
    the_tls = t;
    *ret = t;
    return 0;
}

int tls_reload(struct tls *t, char *err, size_t errlen)
{
    struct pair *p = NULL;
    int r = load(t, &p, err, errlen);

    if (r < 0)
        return r;
    pthread_mutex_lock(&t->lock);
    atomic_load(&t->current)->newer = p;
    atomic_store(&t->current, p);
    prune(t);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void tls_hold(struct tls *t, struct tls_hold **ret)
{
    struct pair *p;

    pthread_mutex_lock(&t->lock);
    if (ret != NULL) {
        p = atomic_load(&t->current);
        atomic_fetch_add(&p->open, 1);
        *ret = (struct tls_hold *)p;
    } else {
        atomic_fetch_add(&t->untracked, 1);
    }
    pthread_mutex_unlock(&t->lock);
}

void tls_release(struct tls *t, struct tls_hold *h)
{
    /* Only counted down here: the pair goes at the next renewal (or exit),
     * so a connection's close never takes the lock. */
    if (h != NULL)
        atomic_fetch_sub(&((struct pair *)h)->open, 1);
    else
        atomic_fetch_sub(&t->untracked, 1);
}

size_t tls_pairs_held(struct tls *t)
{
    size_t n = 0;

    pthread_mutex_lock(&t->lock);
    for (struct pair *p = t->oldest; p != NULL; p = p->newer)
        n++;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void *tls_retrieve_callback(void)
{
    return (void *)retrieve;
}

const char *tls_priorities(void)
{
    return "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
}

const char *tls_cert_path(const struct tls *t)
{
    return t->cert_path;
}

void tls_close(struct tls *t)
{
    if (t == NULL)
        return;
    if (the_tls == t)
        the_tls = NULL;
    while (t->oldest != NULL) {
        struct pair *p = t->oldest;

        t->oldest = p->newer;
        pair_free(p);
    }
    if (atomic_load(&t->current) != NULL)
        pthread_mutex_destroy(&t->lock);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}
