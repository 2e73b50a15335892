/* SPDX-License-Identifier: MIT */
/* The start-up steps of the top level: the configuration, the HTTPS pair
 * and the trusted keys (each failure an exit status, with its message on
 * stderr, before logging is set up), the worker count, the file limit, the
 * listeners and giving up root (logged). Part of the top level: called by
 * main.c only. */
#ifndef OTAD_SETUP_H
#define OTAD_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "conf.h"
#include "privs.h"

struct tls;
struct trust;

/* Fills @c from defaults, the file and the flags, checks that firmware_dir
 * is a readable directory, and looks up the user to become into @p.
 * Returns 0 or an exit status (CONF_EXIT_STATUS for configuration errors,
 * each on stderr). */
int setup_configure(const struct args *a, struct conf *c, struct privs *p,
                    const char **ret_path);

/* Many idle device connections each hold a descriptor: use all we may. */
void setup_fd_limit(void);

/* The worker threads: threads, or one per online CPU when it is 0. */
unsigned setup_threads(const struct conf *c);

/* Loads the HTTPS certificate pair. Returns 0 or an exit status. */
int setup_tls(const struct conf *c, struct tls **ret);

/* Loads the trusted public keys of signing.keys (none: *@ret stays NULL).
 * Returns 0 or an exit status. */
int setup_trust(const struct conf *c, struct trust **ret);

/* Opens the listener on @bind and @port into *@fd. Returns 0, or logs why
 * not and returns a negative errno. */
int setup_listener(const char *bind, uint16_t port, int *fd, char *where, size_t len);

/* Started as root, becomes the configured user (see privs.h), or stays root
 * when that user is root, and says so. Returns 0, or logs why not and
 * returns a negative errno. */
int setup_drop_root(const struct privs *p, const char *user);

#endif
