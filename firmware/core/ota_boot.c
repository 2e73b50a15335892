/* SPDX-License-Identifier: MIT */
#include "ota_boot.h"

#include "ota_err.h"
#include "ota_flash.h"
#include "ota_image.h"
#include "ota_log.h"
#include "ota_port.h"
#include "ota_report.h"
#include "ota_state.h"
#include "ota_swap.h"
#include "ota_trust.h"
#include "ota_update.h"

/* An application is bootable only if its whole CRC matches the one recorded
 * when it was installed, its vector table is plausible, and, when the build
 * requires signatures, the SHA-256 of the manifest kept beside it. */
static bool app_bootable(const struct ota_state_store *s, const struct ota_config *cfg)
{
    if (!(s->cur.flags & OTA_STATE_APP_VALID) ||
        (!s->dual && (s->cur.flags & OTA_STATE_DOWNLOADING)))
        return false;
    if (!ota_image_verify(s->map, OTA_AREA_PRIMARY, s->cur.app_size, s->cur.app_crc)) {
        ota_logf("boot: application fails its crc check");
        return false;
    }
    if (cfg->require_signature &&
        !ota_trust_boot(OTA_AREA_PRIMARY, s->cur.app_size, s->cur.app_crc, s->cur.app_version)) {
        ota_logf("boot: application does not match its manifest");
        return false;
    }
    return ota_app_plausible(s->map, ota_port_ram());
}

static void boot(const struct ota_state_store *s)
{
    ota_logf("boot: starting application version %u", s->cur.app_version);
    ota_port_watchdog_feed();
    ota_port_jump(s->map->area[OTA_AREA_PRIMARY].addr);
}

/* Appends the current record with @clear flags cleared and @set set. */
static int set_flags(struct ota_state_store *s, uint32_t clear, uint32_t set)
{
    struct ota_state st = s->cur;

    st.flags = (st.flags & ~clear) | set;
    return ota_state_write(s, &st, false);
}

/* The failure of the update attempt @u (result @r), if it is one the
 * server should hear of. */
static void report_failure(const struct ota_config *cfg, const struct ota_update *u, int r)
{
    enum ota_report_reason why = ota_report_reason(u, r);

    if (why != OTA_REASON_NONE)
        ota_report_send(cfg, OTA_REPORT_FAILED, u->header.version, why);
}

/* Dual-slot: the report the end of a swap or a confirmation left for this
 * boot. The record that clears it comes first: a power cut before that
 * record leaves the report for the next boot, and none can make it go
 * twice. A record that cannot be written sends nothing, or every boot would. */
static void report_pending(struct ota_state_store *s, const struct ota_config *cfg)
{
    uint32_t pending = s->cur.flags & OTA_STATE_REPORT_MASK;
    uint32_t version = pending == OTA_STATE_REPORT_REVERTED ? s->cur.dl_version
                                                           : s->cur.app_version;

    if (set_flags(s, OTA_STATE_REPORT_MASK, 0) < 0) {
        ota_logf("boot: cannot clear the pending report");
        return;
    }
    ota_report_send(cfg,
                    pending == OTA_STATE_REPORT_REVERTED ? OTA_REPORT_REVERTED
                    : pending == OTA_STATE_REPORT_TRIAL  ? OTA_REPORT_CONFIRMED
                                                         : OTA_REPORT_INSTALLED,
                    version, OTA_REASON_NONE);
}

/* What one turn of the boot loop did, when it did not start the
 * application: a negative result is a failure of @what, retried later. */
struct turn {
    int result;
    const char *what;
};

/* Dual-slot: the application on trial gets its boot, or is reverted.
 * Returns true if it was started (a simulator's jump returns). */
