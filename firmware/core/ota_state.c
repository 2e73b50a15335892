/* SPDX-License-Identifier: MIT */
#include "ota_state.h"

#include <string.h>

#include "ota_crc32.h"
#include "ota_err.h"
#include "ota_flash.h"
#include "otad/proto.h"

#define MAGIC 0x5341544Fu      /* "OTAS": the single-slot format */
#define MAGIC_DUAL 0x4241544Fu /* "OTAB": the dual-slot format */
#define WORDS_MAX (OTA_STATE_RECORD_MAX / 4)

uint32_t ota_state_record_size(bool dual)
{
    return dual ? OTA_STATE_RECORD_SIZE_DUAL : OTA_STATE_RECORD_SIZE;
}

/* The words of a record but its CRC; the single-slot format stops at word 11
 * (two reserved zeros), so devices flashed with it read the same bytes. The
 * anti-rollback floor takes a word that older bootloaders wrote as 0 (word 9
 * of the single-slot format, 14 of the dual-slot one): their records read as
 * floor 0. */
static uint32_t record_words(const struct ota_state *st, bool dual, uint32_t w[WORDS_MAX])
{
    const uint32_t all[WORDS_MAX - 1] = {
        dual ? MAGIC_DUAL : MAGIC, st->seq, st->flags, st->app_version, st->app_size,
        st->app_crc, st->dl_version, st->dl_size, st->dl_crc,
        dual ? st->op : st->floor, dual ? st->op_done : 0, st->trials, st->rejected_size,
        st->rejected_crc, st->floor,
    };
    uint32_t n = ota_state_record_size(dual) / 4 - 1;

    memcpy(w, all, n * 4);
    return n;
}

void ota_state_encode(const struct ota_state *st, bool dual, uint8_t *out)
{
    uint32_t w[WORDS_MAX], n = record_words(st, dual, w);

    for (uint32_t i = 0; i < n; i++)
        ota_put_le32(out + 4 * i, w[i]);
    ota_put_le32(out + 4 * n, ota_crc32(0, out, 4 * n));
}

bool ota_state_decode(const uint8_t *in, bool dual, struct ota_state *st)
{
    uint32_t n = ota_state_record_size(dual) / 4 - 1;

    if (ota_get_le32(in) != (dual ? MAGIC_DUAL : MAGIC) ||
        ota_get_le32(in + 4 * n) != ota_crc32(0, in, 4 * n))
        return false;
    memset(st, 0, sizeof(*st));
    st->seq = ota_get_le32(in + 4);
    st->flags = ota_get_le32(in + 8);
    st->app_version = ota_get_le32(in + 12);
    st->app_size = ota_get_le32(in + 16);
    st->app_crc = ota_get_le32(in + 20);
    st->dl_version = ota_get_le32(in + 24);
    st->dl_size = ota_get_le32(in + 28);
    st->dl_crc = ota_get_le32(in + 32);
    if (dual) {
        st->op = ota_get_le32(in + 36);
        st->op_done = ota_get_le32(in + 40);
        st->trials = ota_get_le32(in + 44);
        st->rejected_size = ota_get_le32(in + 48);
        st->rejected_crc = ota_get_le32(in + 52);
        st->floor = ota_get_le32(in + 56);
    } else {
        st->floor = ota_get_le32(in + 36);
    }
    return true;
}

static bool erased(const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != 0xFF)
            return false;
    return true;
}

static enum ota_area state_area(int which)
{
    return which == 0 ? OTA_AREA_STATE_A : OTA_AREA_STATE_B;
}

static uint32_t slots(const struct ota_state_store *s)
{
    return OTA_STATE_RECORDS_AREA / ota_state_record_size(s->dual);
}

