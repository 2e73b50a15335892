#include "ota_boot.h"

#include "ota_err.h"
#include "ota_image.h"
#include "ota_log.h"
#include "ota_port.h"
#include "ota_state.h"
#include "ota_update.h"

/* An application is bootable only if its whole CRC matches the one recorded
 * when it was installed, and its vector table is plausible. */
static bool app_bootable(const struct ota_state_store *s)
{
    const struct ota_flash_layout *fl = s->fl;

    if (!(s->cur.flags & OTA_STATE_APP_VALID) || (s->cur.flags & OTA_STATE_DOWNLOADING))
        return false;
    if (!ota_app_verify(fl, s->cur.app_size, s->cur.app_crc)) {
        ota_logf("boot: application fails its crc check");
        return false;
    }
    return ota_app_plausible(fl, ota_port_ram());
}

static void boot(const struct ota_state_store *s)
{
    ota_logf("boot: starting application version %u", s->cur.app_version);
    ota_port_jump(ota_app_addr(s->fl));
}

void ota_boot_main(const struct ota_config *cfg)
{
    const struct ota_flash_layout *fl = ota_port_flash_layout();
    struct ota_state_store store;
    struct ota_update u;
    uint32_t backoff = cfg->backoff_first_ms;

    for (uint32_t attempt = 1;; attempt++) {
        bool have_app;
        int r;

        if (ota_state_load(&store, fl) < 0) {
            ota_logf("boot: cannot read the boot state");
            ota_port_sleep_ms(backoff);
            continue;
        }
        have_app = app_bootable(&store);
        if (have_app && !(store.cur.flags & OTA_STATE_UPDATE_REQUESTED)) {
            boot(&store);
            return;
        }
        ota_logf("boot: update (attempt %u, %s)", attempt,
                 have_app ? "requested" : "no valid application");
        ota_update_init(&u, cfg, &store);
        r = ota_update_run(&u, have_app, store.cur.app_version);
        if (r == OTA_UPDATE_INSTALLED || r == OTA_UPDATE_CURRENT) {
            if (r == OTA_UPDATE_CURRENT && (store.cur.flags & OTA_STATE_UPDATE_REQUESTED)) {
                struct ota_state st = store.cur;

                st.flags &= ~OTA_STATE_UPDATE_REQUESTED;
                if (ota_state_write(&store, &st, false) < 0) {
                    /* The application is valid and nothing newer exists:
                     * run it rather than ask the server again and again. */
                    ota_logf("boot: cannot clear the update request");
                    boot(&store);
                    return;
                }
            }
            attempt = 0;
            backoff = cfg->backoff_first_ms;
            continue; /* boot through the same checks as any boot */
        }
        /* Without a server the application that works is better than none;
         * a device without one has nothing else to do but try again. */
        if (have_app && attempt >= cfg->attempts_with_app) {
            ota_logf("boot: update failed (%d) %u times; starting the installed application",
                     (int32_t)r, attempt);
            boot(&store);
            return;
        }
        ota_logf("boot: update failed (%d); retrying in %u ms", (int32_t)r, backoff);
        ota_port_sleep_ms(backoff);
        backoff = backoff > cfg->backoff_max_ms / 2 ? cfg->backoff_max_ms : backoff * 2;
    }
}

int ota_request_update(void)
{
    struct ota_state_store store;
    struct ota_state st;
    int r;

    r = ota_state_load(&store, ota_port_flash_layout());
    if (r < 0)
        return r;
    st = store.cur;
    st.flags |= OTA_STATE_UPDATE_REQUESTED;
    r = ota_state_write(&store, &st, false);
    if (r < 0)
        return OTA_ERR_STATE;
    ota_port_reset();
    return OTA_OK;
}
