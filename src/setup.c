/* SPDX-License-Identifier: MIT */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "tls.h"
#include "trust.h"

/* The firmware directory must be a directory otad may list and read: the
 * same refusal for --check-config as for a start, before anything is bound.
 * Returns 0 or an exit status. */
static int check_firmware_dir(const char *dir)
{
    struct stat st;
    const char *why = NULL;

    if (stat(dir, &st) < 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(dir, R_OK | X_OK) < 0)
        why = strerror(errno);
    if (why == NULL)
        return 0;
    fprintf(stderr, "otad: firmware_dir: %s: %s\n", dir, why);
    return CONF_EXIT_STATUS;
}

/* Fills @c from defaults, the file and the flags, and looks up the user to
 * become into @p. Returns 0 or an exit status. */
int setup_configure(const struct args *a, struct conf *c, struct privs *p,
                    const char **ret_path)
{
    const char *path = a->config;
    char err[8192]; /* every error of the file, one per line */
    int r;

    if (conf_init(c) < 0) {
        fprintf(stderr, "otad: out of memory\n");
        return 1;
    }
    if (path == NULL && access(OTAD_DEFAULT_CONFIG, F_OK) == 0)
        path = OTAD_DEFAULT_CONFIG;
    if (path != NULL && conf_load_file(c, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return CONF_EXIT_STATUS;
    }
    for (size_t i = 0; i < a->noverrides; i++) {
        r = conf_set(c, a->overrides[i][0], a->overrides[i][1], err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "otad: --%s: %s\n",
                    strcmp(a->overrides[i][0], "firmware_dir") == 0 ? "firmware-dir"
                                                                   : a->overrides[i][0],
                    strchr(err, ':') ? strchr(err, ':') + 2 : err);
            return CONF_EXIT_STATUS;
        }
    }
    if (conf_check(c, err, sizeof(err)) < 0 || privs_lookup(c->user, p, err, sizeof(err)) < 0) {
        fprintf(stderr, "otad: %s\n", err);
        return CONF_EXIT_STATUS;
    }
    r = check_firmware_dir(c->firmware_dir);
    if (r != 0)
        return r;
    *ret_path = path;
    return 0;
}

/* Many idle device connections each hold a descriptor: use all we may. */
void setup_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warning("cannot raise the open file limit: %s", strerror(errno));
    }
}

unsigned setup_threads(const struct conf *c)
{
    long n;

    if (c->threads > 0)
        return c->threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Loads the HTTPS certificate pair. Returns 0 or an exit status. */
int setup_tls(const struct conf *c, struct tls **ret)
{
    char err[512];

    if (c->tls_cert == NULL)
        return 0;
    if (tls_open(c->tls_cert, c->tls_key, ret, err, sizeof(err)) < 0) {
        fprintf(stderr, "otad: tls: %s\n", err);
        return CONF_EXIT_STATUS;
    }
    return 0;
}

/* Loads the trusted public keys of signing.keys (none: *@ret stays NULL).
 * Returns 0 or an exit status. */
int setup_trust(const struct conf *c, struct trust **ret)
{
    size_t bad = 0;
    int r;

    if (c->sign_keys.n == 0)
        return 0;
    r = trust_open(c->sign_keys.path, c->sign_keys.n, c->sign_require, ret, &bad);
    if (r < 0) {
        fprintf(stderr, "otad: signing.keys: %s: %s\n",
                bad < c->sign_keys.n ? c->sign_keys.path[bad] : "(list)",
                r == -EINVAL ? "not a P-256 public key in PEM" : strerror(-r));
        return CONF_EXIT_STATUS;
    }
    return 0;
}

/* Opens the listener on @bind and @port into *@fd. Returns 0, or logs why
 * not and returns a negative errno. */
int setup_listener(const char *bind, uint16_t port, int *fd, char *where, size_t len)
{
    *fd = listener_open(bind, port);
    if (*fd < 0) {
        log_error("cannot listen on %s port %u: %s", bind, port, strerror(-*fd));
        return *fd;
    }
    listener_describe(*fd, where, len);
    return 0;
}

/* Started as root, becomes the configured user (see privs.h), or stays root
 * when that user is root, and says so. Returns 0, or logs why not and
 * returns a negative errno. */
int setup_drop_root(const struct privs *p, const char *user)
{
    char err[256];
    int r;

    if (geteuid() == 0 && !p->drop) {
        log_warning("running as root (user: %s): a link in the firmware directory can "
                    "serve any file on this host",
                    user);
        return 0;
    }
    r = privs_drop(p, err, sizeof(err));
    if (r < 0)
        log_error("user %s: %s", user, err);
    else if (p->drop)
        log_info("running as user %s (uid %u, gid %u)", user, (unsigned)p->uid,
                 (unsigned)p->gid);
    return r;
}