int ota_state_load(struct ota_state_store *s, const struct ota_flash_map *map)
{
    uint8_t rec[OTA_STATE_RECORD_MAX];
    uint32_t used[2] = {0, 0};
    struct ota_state st;

    memset(s, 0, sizeof(*s));
    s->map = map;
    s->dual = ota_map_dual(map);
    s->active = -1;
    for (int which = 0; which < 2; which++) {
        uint32_t size = ota_state_record_size(s->dual);

        for (uint32_t slot = 0; slot < slots(s); slot++) {
            if (ota_port_flash_read(state_area(which), slot * size, rec, size) < 0)
                return OTA_ERR_FLASH;
            /* A torn record is neither valid nor free: later appends go
             * after it, never over it. */
            if (!erased(rec, size))
                used[which] = slot + 1;
            if (!ota_state_decode(rec, s->dual, &st))
                continue;
            if (!s->valid || st.seq > s->cur.seq) {
                s->valid = true;
                s->cur = st;
                s->active = which;
            }
        }
    }
    if (s->active >= 0)
        s->next_slot = used[s->active];
    return OTA_OK;
}

int ota_state_write(struct ota_state_store *s, const struct ota_state *st, bool fresh)
{
    uint8_t rec[OTA_STATE_RECORD_MAX];
    uint32_t size = ota_state_record_size(s->dual);
    struct ota_state next = *st;
    int which = s->active < 0 ? 0 : s->active;
    uint32_t slot = s->next_slot;

    next.seq = s->valid ? s->cur.seq + 1 : 1;
    if (fresh || s->active < 0 || slot >= slots(s)) {
        /* Never the sector holding the newest record: it stays valid while
         * the other one is erased. */
        which = s->active < 0 ? 0 : 1 - s->active;
        ota_port_watchdog_feed();
        if (ota_port_flash_erase(state_area(which), 0) < 0)
            return OTA_ERR_FLASH;
        slot = 0;
    }
    ota_state_encode(&next, s->dual, rec);
    if (ota_port_flash_program(state_area(which), slot * size, rec, size) < 0)
        return OTA_ERR_FLASH;
    s->active = which;
    s->next_slot = slot + 1;
    s->valid = true;
    s->cur = next;
    return OTA_OK;
}

uint32_t ota_state_max_blocks(const struct ota_flash_map *map)
{
    uint32_t a = ota_area_size(map, OTA_AREA_STATE_A), b = ota_area_size(map, OTA_AREA_STATE_B);
    uint32_t least = a < b ? a : b;

    return least <= OTA_STATE_RECORDS_AREA ? 0 : (least - OTA_STATE_RECORDS_AREA) * 8;
}

int ota_state_mark_block(struct ota_state_store *s, uint32_t n)
{
    uint32_t off = OTA_STATE_RECORDS_AREA + n / 8;
    uint8_t byte;

    if (s->active < 0 || n >= ota_state_max_blocks(s->map))
        return OTA_ERR_STATE;
    if (ota_port_flash_read(state_area(s->active), off, &byte, 1) < 0)
        return OTA_ERR_FLASH;
    byte &= (uint8_t)~(1u << (n % 8));
    return ota_port_flash_program(state_area(s->active), off, &byte, 1) < 0 ? OTA_ERR_FLASH
                                                                           : OTA_OK;
}

uint32_t ota_state_blocks_done(const struct ota_state_store *s, uint32_t nblocks)
{
    uint32_t done = 0;
    uint8_t chunk[32];

    if (s->active < 0)
        return 0;
    if (nblocks > ota_state_max_blocks(s->map))
        nblocks = ota_state_max_blocks(s->map);
    while (done < nblocks) {
        uint32_t left = ota_state_max_blocks(s->map) / 8 - done / 8;

        if (ota_port_flash_read(state_area(s->active), OTA_STATE_RECORDS_AREA + done / 8, chunk,
                                left < sizeof(chunk) ? left : sizeof(chunk)) < 0)
            return done;
        for (uint32_t i = 0; i < sizeof(chunk) * 8 && done < nblocks; i++, done++)
            if (chunk[i / 8] & (1u << (i % 8)))
                return done;
    }
    return done;
}
