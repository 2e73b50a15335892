/* SPDX-License-Identifier: MIT */
/* otad: serves the block OTA protocol from a firmware directory.
 *
 * The table of contents: configuration, logging, signals, the catalog and its
 * directory watch, the listening socket, the HTTP workers, then the main loop
 * (signals, directory changes, expiry of old generations) until asked to
 * stop, then the same in reverse. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "admin.h"
#include "args.h"
#include "catalog.h"
#include "conf.h"
#include "escape.h"
#include "export_run.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pending.h"
#include "privs.h"
#include "report.h"
#include "scan.h"
#include "setup.h"
#include "store.h"
#include "tls.h"
#include "trust.h"
#include "watch.h"

/* In-flight responses get this long to finish after SIGTERM. */
#define DRAIN_MS 1500

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
    struct metrics *metrics;    /* counts the reloads */
    struct notify *notify;      /* told of reloads, status and liveness */
    bool starting;      /* during the first scan, which lists each image */
    struct export_daemon exported;  /* export_dir's tree, following each publish */
    struct scan_hooks hooks;    /* for scan_all(): the writers, the retries */
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

/* The log of the catalog's changes (@ctx is the loop). A name refused again
 * while it is retried was told when it was first refused. */
static void report(void *ctx, const struct catalog_change *c)
{
    struct loop *l = ctx;

    metrics_catalog(l->metrics, c);
    export_run_changed(&l->exported, c);
    if ((c->event == CATALOG_SKIPPED || c->event == CATALOG_UNSETTLED) && c->name != NULL &&
        l->pending != NULL && pending_retrying(l->pending, c->name))
        return;
    report_catalog_change(c, l->starting);
}

static void on_event(void *ctx, enum watch_kind kind, const char *name)
{
    struct loop *l = ctx;
    char buf[ESCAPE_NAME_SIZE];

    if (kind == WATCH_OVERFLOW)
        log_warning("directory events were lost; rescanning %s", catalog_dir(l->cat));
    if (pending_note(l->pending, kind, name, event_ms()) < 0)
        log_error("out of memory noting a change of %s",
                  name ? escape_name(name, buf, sizeof(buf)) : "the directory");
}

/* @name could not be loaded for now (@error): read it again once settled,
 * and not before a second if downloads held the memory it needs or the file
 * was empty. */
static void retry(void *ctx, const char *name, int error)
{
    struct loop *l = ctx;
    char buf[ESCAPE_NAME_SIZE];

    if (pending_retry(l->pending, name, event_ms(), error == -EAGAIN ? 10 : 1000) < 0)
        log_error("out of memory noting a retry of %s", escape_name(name, buf, sizeof(buf)));
}

static bool writing(void *ctx, const char *name)
{
    return pending_writing(((struct loop *)ctx)->pending, name);
}

static void rescan(struct loop *l, const char *why)
{
    int n;

    /* A new directory at the path gets watched, before it is read so that
     * nothing written meanwhile is missed; a missing one is waited for
     * through the watch on its parent. The events already queued are read
     * first, so that a writer at work is known as such. */
    watch_rearm(l->watch);
    watch_read(l->watch, on_event, l); /* an error shows at the next poll */
    n = scan_all(l->cat, &l->hooks);
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

static void on_due(void *ctx, const char *name)
{
    struct loop *l = ctx;
    char buf[ESCAPE_NAME_SIZE];
    int r;

    if (name == NULL) {
        rescan(l, "directory changed");
        return;
    }
    r = scan_reload(l->cat, name);
    /* Changed while being read, no room yet, or emptied in place (the image
     * before stays served meanwhile). */
    if (r == -EAGAIN || r == -ENOBUFS || r == -ENODATA)
        retry(l, name, r);
    else if (r == -ENOENT || r == -ENOTDIR)
        pending_note(l->pending, WATCH_DIR, NULL, event_ms());
    else if (r < 0)
        log_error("%s: reload failed: %s", escape_name(name, buf, sizeof(buf)), strerror(-r));
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
        long alive = notify_timeout(l->notify, (int64_t)now_ms());
        long exported = export_run_timeout(&l->exported, now_ms());
        int timeout = (int)(settle < 0 ? expire : expire < 0 ? settle
                                                 : settle < expire ? settle : expire);

        if (alive >= 0 && (timeout < 0 || alive < timeout))
            timeout = (int)alive;
        if (exported >= 0 && (timeout < 0 || exported < timeout))
            timeout = (int)exported;

        if (poll(fds, 2, timeout) < 0 && errno != EINTR)
            return -errno;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo != SIGHUP) {
                    log_info("stopping (%s)", strsignal((int)si.ssi_signo));
                    return 0;
                }
                notify_reloading(l->notify);
                reload_tls(l);
                rescan(l, "SIGHUP");
                notify_ready(l->notify);
            }
        }
        if (fds[1].revents & POLLIN)
            watch_read(l->watch, on_event, l);
        pending_run(l->pending, now_ms(), on_due, l);
        /* After the reloads: the tree gets what they published. */
        export_run_daemon(&l->exported, l->cat, now_ms());
        notify_tick(l->notify, (int64_t)now_ms(), catalog_count(l->cat),
                    metrics_connections(l->metrics));
    }
}

