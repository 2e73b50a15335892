/* SPDX-License-Identifier: MIT */
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
/* Dual-slot only: */
#define OTA_STATE_SECONDARY_VALID 0x8u  /* the secondary holds the verified image dl_* */
#define OTA_STATE_TRIAL 0x10u           /* the primary's application is on trial */
/* Dual-slot: a report to the server that a later boot sends (ota_report.h),
 * because what it tells is found out across a reset. Bits 8-9 of the flags,
 * which older bootloaders wrote as 0 and ignore. */
#define OTA_STATE_REPORT_MASK 0x300u
#define OTA_STATE_REPORT_INSTALLED 0x100u /* the install's swap is done */
#define OTA_STATE_REPORT_TRIAL 0x200u     /* installed was sent: confirmed is
                                             due once the trial flag is gone */
#define OTA_STATE_REPORT_REVERTED 0x300u  /* the revert is done; dl_version
                                             is the version rejected */

/* The operation a dual-slot record may have in progress: a swap of the
 * primary and secondary slots, sector by sector through the scratch. */
#define OTA_OP_NONE 0u
#define OTA_OP_INSTALL 1u  /* secondary -> primary, the old app kept in the secondary */
#define OTA_OP_REVERT 2u   /* the same swap back: the trial app is rejected */

/* Bytes of one record on flash: 12 little-endian words on the single-slot
 * layout, 16 on the dual-slot one; the last word is a CRC-32. */
#define OTA_STATE_RECORD_SIZE 48u
#define OTA_STATE_RECORD_SIZE_DUAL 64u
#define OTA_STATE_RECORD_MAX OTA_STATE_RECORD_SIZE_DUAL
/* The records take the start of a state sector; the bitmap the rest. */
#define OTA_STATE_RECORDS_AREA 4096u

struct ota_state {
    uint32_t seq;
    uint32_t flags;
    uint32_t app_version, app_size, app_crc;  /* the installed application */
    uint32_t dl_version, dl_size, dl_crc;     /* the download in progress, or
                                                 what the secondary holds */
    /* Dual-slot only (not on flash in the single-slot format): */
    uint32_t op;                   /* OTA_OP_*: a swap in progress */
    uint32_t op_done;              /* swap steps completed (3 per sector) */
    uint32_t trials;               /* boots of the trial application so far */
    uint32_t rejected_size, rejected_crc;  /* the image last reverted */
    /* Both formats: the highest version ever installed from a signed
     * manifest; no signed update below it is accepted (anti-rollback). */
    uint32_t floor;
};

struct ota_state_store {
    const struct ota_flash_map *map;
    bool dual;               /* the dual-slot record format */
    int active;              /* sector index 0/1 of the newest record, -1: none */
    uint32_t next_slot;      /* first free slot of the active sector */
    bool valid;              /* a record was found */
    struct ota_state cur;    /* the newest record (zeros if none) */
};

/* Reads the state from flash into @s. Returns 0, or OTA_ERR_FLASH. */
int ota_state_load(struct ota_state_store *s, const struct ota_flash_map *map);

/* Appends @st as the new state (its seq is assigned). With @fresh, or when
 * the active sector is full, the other sector is erased and takes it. */
int ota_state_write(struct ota_state_store *s, const struct ota_state *st, bool fresh);

/* Marks block @n of the download in progress as written and verified. */
int ota_state_mark_block(struct ota_state_store *s, uint32_t n);

/* The number of leading blocks of the download in progress marked done. */
uint32_t ota_state_blocks_done(const struct ota_state_store *s, uint32_t nblocks);

/* Most blocks the bitmap of a state sector can track. */
uint32_t ota_state_max_blocks(const struct ota_flash_map *map);

/* Bytes of a record in the format of @dual. */
uint32_t ota_state_record_size(bool dual);

/* Encodes/decodes one record of the format of @dual (exposed for tests):
 * ota_state_record_size(dual) bytes. decode returns false for a slot that
 * is not a valid record. */
void ota_state_encode(const struct ota_state *st, bool dual, uint8_t *out);
bool ota_state_decode(const uint8_t *in, bool dual, struct ota_state *st);

#endif
