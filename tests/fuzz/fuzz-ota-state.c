/* Fuzz target: the bootloader's boot state, decoded from whatever the two
 * state sectors hold (torn records, stale sequence numbers, wrong CRCs, a
 * bitmap in any state), on the host port's simulated flash.
 *
 * The input is a list of records for the two sectors. Each takes 45 bytes:
 * a control byte, then the first 44 bytes of the record. Control bit 0
 * seals the record with its correct CRC and bit 1 writes the magic, so that
 * the fuzzer reaches the paths behind a valid record; bit 2 picks the
 * sector. What is left after the records fills the active sector's bitmap.
 *
 * After the load, appending a state must work and must never try to set a
 * bit that is 0 (the simulated flash catches that, as real flash cannot). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "ota_crc32.h"
#include "ota_state.h"

#define MAGIC 0x5341544Fu /* "OTAS", the records' first word */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint8_t *sector(const struct ota_flash_layout *fl, int which)
{
    return host_flash_mem() + (ota_flash_sector_addr(fl, fl->state_sector[which]) - fl->base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool open;
    const struct ota_flash_layout *fl;
    uint32_t slots[2] = {0, 0}, nblocks;
    struct ota_state_store s;
    struct ota_state st;
    uint8_t *sec[2];

    if (!open) {
        host_set_quiet(true);
        if (host_flash_open(NULL) < 0)
            abort();
        open = true;
    }
    fl = ota_port_flash_layout();
    for (int i = 0; i < 2; i++) {
        sec[i] = sector(fl, i);
        memset(sec[i], 0xFF, fl->sector_size[fl->state_sector[i]]);
    }
    while (size >= 45) {
        int which = (data[0] >> 2) & 1;
        uint8_t *rec;

        if (slots[which] < OTA_STATE_RECORDS_AREA / OTA_STATE_RECORD_SIZE) {
            rec = sec[which] + slots[which]++ * OTA_STATE_RECORD_SIZE;
            memcpy(rec, data + 1, 44);
            if (data[0] & 2)
                put32(rec, MAGIC);
            if (data[0] & 1)
                put32(rec + 44, ota_crc32(0, rec, 44));
        }
        data += 45;
        size -= 45;
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