static bool trial_boot(struct ota_state_store *s, const struct ota_config *cfg, struct turn *t)
{
    uint32_t allowed = cfg->trial_boots ? cfg->trial_boots : 1;
    struct ota_state st = s->cur;

    if (st.trials < allowed && app_bootable(s, cfg)) {
        bool installed = (st.flags & OTA_STATE_REPORT_MASK) == OTA_STATE_REPORT_INSTALLED;

        st.trials++;
        /* The first trial boot reports the install, and leaves the
         * confirmation to be reported once the application has made it. */
        if (installed)
            st.flags = (st.flags & ~OTA_STATE_REPORT_MASK) | OTA_STATE_REPORT_TRIAL;
        ota_logf("boot: version %u on trial, boot %u of %u", st.app_version, st.trials, allowed);
        /* Counted before the jump: a reset at any later instant is a boot
         * that did not confirm. A flash that cannot take the record cannot
         * take a revert either: starting the application is all that is
         * left. */
        if (ota_state_write(s, &st, false) < 0)
            ota_logf("boot: cannot count the trial boot");
        else if (installed)
            ota_report_send(cfg, OTA_REPORT_INSTALLED, st.app_version, OTA_REASON_NONE);
        boot(s);
        return true;
    }
    if (!(st.flags & OTA_STATE_SECONDARY_VALID) ||
        !ota_image_verify(s->map, OTA_AREA_SECONDARY, st.dl_size, st.dl_crc)) {
        /* Nothing verified to go back to: keep the new image as it is. */
        ota_logf("boot: version %u not confirmed, and no previous image to revert to",
                 st.app_version);
        t->result = set_flags(s, OTA_STATE_TRIAL | OTA_STATE_REPORT_MASK, 0);
        t->what = "confirmation";
        return false;
    }
    ota_logf("boot: version %u not confirmed after %u boot(s); reverting to version %u",
             st.app_version, st.trials, st.dl_version);
    st.op = OTA_OP_REVERT;
    st.op_done = 0;
    t->result = ota_state_write(s, &st, false);
    t->what = "revert";
    return false;
}

/* Dual-slot: the install or revert in progress, to its end. */
static void finish_swap(struct ota_state_store *s, struct turn *t)
{
    uint32_t version = s->cur.dl_version;
    bool install = s->cur.op == OTA_OP_INSTALL;

    t->what = install ? "install" : "revert";
    t->result = ota_swap_run(s);
    if (t->result >= 0)
        ota_logf("boot: %s version %u", install ? "installed" : "reverted to", version);
}

/* True if @r, the end of an update attempt, is the server's answer to the
 * request rather than a failure to get one. */
static bool answered(int r)
{
    return r == OTA_UPDATE_CURRENT || r == OTA_UPDATE_REJECTED || r == OTA_ERR_PROTOCOL;
}

/* One turn of the dual-slot boot: true once an application was started.
 * With a working application the device never waits for the server: one
 * update attempt when asked, then the application. */
static bool boot_dual(struct ota_state_store *s, const struct ota_config *cfg, struct turn *t)
{
    struct ota_update u;
    bool have_app;
    int r;

    if (s->cur.op != OTA_OP_NONE) {
        finish_swap(s, t);
        return false;
    }
    if (s->cur.flags & OTA_STATE_TRIAL)
        return trial_boot(s, cfg, t);
    if (s->cur.flags & OTA_STATE_REPORT_MASK)
        report_pending(s, cfg);
    have_app = app_bootable(s, cfg);
    if (have_app && !(s->cur.flags & OTA_STATE_UPDATE_REQUESTED)) {
        boot(s);
        return true;
    }
    ota_logf("boot: update (%s)", have_app ? "requested" : "no valid application");
    ota_update_init(&u, cfg, s);
    u.header_tries = have_app ? 1 : 0;
    r = ota_update_run(&u, have_app, s->cur.app_version);
    if (r == OTA_UPDATE_STAGED)
        return false;
    report_failure(cfg, &u, r);
    t->result = r == OTA_UPDATE_REJECTED ? OTA_ERR_REJECTED : r;
    if (!have_app)
        return false;
    if (r < 0)
        ota_logf("boot: update failed (%d); starting the installed application", (int32_t)r);
    /* An answer (nothing newer, the image reverted before, one that cannot
     * fit) settles the request. A failure on the way (no server, a download
     * cut short) leaves it: the next boot tries once more, resuming. */
    if (answered(r) && (s->cur.flags & OTA_STATE_UPDATE_REQUESTED) &&
        set_flags(s, OTA_STATE_UPDATE_REQUESTED, 0) < 0)
        ota_logf("boot: cannot clear the update request");
    boot(s);
    return true;
}

