/* SPDX-License-Identifier: MIT */
/* The dual-slot install and revert: the primary and secondary slots swap
 * their contents sector by sector through the scratch sector. Each sector
 * takes three steps, and the boot state records every step completed:
 *
 *   1. scratch      <- primary[i]   (erase the scratch, copy)
 *   2. primary[i]   <- secondary[i] (erase, copy)
 *   3. secondary[i] <- scratch      (erase, copy)
 *
 * A step only reads what a completed step (or the start) left, and writes
 * one other sector, so a step cut by a power failure is simply done again
 * from its start: every step is idempotent, and nothing depends on reading
 * back a half-written sector or a trailer inside the slots. Only the bytes
 * of the two images are copied; the rest of a sector is left erased.
 *
 * The swap is its own inverse: the revert is the same swap, run again. */
#ifndef OTA_SWAP_H
#define OTA_SWAP_H

#include <stdint.h>

#include "ota_state.h"

/* Steps of the swap the current record describes (3 per sector that holds
 * a byte of either image). */
uint32_t ota_swap_steps(const struct ota_state_store *s);

/* Runs the swap recorded in @s->cur (OTA_OP_INSTALL or OTA_OP_REVERT) from
 * its first step not yet done, recording each step, and writes the record
 * that ends it: after an install the new application on trial (or simply
 * valid if there was none before) and the old one in the secondary; after a
 * revert the old application back and the trial image remembered as
 * rejected. 0 or a negative ota_err. */
int ota_swap_run(struct ota_state_store *s);

#endif
