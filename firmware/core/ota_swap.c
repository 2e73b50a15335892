/* SPDX-License-Identifier: MIT */
#include "ota_swap.h"

#include "ota_err.h"
#include "ota_flash.h"
#include "ota_log.h"
#include "ota_port.h"
#include "ota_trust.h"

/* Bytes of an image of @size that lie in the sector at [@start, +@sector). */
static uint32_t bytes_in(uint32_t size, uint32_t start, uint32_t sector)
{
    if (size <= start)
        return 0;
    return size - start < sector ? size - start : sector;
}

/* The bytes of an image and the manifest kept beside it (ota_trust.h), so
 * the manifest moves with its image; at most the slot. */
static uint32_t with_manifest(const struct ota_state_store *s, uint32_t size)
{
    uint32_t n = ota_trust_extent(size), slot = ota_area_size(s->map, OTA_AREA_PRIMARY);

    return size == 0 ? 0 : n < slot ? n : slot;
}

static uint32_t primary_bytes(const struct ota_state_store *s)
{
    return (s->cur.flags & OTA_STATE_APP_VALID) ? with_manifest(s, s->cur.app_size) : 0;
}

uint32_t ota_swap_steps(const struct ota_state_store *s)
{
    uint32_t a = primary_bytes(s), b = with_manifest(s, s->cur.dl_size), size = a > b ? a : b;
    uint32_t start, sector, n = 0;

    for (uint32_t at = 0; at < size; at = start + sector, n++)
        if (!ota_area_sector(s->map, OTA_AREA_PRIMARY, at, &start, &sector))
            return 0;
    return 3 * n;
}

/* Erases the sector at @to_off of @to and copies @len bytes into it from
 * @from_off of @from, 256 bytes at a time, each read back. */
static int copy(enum ota_area from, uint32_t from_off, enum ota_area to, uint32_t to_off,
                uint32_t len)
{
    uint8_t buf[256];

    ota_port_watchdog_feed();
    if (ota_port_flash_erase(to, to_off) < 0)
        return OTA_ERR_FLASH;
    for (uint32_t done = 0; done < len; done += sizeof(buf)) {
        uint32_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
        int r;

        ota_port_watchdog_feed();
        if (ota_port_flash_read(from, from_off + done, buf, n) < 0)
            return OTA_ERR_FLASH;
        r = ota_flash_write_verified(to, to_off + done, buf, n);
        if (r < 0)
            return r;
    }
    return OTA_OK;
}

/* Step @k of the swap (0-based): false if it has nothing to copy, and is
 * skipped (what it would write is outside both images afterwards). */
static int step(const struct ota_state_store *s, uint32_t k, bool *did)
{
    uint32_t start, sector;
    uint32_t a, b;

    if (!ota_area_sector(s->map, OTA_AREA_PRIMARY, 0, &start, &sector))
        return OTA_ERR_STATE;
    for (uint32_t i = 0; i < k / 3; i++)
        if (!ota_area_sector(s->map, OTA_AREA_PRIMARY, start + sector, &start, &sector))
            return OTA_ERR_STATE;
    a = bytes_in(primary_bytes(s), start, sector);                 /* the primary's image */
    b = bytes_in(with_manifest(s, s->cur.dl_size), start, sector); /* the secondary's */
    *did = (k % 3 == 1 ? b : a) > 0;
    if (!*did)
        return OTA_OK;
    switch (k % 3) {
    case 0:
        return copy(OTA_AREA_PRIMARY, start, OTA_AREA_SCRATCH, 0, a);
    case 1:
        return copy(OTA_AREA_SECONDARY, start, OTA_AREA_PRIMARY, start, b);
    default:
        return copy(OTA_AREA_SCRATCH, 0, OTA_AREA_SECONDARY, start, a);
    }
}

/* The record that ends the swap: the two slots' descriptions exchanged. */
static struct ota_state swapped(const struct ota_state *cur)
{
    struct ota_state st = *cur;
    bool had_app = cur->flags & OTA_STATE_APP_VALID;

    st.app_version = cur->dl_version;
    st.app_size = cur->dl_size;
    st.app_crc = cur->dl_crc;
    st.dl_version = had_app ? cur->app_version : 0;
    st.dl_size = had_app ? cur->app_size : 0;
    st.dl_crc = had_app ? cur->app_crc : 0;
    st.op = OTA_OP_NONE;
    st.op_done = 0;
    st.trials = 0;
    st.flags &= ~(OTA_STATE_TRIAL | OTA_STATE_SECONDARY_VALID | OTA_STATE_DOWNLOADING |
                  OTA_STATE_UPDATE_REQUESTED | OTA_STATE_REPORT_MASK);
    st.flags |= OTA_STATE_APP_VALID;
    /* The report rides in the record that ends the swap: a swap resumed
     * after a power cut still ends with it. */
    st.flags |= cur->op == OTA_OP_REVERT ? OTA_STATE_REPORT_REVERTED : OTA_STATE_REPORT_INSTALLED;
    if (cur->op == OTA_OP_INSTALL && had_app) {
        /* Nothing to go back to without an old application. */
        st.flags |= OTA_STATE_TRIAL | OTA_STATE_SECONDARY_VALID;
    } else if (cur->op == OTA_OP_REVERT) {
        st.rejected_size = cur->app_size;
        st.rejected_crc = cur->app_crc;
    }
    return st;
}

int ota_swap_run(struct ota_state_store *s)
{
    uint32_t steps = ota_swap_steps(s);
    struct ota_state st;

    if (s->cur.op != OTA_OP_INSTALL && s->cur.op != OTA_OP_REVERT)
        return OTA_ERR_STATE;
    if (s->cur.op_done > 0)
        ota_logf("boot: resuming the %s at step %u of %u",
                 s->cur.op == OTA_OP_INSTALL ? "install" : "revert", s->cur.op_done + 1, steps);
    while (s->cur.op_done < steps) {
        bool did;
        int r = step(s, s->cur.op_done, &did);

        if (r < 0)
            return r;
        st = s->cur;
        st.op_done++;
        /* A skipped step needs no record: the next one done covers it, and
         * doing it again after a cut is as harmless as skipping it. */
        if (did && ota_state_write(s, &st, false) < 0)
            return OTA_ERR_STATE;
        s->cur.op_done = st.op_done;
    }
    st = swapped(&s->cur);
    return ota_state_write(s, &st, false);
}
