/* SPDX-License-Identifier: MIT */
#include "progress.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ota_port.h"

static bool bar_on_tty; /* stderr is a terminal: one line redrawn with \r */
static bool bar_shown;  /* that line holds a bar now */

uint64_t progress_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void progress_init(void)
{
    bar_on_tty = isatty(STDERR_FILENO);
}

void progress_break(void)
{
    if (bar_shown)
        fputs("\r\033[K", stderr);
    bar_shown = false;
}

void progress_msg(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    progress_break();
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "otaget: %s\n", line);
}

void progress_attempt(struct progress *p)
{
    p->attempt_start_ms = progress_now_ms();
    p->announced = false;
}

void progress_end(bool installed)
{
    if (bar_shown && installed) {
        fputc('\n', stderr); /* the full bar stays */
        bar_shown = false;
    }
    progress_break();
}

static void draw_bar(struct progress *p, uint32_t done, uint32_t total)
{
    char bar[31];
    uint32_t fill = (uint32_t)((uint64_t)done * (sizeof(bar) - 1) / total);
    uint64_t ms = progress_now_ms() - p->attempt_start_ms;
    uint32_t fetched = p->u->blocks_fetched;

    memset(bar, '#', fill);
    memset(bar + fill, '.', sizeof(bar) - 1 - fill);
    bar[sizeof(bar) - 1] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %3u%% %u/%u blocks", p->o->name, bar,
            (unsigned)((uint64_t)done * 100 / total), done, total);
    if (ms > 0)
        fprintf(stderr, " %.0f KiB/s", fetched * (double)OTA_BLOCK_DATA / 1.024 / (double)ms);
    bar_shown = true;
}

/* The first block of an attempt: what it downloads, from where. */
static void announce(struct progress *p, uint32_t done, uint32_t total)
{
    const struct ota_header *h = &p->u->header;

    p->announced = true;
    p->last_decile = (int)((uint64_t)(done - 1) * 10 / total);
    if (!p->o->quiet && p->u->first_block == 0)
        progress_msg("%s: downloading version %" PRIu32 ": %" PRIu32 " bytes, %" PRIu32
                     " blocks, crc 0x%08" PRIX32,
                     p->o->name, h->version, h->binsize, h->blocknum, h->checksum);
    else if (!p->o->quiet)
        progress_msg("%s: resuming version %" PRIu32 " at block %" PRIu32 " of %" PRIu32,
                     p->o->name, h->version, p->u->first_block, h->blocknum);
}

void progress_on_block(void *ctx, uint32_t done, uint32_t total)
{
    struct progress *p = ctx;
    uint64_t t = progress_now_ms();

    if (!p->announced)
        announce(p, done, total);
    if (!p->o->quiet && bar_on_tty && (t - p->last_draw_ms >= 100 || done == total)) {
        p->last_draw_ms = t;
        draw_bar(p, done, total);
    } else if (!p->o->quiet && !bar_on_tty) {
        int decile = (int)((uint64_t)done * 10 / total);

        if (decile > p->last_decile) {
            p->last_decile = decile;
            progress_msg("%s: %" PRIu32 "/%" PRIu32 " blocks (%d%%)", p->o->name, done, total,
                         decile * 10);
        }
    }
    if (p->o->delay_ms > 0)
        ota_port_sleep_ms(p->o->delay_ms);
}