/* The device port's events: counted, then logged. */
static void on_http(void *metrics, const struct http_event *e)
{
    metrics_http(metrics, e);
    report_http(NULL, e);
}

/* Starts HTTP (or HTTPS with @tls) on the listener *@fd, which it takes (and
 * sets to -1), feeding @fleet and @m. Returns 0, or logs why not and returns -errno. */
static int start_server(const struct conf *c, int *fd, struct tls *tls, unsigned threads,
                        struct catalog *cat, struct fleet *fleet, struct metrics *m,
                        struct http **ret)
{
    int r;

    r = http_start(&(struct http_options){
                       .listen_fd = *fd,
                       .tls = tls,
                       .idle_timeout = c->idle_timeout,
                       .request_timeout = c->request_timeout,
                       .legacy_keep_alive = c->legacy_keep_alive,
                       .threads = threads,
                       .max_connections = c->max_connections,
                       .max_connections_per_address = conf_per_address(c),
                       .connection_memory = (size_t)c->connection_memory,
                       .event = on_http,
                       .event_cls = m,
                       .fleet = c->fleet_track ? fleet : NULL,
                       /* Below info level the lines are never written: nothing
                        * is counted or timed for them either. */
                       .log_downloads = c->access_log == CONF_ACCESS_LOG_DOWNLOADS &&
                                        log_enabled(LOG_LEVEL_INFO),
                       .log_requests = c->access_log == CONF_ACCESS_LOG_REQUESTS &&
                                       log_enabled(LOG_LEVEL_INFO),
                   },
                   cat, ret);
    *fd = -1; /* http_start() took it, even on failure */
    if (r < 0)
        log_error("cannot start the HTTP%s server: %s", tls ? "S" : "", strerror(-r));
    return r;
}

