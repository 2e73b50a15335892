/* SPDX-License-Identifier: MIT */
/* otaget: downloads a firmware from otad exactly as a device does.
 *
 * The portable core's update engine runs on the host port's simulated
 * STM32F401 flash: header sanity checks, per-block CRC with bounded retries
 * and reconnects, write and read-back, download bitmap, whole-image CRC and
 * commit. An interrupted download resumes from the flash state, within one
 * run (otad restarted) or on the next run with the same --flash file.
 *
 * This file runs the attempts; cli.c reads the command line, progress.c
 * draws on the terminal, watch.c is the transport (the host port's TCP
 * client, watched so that failures can be named) and summary.c says how it
 * all went. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "host.h"
#include "keys.h"
#include "ota_boot.h"
#include "ota_port.h"
#include "ota_report.h"
#include "ota_state.h"
#include "ota_update.h"
#include "progress.h"
#include "summary.h"
#include "watch.h"

#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 3000u

/* Whether the last ota_update_run() left more blocks verified in flash than
 * it started with. */
static bool made_progress(const struct ota_update *u)
{
    const struct ota_state_store *s = u->store;

    return u->blocks_fetched > 0 && (s->cur.flags & OTA_STATE_DOWNLOADING) &&
           ota_state_blocks_done(s, u->header.blocknum) > u->first_block;
}

/* Writes the @size bytes of the installed image to @path ("-": stdout). */
static int write_image(const char *path, uint32_t size)
{
    uint8_t *buf = malloc(size);
    FILE *f = NULL;
    int r = -EIO;

    if (buf == NULL)
        return -ENOMEM;
    if (ota_port_flash_read(OTA_AREA_PRIMARY, 0, buf, size) < 0)
        goto fail;
    f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (f == NULL) {
        r = -errno;
        goto fail;
    }
    if (fwrite(buf, 1, size, f) != size || fflush(f) != 0) {
        r = -errno;
        goto fail;
    }
    r = 0;
fail:
    if (f != NULL && f != stdout && fclose(f) != 0 && r == 0)
        r = -errno;
    free(buf);
    return r;
}

/* As a device with an id does: the image installed, or why the run
 * failed (once, for its last attempt). */
static void report_end(const struct ota_config *cfg, const struct ota_update *u, int r)
{
    enum ota_report_reason why = ota_report_reason(u, r);

    if (r == OTA_UPDATE_INSTALLED)
        ota_report_send(cfg, OTA_REPORT_INSTALLED, u->header.version, OTA_REASON_NONE);
    else if (why != OTA_REASON_NONE)
        ota_report_send(cfg, OTA_REPORT_FAILED, u->header.version, why);
}

/* Counts what attempt @u fetched into @s. */
static void count_blocks(struct summary *s, const struct ota_update *u, bool *any_block)
{
    if (u->blocks_fetched > 0 && *any_block)
        s->resumed_at = u->first_block; /* after an earlier attempt of this run */
    if (u->blocks_fetched > 0 && !*any_block) {
        *any_block = true;
        s->first = u->first_block;
    }
    s->fetched += u->blocks_fetched;
}

