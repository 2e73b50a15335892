/* SPDX-License-Identifier: MIT */
/* otaget's verdicts: whether a failed attempt is worth another, what went
 * wrong in words, and the one summary line of a run that succeeded. */
#ifndef OTAGET_SUMMARY_H
#define OTAGET_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "ota_update.h"
#include "watch.h"

/* What a run of attempts did, for its summary line. */
struct summary {
    uint64_t start_ms;        /* progress_now_ms() when the run started */
    unsigned attempts;
    uint32_t fetched;         /* block responses received, all attempts */
    uint32_t first;           /* where the first attempt that fetched started */
    uint32_t resumed_at;      /* where a later attempt resumed, 0: none */
};

/* Whether another attempt could succeed after the engine's result @r. */
bool summary_worth_retrying(int r, const struct watch *w);

/* The exit status (enum cli_exit) for the engine's failed result @r. */
int summary_exit_status(int r);

/* Says in @buf (@max bytes) what went wrong with the engine's result @r. */
void summary_describe(char *buf, size_t max, int r, const struct cli_options *o,
                      const struct watch *w, const struct ota_update *u);

/* The server had nothing newer than the installed version: messages on
 * stderr unless quiet, and the summary line on @f. */
void summary_up_to_date(FILE *f, const struct cli_options *o, const struct ota_update *u,
                        const struct summary *s);

/* The image was installed: the summary line on @f. */
void summary_installed(FILE *f, const struct cli_options *o, const struct ota_update *u,
                       const struct summary *s);

#endif
