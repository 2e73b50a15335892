/* SPDX-License-Identifier: MIT */
/* otaget's terminal output on stderr: one-line messages, and the download's
 * progress as a bar redrawn in place on a terminal, or a line every 10 %
 * otherwise. Messages first end a bar that is showing. */
#ifndef OTAGET_PROGRESS_H
#define OTAGET_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "ota_update.h"

/* The progress of one run of attempts, for the engine's callback. */
struct progress {
    const struct cli_options *o;   /* borrowed */
    struct ota_update *u;          /* borrowed: the attempt under way */
    uint64_t attempt_start_ms;
    uint64_t last_draw_ms;
    bool announced;                /* this attempt's "downloading"/"resuming" line */
    int last_decile;               /* of the plain progress lines */
};

/* Milliseconds of a monotonic clock. */
uint64_t progress_now_ms(void);

/* Looks whether stderr is a terminal (a bar) or not (plain lines). */
void progress_init(void);

/* "otaget: " and the formatted line on stderr, in one write: it may share a
 * pipe with other output. */
void progress_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends the bar's line, so that the next output starts clean. */
void progress_break(void);

/* Before each attempt with @p->u. */
void progress_attempt(struct progress *p);

/* After each attempt: a full bar of an installed image stays on its line. */
void progress_end(bool installed);

/* The engine's callback (@ctx a struct progress) after each block written
 * and verified; also waits the --delay. */
void progress_on_block(void *ctx, uint32_t done, uint32_t total);

#endif