int main(int argc, char **argv)
{
    struct cli_options o;
    struct ota_config cfg = OTA_CONFIG_DEFAULT;
    struct ota_state_store store;
    struct ota_update u;
    struct watch net;
    struct host_net_ops ops;
    struct progress run = {.u = &u};
    struct summary sum = {.start_ms = progress_now_ms()};
    struct ota_key keys[CLI_PUB_MAX];
    uint32_t backoff = BACKOFF_FIRST_MS;
    unsigned failures = 0;
    bool any_block = false;
    char why[256];
    FILE *report;
    int status = CLI_EXIT_FAILURE;
    int r;

    r = cli_parse(argc, argv, &o);
    if (r == CLI_HELP) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (r == CLI_VERSION) {
        printf("otaget %s\n", OTAD_VERSION);
        return CLI_EXIT_OK;
    }
    if (r < 0)
        return CLI_EXIT_USAGE;
    report = o.out != NULL && strcmp(o.out, "-") == 0 ? stderr : stdout;
    progress_init();
    run.o = &o;
    watch_init(&net, o.host, o.port, o.timeout_ms);
    ops = watch_ops(&net);
    cfg.recv_timeout_ms = o.timeout_ms;
    if (cfg.report_timeout_ms > o.timeout_ms)
        cfg.report_timeout_ms = o.timeout_ms;
    /* Without an id, the requests of a legacy client, as before. */
    cfg.anonymous = o.device_id == NULL;
    host_set_device_id(o.device_id);
    for (unsigned i = 0; i < o.npub; i++) {
        r = keys_load(o.pub[i], &keys[i]);
        if (r < 0) {
            progress_msg("cannot use the key %s: %s", o.pub[i],
                         r == -EINVAL ? "not a P-256 public key" : strerror(-r));
            return CLI_EXIT_FAILURE;
        }
    }
    /* With keys, the rules of a bootloader that requires signatures;
     * without, those of a legacy device. */
    host_set_keys(keys, o.npub);
    cfg.require_signature = o.npub > 0;

    host_set_server(o.host, o.port, o.name);
    host_set_quiet(!o.verbose);
    host_net_use(&ops);
    r = host_flash_open(o.flash);
    if (r < 0) {
        progress_msg("cannot open the flash image %s: %s", o.flash,
                     r == -EINVAL ? "not a 512 KiB flash image" : strerror(-r));
        return CLI_EXIT_FLASH;
    }

    for (;;) {
        sum.attempts++;
        watch_attempt(&net);
        r = ota_state_load(&store, ota_port_flash_map());
        if (r < 0) {
            progress_msg("cannot read the boot state from the simulated flash");
            status = CLI_EXIT_FLASH;
            goto fail;
        }
        ota_update_init(&u, &cfg, &store);
        u.progress = progress_on_block;
        u.progress_ctx = &run;
        progress_attempt(&run);
        r = ota_update_run(&u, o.have_installed, o.installed);
        progress_end(r == OTA_UPDATE_INSTALLED);
        count_blocks(&sum, &u, &any_block);
        if (r == OTA_UPDATE_INSTALLED || r == OTA_UPDATE_CURRENT)
            break;
        summary_describe(why, sizeof(why), r, &o, &net, &u);
        /* A run that stored blocks for good got somewhere: the count starts
         * again. (A download given up for a bad whole-image CRC did not.) */
        if (made_progress(&u)) {
            failures = 0;
            backoff = BACKOFF_FIRST_MS;
        }
        if (!summary_worth_retrying(r, &net) || ++failures >= o.retries) {
            if (summary_worth_retrying(r, &net))
                progress_msg("%s (gave up after %u attempt%s)", why, sum.attempts,
                             sum.attempts == 1 ? "" : "s");
            else
                progress_msg("%s", why);
            report_end(&cfg, &u, r);
            status = summary_exit_status(r);
            goto fail;
        }
        if (!o.quiet)
            progress_msg("attempt %u failed: %s; retrying in %.2f s", sum.attempts, why,
                         backoff / 1000.0);
        ota_port_sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }

    if (r == OTA_UPDATE_CURRENT) {
        summary_up_to_date(report, &o, &u, &sum);
    } else {
        report_end(&cfg, &u, r);
        if (!any_block)
            sum.first = u.first_block; /* a resume with every block already stored */
        if (o.out != NULL) {
            r = write_image(o.out, u.header.binsize);
            if (r < 0) {
                progress_msg("cannot write %s: %s", o.out, strerror(-r));
                status = CLI_EXIT_FAILURE;
                goto fail;
            }
        }
        summary_installed(report, &o, &u, &sum);
    }
    fflush(report);
    host_flash_close();
    return CLI_EXIT_OK;

fail:
    host_flash_close();
    return status;
}
