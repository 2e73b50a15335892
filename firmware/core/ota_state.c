#include "ota_state.h"

#include <string.h>

#include "ota_crc32.h"
#include "ota_err.h"
#include "otad/proto.h"

#define MAGIC 0x5341544Fu /* "OTAS" */
#define SLOTS (OTA_STATE_RECORDS_AREA / OTA_STATE_RECORD_SIZE)

uint32_t ota_flash_sector_addr(const struct ota_flash_layout *fl, uint32_t sector)
{
    uint32_t addr = fl->base;

    for (uint32_t i = 0; i < sector; i++)
        addr += fl->sector_size[i];
    return addr;
}

void ota_state_encode(const struct ota_state *st, uint8_t out[OTA_STATE_RECORD_SIZE])
{
    const uint32_t words[11] = {MAGIC,          st->seq,        st->flags,
                                st->app_version, st->app_size,  st->app_crc,
                                st->dl_version,  st->dl_size,   st->dl_crc,
                                0,               0};

    for (int i = 0; i < 11; i++)
        ota_put_le32(out + 4 * i, words[i]);
    ota_put_le32(out + 44, ota_crc32(0, out, 44));
}

bool ota_state_decode(const uint8_t in[OTA_STATE_RECORD_SIZE], struct ota_state *st)
{
    if (ota_get_le32(in) != MAGIC || ota_get_le32(in + 44) != ota_crc32(0, in, 44))
        return false;
    st->seq = ota_get_le32(in + 4);
    st->flags = ota_get_le32(in + 8);
    st->app_version = ota_get_le32(in + 12);
    st->app_size = ota_get_le32(in + 16);
    st->app_crc = ota_get_le32(in + 20);
    st->dl_version = ota_get_le32(in + 24);
    st->dl_size = ota_get_le32(in + 28);
    st->dl_crc = ota_get_le32(in + 32);
    return true;
}

static bool erased(const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != 0xFF)
            return false;
    return true;
}

static uint32_t sector_addr(const struct ota_state_store *s, int which)
{
    return ota_flash_sector_addr(s->fl, s->fl->state_sector[which]);
}

int ota_state_load(struct ota_state_store *s, const struct ota_flash_layout *fl)
{
    uint8_t rec[OTA_STATE_RECORD_SIZE];
    uint32_t used[2] = {0, 0};
    struct ota_state st;

    memset(s, 0, sizeof(*s));
    s->fl = fl;
    s->active = -1;
    for (int which = 0; which < 2; which++) {
        uint32_t base = sector_addr(s, which);

        for (uint32_t slot = 0; slot < SLOTS; slot++) {
            if (ota_port_flash_read(base + slot * OTA_STATE_RECORD_SIZE, rec, sizeof(rec)) < 0)
                return OTA_ERR_FLASH;
            /* A torn record is neither valid nor free: later appends go
             * after it, never over it. */
            if (!erased(rec, sizeof(rec)))
                used[which] = slot + 1;
            if (!ota_state_decode(rec, &st))
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
    uint8_t rec[OTA_STATE_RECORD_SIZE];
    struct ota_state next = *st;
    int which = s->active < 0 ? 0 : s->active;
    uint32_t slot = s->next_slot;

    next.seq = s->valid ? s->cur.seq + 1 : 1;
    if (fresh || s->active < 0 || slot >= SLOTS) {
        /* Never the sector holding the newest record: it stays valid while
         * the other one is erased. */
        which = s->active < 0 ? 0 : 1 - s->active;
        if (ota_port_flash_erase(s->fl->state_sector[which]) < 0)
            return OTA_ERR_FLASH;
        slot = 0;
    }
    ota_state_encode(&next, rec);
    if (ota_port_flash_program(sector_addr(s, which) + slot * OTA_STATE_RECORD_SIZE, rec,
                               sizeof(rec)) < 0)
        return OTA_ERR_FLASH;
    s->active = which;
    s->next_slot = slot + 1;
    s->valid = true;
    s->cur = next;
    return OTA_OK;
}

uint32_t ota_state_max_blocks(const struct ota_flash_layout *fl)
{
    uint32_t a = fl->sector_size[fl->state_sector[0]], b = fl->sector_size[fl->state_sector[1]];

    return ((a < b ? a : b) - OTA_STATE_RECORDS_AREA) * 8;
}

int ota_state_mark_block(struct ota_state_store *s, uint32_t n)
{
    uint32_t addr;
    uint8_t byte;

    if (s->active < 0 || n >= ota_state_max_blocks(s->fl))
        return OTA_ERR_STATE;
    addr = sector_addr(s, s->active) + OTA_STATE_RECORDS_AREA + n / 8;
    if (ota_port_flash_read(addr, &byte, 1) < 0)
        return OTA_ERR_FLASH;
    byte &= (uint8_t)~(1u << (n % 8));
    return ota_port_flash_program(addr, &byte, 1) < 0 ? OTA_ERR_FLASH : OTA_OK;
}

uint32_t ota_state_blocks_done(const struct ota_state_store *s, uint32_t nblocks)
{
    uint32_t base, done = 0;
    uint8_t chunk[32];

    if (s->active < 0)
        return 0;
    base = sector_addr(s, s->active) + OTA_STATE_RECORDS_AREA;
    while (done < nblocks) {
        if (ota_port_flash_read(base + done / 8, chunk, sizeof(chunk)) < 0)
            return done;
        for (uint32_t i = 0; i < sizeof(chunk) * 8 && done < nblocks; i++, done++)
            if (chunk[i / 8] & (1u << (i % 8)))
                return done;
    }
    return done;
}