/* One turn of the single-slot boot, as in devices already in the field:
 * true once an application was started. */
static bool boot_single(struct ota_state_store *s, const struct ota_config *cfg,
                        uint32_t attempt, struct turn *t)
{
    struct ota_update u;
    bool have_app = app_bootable(s, cfg);
    int r;

    if (have_app && !(s->cur.flags & OTA_STATE_UPDATE_REQUESTED)) {
        boot(s);
        return true;
    }
    ota_logf("boot: update (attempt %u, %s)", attempt,
             have_app ? "requested" : "no valid application");
    ota_update_init(&u, cfg, s);
    r = ota_update_run(&u, have_app, s->cur.app_version);
    if (r == OTA_UPDATE_INSTALLED)
        ota_report_send(cfg, OTA_REPORT_INSTALLED, u.header.version, OTA_REASON_NONE);
    else
        report_failure(cfg, &u, r);
    if (r == OTA_UPDATE_CURRENT && (s->cur.flags & OTA_STATE_UPDATE_REQUESTED) &&
        set_flags(s, OTA_STATE_UPDATE_REQUESTED, 0) < 0) {
        /* The application is valid and nothing newer exists: run it rather
         * than ask the server again and again. */
        ota_logf("boot: cannot clear the update request");
        boot(s);
        return true;
    }
    if (r == OTA_UPDATE_INSTALLED || r == OTA_UPDATE_CURRENT)
        return false; /* boot through the same checks as any boot */
    t->result = r;
    /* Without a server the application that works is better than none; a
     * device without one has nothing else to do but try again. */
    if (have_app && attempt >= cfg->attempts_with_app) {
        ota_logf("boot: update failed (%d) %u times; starting the installed application",
                 (int32_t)r, attempt);
        boot(s);
        return true;
    }
    return false;
}

void ota_boot_main(const struct ota_config *cfg)
{
    const struct ota_flash_map *map = ota_port_flash_map();
    struct ota_state_store store;
    uint32_t backoff = cfg->backoff_first_ms;

    for (uint32_t attempt = 1;; attempt++) {
        struct turn t = {OTA_OK, "update"};

        ota_port_watchdog_feed();
        if (ota_state_load(&store, map) < 0) {
            ota_logf("boot: cannot read the boot state");
            ota_port_sleep_ms(backoff);
            continue;
        }
        if (store.dual ? boot_dual(&store, cfg, &t) : boot_single(&store, cfg, attempt, &t))
            return;
        if (t.result >= 0) {
            attempt = 0;
            backoff = cfg->backoff_first_ms;
            continue;
        }
        ota_logf("boot: %s failed (%d); retrying in %u ms", t.what, (int32_t)t.result, backoff);
        ota_port_sleep_ms(backoff);
        backoff = backoff > cfg->backoff_max_ms / 2 ? cfg->backoff_max_ms : backoff * 2;
    }
}

/* Loads the state and appends it again with @set flags set and @clear
 * cleared (the application's side). */
static int app_record(uint32_t clear, uint32_t set, struct ota_state_store *s)
{
    int r = ota_state_load(s, ota_port_flash_map());

    if (r < 0)
        return r;
    return set_flags(s, clear, set) < 0 ? OTA_ERR_STATE : OTA_OK;
}

int ota_request_update(void)
{
    struct ota_state_store store;
    int r = app_record(0, OTA_STATE_UPDATE_REQUESTED, &store);

    if (r < 0)
        return r;
    ota_port_reset();
    return OTA_OK;
}

int ota_confirm(void)
{
    struct ota_state_store store;
    struct ota_state st;
    int r = ota_state_load(&store, ota_port_flash_map());

    if (r < 0)
        return r;
    if (!store.dual || !(store.cur.flags & OTA_STATE_TRIAL))
        return OTA_OK;
    st = store.cur;
    st.flags &= ~OTA_STATE_TRIAL;
    st.trials = 0;
    return ota_state_write(&store, &st, false) < 0 ? OTA_ERR_STATE : OTA_OK;
}
