/* SPDX-License-Identifier: MIT */
/* Running exports (export.h) for the top level, which logs what they say:
 * the one-shot `otad export` command, and the daemon's export_dir, whose
 * tree follows every publish on the main loop's thread (never the HTTP
 * workers'). A failed export is logged and counted, and tried again; it
 * never stops serving. Part of the top level: called by main.c only. */
#ifndef OTAD_EXPORT_RUN_H
#define OTAD_EXPORT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "conf.h"

struct metrics;
struct trust;

/* Exit statuses of the command besides 0 (otad(8), EXPORT). */
#define EXPORT_EXIT_REFUSED 1   /* some firmware not exported */
#define EXPORT_EXIT_FAILED 2    /* the tree could not be written */

/* otad export: loads the firmware directory of @c once, as the daemon does
 * at start, under @trust (NULL: no keys), and writes it as a tree at @out.
 * Returns the exit status. */
int export_run_command(const struct conf *c, const struct trust *trust, const char *out);

/* The daemon's side. */
struct export_daemon {
    const char *dir;        /* export_dir (borrowed); NULL: no tree */
    unsigned retain;        /* retain_seconds */
    bool dirty;             /* the catalog published since the last export */
    uint64_t due_ms;        /* when to export again without a publish; 0: never */
    unsigned failures;      /* exports that failed, since the start */
    struct metrics *metrics;    /* counts them (NULL: not counted) */
    int sigfd;              /* a signal pending there stops an export under way */
};

/* Notes @change: a publish (or a removal) makes the tree due now. */
void export_run_changed(struct export_daemon *d, const struct catalog_change *change);

/* Milliseconds from @now_ms until the tree is due, 0 if it is, -1 if never. */
long export_run_timeout(const struct export_daemon *d, uint64_t now_ms);

/* Exports @cat if due at @now_ms, logging what went wrong. An export that
 * a signal stops is done again once the main loop has read it. */
void export_run_daemon(struct export_daemon *d, struct catalog *cat, uint64_t now_ms);

#endif
