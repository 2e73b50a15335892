/* SPDX-License-Identifier: MIT */
#include "export_run.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "escape.h"
#include "export.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "scan.h"

/* A failed export of the daemon's tree is tried again after this long. */
#define RETRY_MS 5000

/* What the command's catalog and export told, counted. */
struct told {
    unsigned refused;
};

static void refused(void *ctx, const char *name, const char *why)
{
    struct told *t = ctx;
    char buf[ESCAPE_NAME_SIZE];

    if (t != NULL)
        t->refused++;
    log_warning("%s: not exported: %s", escape_name(name, buf, sizeof(buf)), why);
}

/* The catalog's changes while the command loads it: each image listed, as
 * at the daemon's start, and each refused firmware counted. */
static void loaded(void *ctx, const struct catalog_change *c)
{
    struct told *t = ctx;

    if (c->event == CATALOG_SKIPPED)
        t->refused++;
    report_catalog_change(c, true);
}

int export_run_command(const struct conf *c, const struct trust *trust, const char *out)
{
    struct told told = {0};
    struct catalog *cat = NULL;
    struct export_report rep;
    int r;

    log_init(c->log_level);
    r = catalog_open(c->firmware_dir,
                     &(struct catalog_limits){.retain_seconds = c->retain_seconds,
                                              .max_memory = c->max_memory,
                                              .max_image_size = c->max_image_size,
                                              .trust = trust},
                     loaded, &told, &cat);
    if (r == 0)
        r = scan_all(cat, NULL);
    if (r < 0) {
        log_error("firmware directory %s: %s", c->firmware_dir, strerror(-r));
        catalog_close(cat);
        return EXPORT_EXIT_FAILED;
    }
    r = export_write(cat,
                     &(struct export_options){.out = out, .retain_seconds = c->retain_seconds,
                                              .refused = refused, .ctx = &told},
                     &rep);
    if (r < 0)
        log_error("export to %s: %s: %s", out, rep.path, strerror(-r));
    else
        log_info("exported %zu firmware%s to %s, %u refused", catalog_count(cat) - (size_t)r,
                 catalog_count(cat) - (size_t)r == 1 ? "" : "s", out, told.refused);
    catalog_close(cat);
    if (r < 0)
        return EXPORT_EXIT_FAILED;
    return told.refused > 0 ? EXPORT_EXIT_REFUSED : 0;
}

void export_run_changed(struct export_daemon *d, const struct catalog_change *change)
{
    switch (change->event) {
    case CATALOG_ADDED:
    case CATALOG_REPLACED:
    case CATALOG_VERSION:
    case CATALOG_REMOVED:
        d->dirty = true;
        break;
    default:
        break;
    }
}

long export_run_timeout(const struct export_daemon *d, uint64_t now_ms)
{
    if (d->dir == NULL || (!d->dirty && d->due_ms == 0))
        return -1;
    if (d->dirty || d->due_ms <= now_ms)
        return 0;
    return (long)(d->due_ms - now_ms);
}

/* A signal waits on the daemon's signalfd: the main loop is to read it
 * now, not after the rest of a large export. */
static bool signalled(void *ctx)
{
    const struct export_daemon *d = ctx;
    struct pollfd p = {.fd = d->sigfd, .events = POLLIN};

    return d->sigfd >= 0 && poll(&p, 1, 0) > 0;
}

void export_run_daemon(struct export_daemon *d, struct catalog *cat, uint64_t now_ms)
{
    struct export_report rep;
    int r;

    if (export_run_timeout(d, now_ms) != 0)
        return;
    d->dirty = false;
    r = export_write(cat,
                     &(struct export_options){.out = d->dir, .retain_seconds = d->retain,
                                              .refused = refused, .stop = signalled,
                                              .stop_ctx = d},
                     &rep);
    if (r == -EINTR) {
        d->dirty = true;
        return;
    }
    metrics_export(d->metrics, r >= 0);
    if (r < 0) {
        d->failures++;
        d->due_ms = now_ms + RETRY_MS;
        log_error("export_dir %s: %s: %s (failed exports: %u); serving goes on, trying again "
                  "in %d s",
                  d->dir, rep.path, strerror(-r), d->failures, RETRY_MS / 1000);
        return;
    }
    /* A second late, so that what is due is old enough by then. */
    d->due_ms = rep.due < 0 ? 0 : now_ms + (uint64_t)rep.due * 1000u + 1000u;
}