int main(int argc, char **argv)
{
    struct args args = {0};
    struct conf conf = {0};
    struct loop loop = {.starting = true};
    struct catalog *cat = NULL;
    struct watch *watch = NULL;
    struct pending *pending = NULL;
    struct http *http = NULL, *https = NULL;
    struct tls *tls = NULL;
    struct trust *trust = NULL;
    struct metrics *metrics = NULL;
    struct admin *admin = NULL;
    struct fleet *fleet = NULL;
    struct store *store = NULL;
    struct notify *notify = NULL;
    struct privs privs;
    const char *config_path = NULL;
    char line[1024], where[80], where_tls[80], where_admin[80];
    sigset_t signals;
    unsigned threads;
    int status, sigfd = -1, fd = -1, fd_tls = -1, fd_admin = -1, n, r;

    status = args_parse(argc, argv, &args);
    if (status >= 0)
        return status;
    status = setup_configure(&args, &conf, &privs, &config_path);
    if (status == 0 && args.export_out == NULL)
        status = setup_tls(&conf, &tls);
    if (status == 0)
        status = setup_trust(&conf, &trust);
    if (status != 0)
        goto out;
    if (args.check_config) {
        printf("%s: configuration OK\n", config_path != NULL ? config_path : "(defaults)");
        goto out;
    }
    if (args.export_out != NULL) {
        status = export_run_command(&conf, trust, args.export_out);
        goto out;
    }
    status = 1;
    log_init(conf.log_level);
    threads = setup_threads(&conf);
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
    setup_fd_limit();
    if (metrics_new(&metrics) < 0 || notify_new(&notify) < 0)
        goto out;

    /* What needs root, the ports and the TLS key (loaded above), is open:
     * root goes before any firmware file is read and any thread starts. */
    if (setup_listener(conf.bind, conf.port, &fd, where, sizeof(where)) < 0 ||
        (tls != NULL && setup_listener(conf.bind, conf.tls_port, &fd_tls, where_tls,
                                      sizeof(where_tls)) < 0) ||
        (conf.admin_port != 0 && setup_listener(conf.admin_bind, conf.admin_port, &fd_admin,
                                               where_admin, sizeof(where_admin)) < 0) ||
        setup_drop_root(&privs, conf.user) < 0)
        goto out;
    r = catalog_open(conf.firmware_dir,
                     &(struct catalog_limits){.retain_seconds = conf.retain_seconds,
                                              .max_memory = conf.max_memory,
                                              .max_image_size = conf.max_image_size,
                                              .trust = trust},
                     report, &loop, &cat);
    if (r < 0) {
        log_error("firmware directory %s: %s", conf.firmware_dir, strerror(-r));
        /* Checked before, but as root: the user otad became cannot read it. */
        if (r == -EACCES || r == -ENOENT || r == -ENOTDIR)
            status = CONF_EXIT_STATUS;
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
    loop = (struct loop){.cat = cat, .watch = watch, .pending = pending, .tls = tls,
                         .metrics = metrics, .notify = notify, .starting = true,
                         /* The first pass writes the tree even of no image. */
                         .exported = {.dir = conf.export_dir, .retain = conf.retain_seconds,
                                      .dirty = true, .metrics = metrics, .sigfd = sigfd},
                         .hooks = {writing, retry, &loop}};
    n = scan_all(cat, &loop.hooks);
    loop.starting = false;
    if (n < 0) {
        log_error("firmware directory %s: %s", conf.firmware_dir, strerror(-n));
        goto out;
    }
    r = fleet_new(&(struct fleet_options){conf.fleet_track, conf.fleet_max_devices,
                                          conf.fleet_history, conf.fleet_stall_seconds}, &fleet);
    /* Finished downloads are the access log's lines (access_log). */
    if (r < 0)
        log_error("device registry: %s", strerror(-r));
    /* Before serving, so that the devices read back are there. */
    if (r == 0 && conf.fleet_track &&
        (r = store_start(&(struct store_options){.dir = conf.state_dir, .max_devices =
                         conf.fleet_max_devices, .history = conf.fleet_history},
                         fleet, log_msg, &store)) < 0)
        log_error("device store: %s", strerror(-r));
    if (r < 0 || start_server(&conf, &fd, NULL, threads, cat, fleet, metrics, &http) < 0 ||
        (tls != NULL &&
         start_server(&conf, &fd_tls, tls, threads, cat, fleet, metrics, &https) < 0))
        goto out;
    r = fd_admin < 0 ? 0 : admin_start(&conf, fd_admin, report_http, cat, fleet, metrics, &admin);
    fd_admin = -1; /* admin_start() took it */
    if (r < 0) {
        log_error("cannot start the admin listener: %s", strerror(-r));
        goto out;
    }
    if (admin != NULL)
        log_info("admin API on %s", where_admin);
    if (tls != NULL)
        log_info("listening on %s (http), %s (https), %d image%s", where, where_tls, n,
                 n == 1 ? "" : "s");
    else
        log_info("listening on %s, %d image%s", where, n, n == 1 ? "" : "s");
    notify_ready(notify);

    r = serve(&loop, sigfd);
    if (r < 0)
        log_error("main loop: %s", strerror(-r));

    notify_stopping(notify);
    http_begin_stop(http);
    if (https != NULL)
        http_begin_stop(https);
    if (!http_drain(http, DRAIN_MS) || (https != NULL && !http_drain(https, DRAIN_MS / 4)))
        log_warning("stopping with responses still in flight");
    status = 0;
out:
    admin_stop(admin);
    http_stop(https);
    http_stop(http);
    store_stop(store);
    fleet_free(fleet);
    if (fd_admin >= 0)
        close(fd_admin);
    if (fd_tls >= 0)
        close(fd_tls);
    if (fd >= 0)
        close(fd);
    tls_close(tls);
    pending_free(pending);
    watch_close(watch);
    catalog_close(cat);
    trust_close(trust);
    metrics_free(metrics);
    notify_free(notify);
    if (sigfd >= 0)
        close(sigfd);
    conf_fini(&conf);
    if (status == 0 && cat != NULL)
        log_info("stopped");
    return status;
}
