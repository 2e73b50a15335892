/* SPDX-License-Identifier: MIT */
/* The update engine: downloads the server's image through the block
 * protocol, over the application (single-slot) or into the secondary slot
 * (dual-slot), resuming an interrupted download, and commits it only after
 * its whole CRC is verified in flash. */
#ifndef OTA_UPDATE_H
#define OTA_UPDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_boot.h"
#include "ota_http.h"
#include "ota_image.h"
#include "ota_state.h"
#include "ota_trust.h"
#include "otad/proto.h"

enum ota_update_result {
    OTA_UPDATE_INSTALLED = 1,   /* single-slot: a new image was installed and verified */
    OTA_UPDATE_CURRENT = 2,     /* nothing newer on the server */
    OTA_UPDATE_STAGED = 3,      /* dual-slot: verified in the secondary, install recorded */
    OTA_UPDATE_REJECTED = 4,    /* dual-slot: the server offers the image last reverted */
};

struct ota_update {
    const struct ota_config *cfg;
    struct ota_state_store *store;
    struct ota_http http;
    /* Called after each block written (may be NULL): for progress displays. */
    void (*progress)(void *ctx, uint32_t done, uint32_t total);
    void *progress_ctx;
    /* Tries of the header request (0: the configured block_retries). One,
     * when a working application waits: a server that does not answer must
     * not hold its boot up. */
    uint32_t header_tries;
    enum ota_area target;       /* where the download goes (set by ota_update_run) */
    /* Filled in by ota_update_run(), for the caller and tests. */
    bool have_header;           /* the server answered the header request */
    bool too_large;             /* ... with an image this device cannot hold */
    struct ota_header header;   /* the server's header */
    uint32_t first_block;       /* where this run started (0, or a resume point) */
    uint32_t blocks_fetched;    /* block responses received this run */
    bool signed_image;          /* the server's manifest verified: in manifest */
    struct ota_manifest manifest;
    enum ota_trust_verdict verdict; /* why OTA_ERR_UNTRUSTED was returned */
};

void ota_update_init(struct ota_update *u, const struct ota_config *cfg,
                     struct ota_state_store *store);

/* Runs one update attempt. Before anything is erased, the server's
 * /NAME/manifest must verify (ota_trust_check); without one the image is
 * taken only if cfg->require_signature is false. After the download, the
 * image read back from flash must have the manifest's SHA-256, and the
 * manifest is kept beside it.  @have_app / @installed say whether a verified
 * application of that version is installed: only a newer server version
 * replaces it. The header request names the device (X-Device-Id) and the
 * version it runs (X-Device-Version): @installed with @have_app, else the
 * application the boot state records as valid, if any. A download in progress is resumed if the server still has
 * the same image, and started over otherwise. Returns an ota_update_result,
 * or a negative ota_err (the caller retries later; nothing is lost). */
int ota_update_run(struct ota_update *u, bool have_app, uint32_t installed);

#endif
