/* SPDX-License-Identifier: MIT */
/* Fuzz target: the bootloader's boot state, decoded from whatever the two
 * state sectors hold (torn records, stale sequence numbers, wrong CRCs, a
 * bitmap in any state), on the host port's simulated flash.
 *
 * The input's first byte picks the map (bit 0: the dual-slot f405, whose
 * records are 64 bytes; else the single-slot f401, 48). Then comes a list of
 * records for the two sectors. Each takes 61 bytes: a control byte, then the
 * record but its CRC (the single-slot format uses the first 44). Control
 * bit 0 seals the record with its correct CRC and bit 1 writes the magic, so
 * that the fuzzer reaches the paths behind a valid record; bit 2 picks the
 * sector. What is left after the records fills the active sector's bitmap.
 *
 * After the load, appending a state must work and must never try to set a
 * bit that is 0 (the simulated flash catches that, as real flash cannot). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "ota_crc32.h"
#include "ota_flash.h"
#include "ota_state.h"

#define MAGIC 0x5341544Fu      /* "OTAS", the single-slot records' first word */
#define MAGIC_DUAL 0x4241544Fu /* "OTAB", the dual-slot ones' */
#define CHUNK 61u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Opens the simulated flash with the map @dual asks for, once per change. */
static void use_map(bool dual)
{
    static int open = -1;

    if (open == (int)dual)
        return;
    host_set_quiet(true);
    host_flash_set_layout(dual ? HOST_LAYOUT_F405 : HOST_LAYOUT_F401);
    if (host_flash_open(NULL) < 0)
        abort();
    open = dual;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ota_flash_map *fl;
    uint32_t slots[2] = {0, 0}, nblocks, rsize, words;
    struct ota_state_store s;
    struct ota_state st;
    uint8_t *sec[2];
    bool dual;

    if (size < 1)
        return 0;
    dual = data[0] & 1;
    data++;
    size--;
    use_map(dual);
    fl = ota_port_flash_map();
    rsize = ota_state_record_size(dual);
    words = rsize - 4;
    sec[0] = host_area_mem(OTA_AREA_STATE_A);
    sec[1] = host_area_mem(OTA_AREA_STATE_B);
    memset(sec[0], 0xFF, ota_area_size(fl, OTA_AREA_STATE_A));
    memset(sec[1], 0xFF, ota_area_size(fl, OTA_AREA_STATE_B));
    while (size >= CHUNK) {
        int which = (data[0] >> 2) & 1;
        uint8_t *rec;

        if (slots[which] < OTA_STATE_RECORDS_AREA / rsize) {
            rec = sec[which] + slots[which]++ * rsize;
            memcpy(rec, data + 1, words);
            if (data[0] & 2)
                put32(rec, dual ? MAGIC_DUAL : MAGIC);
            if (data[0] & 1)
                put32(rec + words, ota_crc32(0, rec, words));
        }
        data += CHUNK;
        size -= CHUNK;
    }
    memcpy(sec[0] + OTA_STATE_RECORDS_AREA, data, size);

    if (ota_state_load(&s, fl) != 0)
        abort();
    if (s.valid != (s.active >= 0))
        abort();
    nblocks = s.cur.dl_size / 256u + 1u;
    if (nblocks > ota_state_max_blocks(fl))
        nblocks = ota_state_max_blocks(fl);
    if (ota_state_blocks_done(&s, nblocks) > nblocks)
        abort();
    st = s.cur;
    st.flags ^= OTA_STATE_UPDATE_REQUESTED;
    if (ota_state_write(&s, &st, false) != 0 || host_flash_violation())
        abort();
    return 0;
}
