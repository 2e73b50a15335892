/* otad: serves the block OTA protocol from a firmware directory.
 *
 * The table of contents: configuration, logging, signals, the catalog and its
 * directory watch, the listening socket, the HTTP workers, then the main loop
 * (signals, directory changes, expiry of old generations) until asked to
 * stop, then the same in reverse. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "catalog.h"
#include "conf.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "pending.h"
#include "scan.h"
#include "tls.h"
#include "version.h"
#include "watch.h"

/* In-flight responses get this long to finish after SIGTERM. */
#define DRAIN_MS 1500

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: otad [OPTIONS]\n"
            "Serve firmware images to devices over the block OTA protocol.\n"
            "\n"
            "  -c, --config FILE        read settings from FILE (default %s, if present)\n"
            "  -d, --firmware-dir DIR   serve NAME.bin + NAME.txt files from DIR\n"
            "  -b, --bind ADDR          listen on the IPv4 or IPv6 address ADDR\n"
            "  -p, --port N             listen on TCP port N\n"
            "      --check-config       validate the configuration and exit\n"
            "  -V, --version            print the version and exit\n"
            "  -h, --help               print this help and exit\n"
            "\n"
            "Options override the configuration file. See otad(8) and otad.yaml(5).\n",
            OTAD_DEFAULT_CONFIG);
}

