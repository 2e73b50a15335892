/* SPDX-License-Identifier: MIT */
/* HTTPS certificates: the server certificate chain and key, loaded and
 * checked against each other, handed to the TLS library for each new
 * connection, and replaceable while the daemon runs (SIGHUP), so a renewed
 * certificate needs no restart. Connections already open keep theirs. */
#ifndef OTAD_TLS_H
#define OTAD_TLS_H

#include <stddef.h>

struct tls;

/* Loads the PEM chain @cert and the PEM key @key (paths copied). Returns 0,
 * or a negative errno with a message naming the file in @err: unreadable
 * files, malformed PEM, or a key that is not the certificate's. Only one
 * TLS context exists per process (the library's callback has no argument). */
int tls_open(const char *cert, const char *key, struct tls **ret, char *err, size_t errlen);

/* Loads the files again; on success new connections use them. On error the
 * previous pair stays and @err says why. Replaced pairs that no open
 * connection can still use are freed here. */
int tls_reload(struct tls *t, char *err, size_t errlen);

/* A connection's claim on the pairs current during its life. */
struct tls_hold;

/* Called when a TLS connection starts: keeps the current pair, and every
 * later one, allocated until the matching tls_release(), and writes the
 * claim to @ret. A connection with nowhere to keep it (its state could not
 * be allocated) passes NULL: then no replaced pair is freed at all until it
 * has closed. */
void tls_hold(struct tls *t, struct tls_hold **ret);

/* Called when that connection has closed, with what tls_hold() wrote (NULL
 * for a connection that passed NULL there). */
void tls_release(struct tls *t, struct tls_hold *h);

/* How many pairs are allocated (the current one included), for tests. */
size_t tls_pairs_held(struct tls *t);

/* The callback libmicrohttpd passes to GnuTLS (a
 * gnutls_certificate_retrieve_function2), serving the current pair. */
void *tls_retrieve_callback(void);

/* The TLS versions and ciphers offered: TLS 1.2 and 1.3 with GnuTLS's
 * NORMAL suites. */
const char *tls_priorities(void);

/* The certificate file, for logs. */
const char *tls_cert_path(const struct tls *t);

/* Frees every pair still held. NULL is ignored. */
void tls_close(struct tls *t);

#endif
