/* The boot state: what is installed, whether an update was asked for, and
 * the progress of a download, kept in flash so that it survives power loss
 * at any instant.
 *
 * Two sectors take turns. Records are appended to the active sector, each
 * with a sequence number and a CRC, so a record torn by a power cut is
 * detected and the previous one stands; the newest valid record of both
 * sectors is the state. A sector is erased only when it is not the active
 * one, so there is always a valid record outside the sector being erased.
 *
 * A download starts in a freshly erased sector: the rest of that sector is a
 * bitmap in which every block written and verified clears one bit. Bits only
 * go from 1 to 0, so marking a block needs no erase, and a torn mark can at
 * worst make a verified block look unverified (it is fetched again). */
#ifndef OTA_STATE_H
#define OTA_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_port.h"

#define OTA_STATE_APP_VALID 0x1u        /* app_* describe a verified application */
#define OTA_STATE_UPDATE_REQUESTED 0x2u /* the application asked for an update */
#define OTA_STATE_DOWNLOADING 0x4u      /* dl_* describe a download in progress */

/* Bytes of one record on flash: 12 little-endian words, the last a CRC-32. */
#define OTA_STATE_RECORD_SIZE 48u
/* The records take the start of a state sector; the bitmap the rest. */
#define OTA_STATE_RECORDS_AREA 4096u

struct ota_state {
    uint32_t seq;
    uint32_t flags;
    uint32_t app_version, app_size, app_crc;  /* the installed application */
    uint32_t dl_version, dl_size, dl_crc;     /* the download in progress */
};

struct ota_state_store {
    const struct ota_flash_layout *fl;
    int active;              /* sector index 0/1 of the newest record, -1: none */
    uint32_t next_slot;      /* first free slot of the active sector */
    bool valid;              /* a record was found */
    struct ota_state cur;    /* the newest record (zeros if none) */
};

/* Reads the state from flash into @s. Returns 0, or OTA_ERR_FLASH. */
int ota_state_load(struct ota_state_store *s, const struct ota_flash_layout *fl);

/* Appends @st as the new state (its seq is assigned). With @fresh, or when
 * the active sector is full, the other sector is erased and takes it. */
int ota_state_write(struct ota_state_store *s, const struct ota_state *st, bool fresh);

/* Marks block @n of the download in progress as written and verified. */
int ota_state_mark_block(struct ota_state_store *s, uint32_t n);

/* The number of leading blocks of the download in progress marked done. */
uint32_t ota_state_blocks_done(const struct ota_state_store *s, uint32_t nblocks);

/* Most blocks the bitmap of a state sector can track. */
uint32_t ota_state_max_blocks(const struct ota_flash_layout *fl);

/* Address of sector @sector (sum of the sizes before it). */
uint32_t ota_flash_sector_addr(const struct ota_flash_layout *fl, uint32_t sector);

/* Encodes/decodes one record (exposed for tests). decode returns false for a
 * slot that is not a valid record. */
void ota_state_encode(const struct ota_state *st, uint8_t out[OTA_STATE_RECORD_SIZE]);
bool ota_state_decode(const uint8_t in[OTA_STATE_RECORD_SIZE], struct ota_state *st);

#endif