struct args {
    const char *config;      /* NULL: the default file, if it exists */
    const char *overrides[3][2];  /* key, value pairs from flags */
    size_t noverrides;
    bool check_config;
};

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
    enum { OPT_CHECK = 256 };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"firmware-dir", required_argument, NULL, 'd'},
        {"bind", required_argument, NULL, 'b'},
        {"port", required_argument, NULL, 'p'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "c:d:b:p:Vh", options, NULL)) != -1) {
        const char *key = NULL;

        switch (opt) {
        case 'c':
            a->config = optarg;
            break;
        case 'd':
            key = "firmware_dir";
            break;
        case 'b':
            key = "bind";
            break;
        case 'p':
            key = "port";
            break;
        case OPT_CHECK:
            a->check_config = true;
            break;
        case 'V':
            printf("otad %s\n", OTAD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (key != NULL) {
            size_t i;

            /* A repeated flag replaces the earlier one. */
            for (i = 0; i < a->noverrides && strcmp(a->overrides[i][0], key) != 0; i++)
                ;
            a->overrides[i][0] = key;
            a->overrides[i][1] = optarg;
            if (i == a->noverrides)
                a->noverrides++;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "otad: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Fills @c from defaults, the file and the flags. Returns 0 or an exit status. */
static int configure(const struct args *a, struct conf *c, const char **ret_path)
{
    const char *path = a->config;
    char err[512];
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
    if (conf_check(c, err, sizeof(err)) < 0) {
        fprintf(stderr, "otad: %s\n", err);
        return CONF_EXIT_STATUS;
    }
    *ret_path = path;
    return 0;
}

/* Many idle device connections each hold a descriptor: use all we may. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warning("cannot raise the open file limit: %s", strerror(errno));
    }
}

static unsigned worker_threads(const struct conf *c)
{
    long n;

    if (c->threads > 0)
        return c->threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* The monotonic clock in nanoseconds. */
static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The pending reloads count whole milliseconds. Events are noted rounded up
 * and compared with the time rounded down, so that a file is never reloaded
 * before a whole settle_ms of quiet (rounding both down cut it short by up
 * to a millisecond). */
static uint64_t now_ms(void)
{
    return now_ns() / 1000000u;
}

static uint64_t event_ms(void)
{
    return (now_ns() + 999999u) / 1000000u;
}

/* The main loop's state: what changes the catalog, all in this thread. */
struct loop {
    struct catalog *cat;
    struct watch *watch;
    struct pending *pending;
    struct tls *tls;    /* NULL without HTTPS */
};

/* SIGHUP: a renewed certificate is used for new connections; a bad one is
 * refused and the one in use stays. */
static void reload_tls(struct loop *l)
{
    char err[512];

    if (l->tls == NULL)
        return;
    if (tls_reload(l->tls, err, sizeof(err)) < 0)
        log_warning("tls: %s: keeping the previous certificate", err);
    else
        log_info("tls: reloaded %s", tls_cert_path(l->tls));
}

/* The log of the catalog's changes; *@ctx is true during the first scan, which
 * lists each image rather than what changed. */
static void report(void *ctx, const struct catalog_change *c)
{
    const struct image *img = c->img;

    if (c->version_problem != NULL)
        log_warning("%s: %s; using version %u", img->version_file, c->version_problem,
                    VERSION_DEFAULT);
    if (c->event == CATALOG_ADDED || c->event == CATALOG_REPLACED)
        log_info("%s %s: version %u, %u bytes, crc 0x%08X, %u blocks, etag %s",
                 *(bool *)ctx ? "image" : c->event == CATALOG_ADDED ? "added" : "replaced",
                 img->name, img->version, img->gen->size, img->gen->crc, img->gen->nblocks,
                 img->gen->etag);
    else if (c->event == CATALOG_VERSION && img->version_source == VERSION_FROM_FILE)
        log_info("version %s: %u (from %s)", img->name, img->version, img->version_file);
    else if (c->event == CATALOG_VERSION)
        log_info("version %s: %u (default: %s %s)", img->name, img->version, img->version_file,
                 img->version_source == VERSION_FILE_MISSING ? "missing" : "invalid");
    else if (c->event == CATALOG_REMOVED)
        log_info("removed %s", c->name);
    else if (c->event == CATALOG_SKIPPED)
        log_warning("%s: %s; skipped", c->file, c->reason);
    else if (c->event == CATALOG_DUPLICATE)
        log_warning("%s: same name as %s; ignored", c->file, c->other);
    else if (c->event == CATALOG_UNSETTLED)
        log_warning("%s: changed while being read; kept the previous state", c->file);
    else if (c->event == CATALOG_DROPPED)
        log_info("dropped generation %s of %s: %s", c->gen->etag, c->name, c->reason);
}

static void rescan(struct loop *l, const char *why)
{
    int n;

    /* A new directory at the path gets watched, before it is read so that
     * nothing written meanwhile is missed; a missing one is waited for
     * through the watch on its parent. */
    watch_rearm(l->watch);
    n = scan_all(l->cat);
    if (n == -ENOENT || n == -ENOTDIR) {
        log_warning("rescan (%s): firmware directory %s is gone; serving no images until "
                    "it is back",
                    why, catalog_dir(l->cat));
    } else if (n < 0) {
        log_error("rescan (%s): cannot read the firmware directory: %s; still serving the "
                  "images loaded before",
                  why, strerror(-n));
    } else {
        log_info("rescan: %d image%s (%s)", n, n == 1 ? "" : "s", why);
    }
}

static void on_event(void *ctx, enum watch_kind kind, const char *name)
{
    struct loop *l = ctx;

    if (kind == WATCH_OVERFLOW)
        log_warning("directory events were lost; rescanning %s", catalog_dir(l->cat));
    if (pending_note(l->pending, kind, name, event_ms()) < 0)
        log_error("out of memory noting a change of %s", name ? name : "the directory");
}

static void on_due(void *ctx, const char *name)
{
    struct loop *l = ctx;
    int r;

    if (name == NULL) {
        rescan(l, "directory changed");
        return;
    }
    r = scan_reload(l->cat, name);
    if (r == -EAGAIN) /* changed while being read: once more after it settles */
        pending_note(l->pending, WATCH_CHANGED, name, event_ms());
    else if (r == -ENOENT || r == -ENOTDIR)
        pending_note(l->pending, WATCH_DIR, NULL, event_ms());
    else if (r < 0)
        log_error("%s: reload failed: %s", name, strerror(-r));
}

/* Serves until SIGTERM or SIGINT, reloading what changes in the firmware
 * directory; SIGHUP rescans all of it. */
static int serve(struct loop *l, int sigfd)
{
    for (;;) {
        struct pollfd fds[2] = {{.fd = sigfd, .events = POLLIN},
                                {.fd = watch_fd(l->watch), .events = POLLIN}};
        long expire = catalog_expire(l->cat);
        long settle = pending_timeout(l->pending, now_ms());
        int timeout = (int)(settle < 0 ? expire : expire < 0 ? settle
                                                 : settle < expire ? settle : expire);

        if (poll(fds, 2, timeout) < 0 && errno != EINTR)
            return -errno;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo != SIGHUP) {
                    log_info("stopping (%s)", strsignal((int)si.ssi_signo));
                    return 0;
                }
                reload_tls(l);
                rescan(l, "SIGHUP");
            }
        }
        if (fds[1].revents & POLLIN)
            watch_read(l->watch, on_event, l);
        pending_run(l->pending, now_ms(), on_due, l);
    }
}

/* Loads the HTTPS certificate pair. Returns 0 or
 * an exit status. */
static int configure_tls(const struct conf *c, struct tls **ret)
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

/* Logs what the HTTP servers report, from their threads. */
static void http_event(void *cls, const struct http_event *e)
{
    static _Atomic int64_t last_room_warning = INT64_MIN / 2;
    char addr[HTTP_PEER_NAME_MAX];
    struct timespec ts;
    int64_t last;

    (void)cls;
    switch (e->kind) {
    case HTTP_EVENT_REQUEST:
        /* First: the address costs more than the rest of a block request. */
        if (!log_enabled(LOG_LEVEL_DEBUG))
            return;
        http_peer_name(e, addr, sizeof(addr));
        log_debug("%s %s %s %u", addr, e->method, e->url, e->status);
        return;
    case HTTP_EVENT_KEEP_ALIVE_FAILED:
        log_warning("legacy keep-alive: cannot keep a connection open: %s", strerror(-e->error));
        return;
    case HTTP_EVENT_HEADER_ROOM:
        /* The library message an operator can act on: once a minute. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        last = atomic_load(&last_room_warning);
        if (log_enabled(LOG_LEVEL_WARNING) && (int64_t)ts.tv_sec - last >= 60 &&
            atomic_compare_exchange_strong(&last_room_warning, &last, (int64_t)ts.tv_sec)) {
            log_warning("closed a connection whose request headers left no room for the "
                        "response (raise connection_memory for such clients)");
            return;
        }
        break;
    case HTTP_EVENT_LIBRARY:
        break;
    }
    log_debug("libmicrohttpd: %s", e->message);
}

/* Opens a listener on @port and starts HTTP (or HTTPS with @tls) on it.
 * Returns 0, or logs why not and returns a negative errno. */
static int start_server(const struct conf *c, uint16_t port, struct tls *tls, unsigned threads,
                        struct catalog *cat, struct http **ret, char *where, size_t len)
{
    int fd = listener_open(c->bind, port), r;

    if (fd < 0) {
        log_error("cannot listen on %s port %u: %s", c->bind, port, strerror(-fd));
        return fd;
    }
    listener_describe(fd, where, len);
    r = http_start(&(struct http_options){
                       .listen_fd = fd,
                       .tls = tls,
                       .idle_timeout = c->idle_timeout,
                       .request_timeout = c->request_timeout,
                       .legacy_keep_alive = c->legacy_keep_alive,
                       .threads = threads,
                       .max_connections = c->max_connections,
                       .max_connections_per_address = conf_per_address(c),
                       .connection_memory = (size_t)c->connection_memory,
                       .event = http_event,
                   },
                   cat, ret);
    if (r < 0)
        log_error("cannot start the HTTP%s server: %s", tls ? "S" : "", strerror(-r));
    return r;
}

int main(int argc, char **argv)
{
    struct args args = {0};
    struct conf conf = {0};
    struct catalog *cat = NULL;
    bool starting = true; /* the first scan lists the images */
    struct watch *watch = NULL;
    struct pending *pending = NULL;
    struct http *http = NULL, *https = NULL;
    struct tls *tls = NULL;
    const char *config_path = NULL;
    char line[1024], where[80], where_tls[80];
    sigset_t signals;
    unsigned threads;
    int status, sigfd = -1, n, r;

    status = parse_args(argc, argv, &args);
    if (status >= 0)
        return status;
    status = configure(&args, &conf, &config_path);
    if (status == 0)
        status = configure_tls(&conf, &tls);
    if (status != 0)
        goto out;
    if (args.check_config) {
        printf("%s: configuration OK\n", config_path != NULL ? config_path : "(defaults)");
        goto out;
    }
    status = 1;
    log_init(conf.log_level);
    threads = worker_threads(&conf);
    conf.threads = threads;
    conf_describe(&conf, line, sizeof(line));
    log_info("otad %s: %s", OTAD_VERSION, line);

    /* Signals are read by the main loop from a signalfd; every thread
     * started below inherits the mask that routes them there. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigfd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (sigfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        goto out;
    }
    raise_fd_limit();

    r = catalog_open(conf.firmware_dir,
                     &(struct catalog_limits){.retain_seconds = conf.retain_seconds,
                                              .max_memory = conf.max_memory},
                     report, &starting, &cat);
    if (r < 0) {
        log_error("firmware directory %s: %s", conf.firmware_dir, strerror(-r));
        goto out;
    }
    /* Watch before the first scan: nothing written meanwhile is missed. */
    r = watch_open(conf.firmware_dir, &watch);
    if (r == 0)
        r = pending_new(conf.settle_ms, &pending);
    if (r < 0) {
        log_error("cannot watch %s: %s", conf.firmware_dir, strerror(-r));
        goto out;
    }
    n = scan_all(cat);
    starting = false;
    if (n < 0) {
        log_error("firmware directory %s: %s", conf.firmware_dir, strerror(-n));
        goto out;
    }
    if (start_server(&conf, conf.port, NULL, threads, cat, &http, where, sizeof(where)) < 0 ||
        (tls != NULL &&
         start_server(&conf, conf.tls_port, tls, threads, cat, &https, where_tls,
                      sizeof(where_tls)) < 0))
        goto out;
    if (tls != NULL)
        log_info("listening on %s (http), %s (https), %d image%s", where, where_tls, n,
                 n == 1 ? "" : "s");
    else
        log_info("listening on %s, %d image%s", where, n, n == 1 ? "" : "s");
    notify_send("READY=1");

    r = serve(&(struct loop){.cat = cat, .watch = watch, .pending = pending, .tls = tls}, sigfd);
    if (r < 0)
        log_error("main loop: %s", strerror(-r));

    notify_send("STOPPING=1");
    http_begin_stop(http);
    if (https != NULL)
        http_begin_stop(https);
    if (!http_drain(http, DRAIN_MS) || (https != NULL && !http_drain(https, DRAIN_MS / 4)))
        log_warning("stopping with responses still in flight");
    status = 0;
out:
    http_stop(https);
    http_stop(http);
    tls_close(tls);
    pending_free(pending);
    watch_close(watch);
    catalog_close(cat);
    if (sigfd >= 0)
        close(sigfd);
    conf_fini(&conf);
    if (status == 0 && cat != NULL)
        log_info("stopped");
    return status;
}
