/* SPDX-License-Identifier: MIT */
#include "ota_update.h"

#include <string.h>

#include "ota_crc32.h"
#include "ota_err.h"
#include "ota_flash.h"
#include "ota_fmt.h"
#include "ota_image.h"
#include "ota_log.h"
#include "ota_port.h"

void ota_update_init(struct ota_update *u, const struct ota_config *cfg,
                     struct ota_state_store *store)
{
    memset(u, 0, sizeof(*u));
    u->cfg = cfg;
    u->store = store;
    ota_http_init(&u->http, cfg);
}

/* "/NAME/header" or "/NAME/block/N" into @buf (@max bytes). False if the
 * name does not fit: a cut name could name another firmware. */
static bool make_path(char *buf, uint32_t max, const char *what, int32_t block)
{
    const char *name = ota_port_server()->name;
    uint32_t n = 0;

    buf[n++] = '/';
    for (; *name != '\0'; name++) {
        if (n >= max - 24) /* room for "/header" or "/block/4294967295" */
            return false;
        buf[n++] = *name;
    }
    buf[n++] = '/';
    while (*what != '\0')
        buf[n++] = *what++;
    if (block >= 0) {
        buf[n++] = '/';
        n += ota_fmt_dec(buf + n, OTA_FMT_DEC_MAX, (uint32_t)block);
    }
    buf[n] = '\0';
    return true;
}

/* One request, tried @tries times with a fresh connection after any failure. */
static int fetch(struct ota_update *u, const struct ota_http_req *rq, uint8_t *body,
                 uint32_t want, uint32_t tries)
{
    const char *path = rq->path;
    uint32_t len = 0, status = 0;
    int r = OTA_ERR_NET;

    for (uint32_t attempt = 0; attempt < tries; attempt++) {
        ota_port_watchdog_feed();
        r = ota_http_request(&u->http, rq, body, want, &len, &status);
        if (r == OTA_OK && len == want)
            return OTA_OK;
        if (r == OTA_OK) {
            r = OTA_ERR_PROTOCOL; /* wrong length: not this protocol */
            ota_http_close(&u->http);
        }
        ota_logf("ota: %s failed (%d, status %u), attempt %u", path, (int32_t)r, status,
                 attempt + 1);
    }
    return r;
}

/* The header request: the only one that says who asks (otad keeps the
 * device with the connection for its blocks), unless the build is a legacy
 * device's. */
static int fetch_header(struct ota_update *u, bool have_app, uint32_t installed)
{
    uint8_t raw[OTA_HEADER_WIRE];
    char path[96];
    struct ota_header *h = &u->header;
    const struct ota_flash_map *map = u->store->map;
    const struct ota_state *cur = &u->store->cur;
    struct ota_http_req rq = {.path = path, .identify = !u->cfg->anonymous};
    int r;

    if (!make_path(path, sizeof(path), "header", -1))
        return OTA_ERR_PROTOCOL;
    rq.has_version = have_app || (cur->flags & OTA_STATE_APP_VALID);
    rq.version = have_app ? installed : cur->app_version;
    r = fetch(u, &rq, raw, sizeof(raw),
              u->header_tries ? u->header_tries : u->cfg->block_retries);
    if (r < 0)
        return r;
    u->have_header = true;
    ota_header_decode(raw, h);
    u->too_large =
        h->binsize > ota_area_size(map, u->target) || h->blocknum > ota_state_max_blocks(map);
    if (h->blocksize != OTA_BLOCK_DATA || h->binsize == 0 ||
        h->blocknum != ota_block_count(h->binsize) || u->too_large) {
        ota_logf("ota: unusable header: %u bytes, %u blocks of %u", h->binsize, h->blocknum,
                 h->blocksize);
        return OTA_ERR_PROTOCOL;
    }
    return OTA_OK;
}

/* The server's manifest for the header just fetched: 0 with
 * u->signed_image set (or not, for a server without manifests when this
 * build takes one), or OTA_ERR_UNSIGNED / OTA_ERR_UNTRUSTED. */
static int check_manifest(struct ota_update *u)
{
    uint8_t raw[OTA_MANIFEST_SIZE];
    uint32_t len = 0, status = 0;
    char path[96];
    int r = OTA_ERR_NET;

    /* A build that trusts no key and takes unsigned images is a legacy
     * device: it does not ask. */
    if (!u->cfg->require_signature && (ota_port_keys(&len), len == 0))
        return OTA_OK;
    if (!make_path(path, sizeof(path), "manifest", -1))
        return OTA_ERR_PROTOCOL;
    for (uint32_t attempt = 0; attempt < u->cfg->block_retries; attempt++) {
        ota_port_watchdog_feed();
        r = ota_http_get(&u->http, path, raw, sizeof(raw), &len, &status);
        if (r == OTA_OK || r == OTA_ERR_STATUS || r == OTA_ERR_TOO_BIG)
            break;
    }
    if (r == OTA_ERR_STATUS && status == 404 && !u->cfg->require_signature)
        return OTA_OK;
    if (r == OTA_ERR_STATUS && status == 404) {
        ota_logf("ota: version %u has no manifest: not installing it", u->header.version);
        return OTA_ERR_UNSIGNED;
    }
    if (r == OTA_ERR_TOO_BIG)
        ota_http_close(&u->http);
    else if (r < 0)
        return r;
    u->verdict = r < 0 ? OTA_TRUST_MALFORMED
                       : ota_trust_check(raw, len, &u->header, u->store->cur.floor, &u->manifest);
    if (u->verdict == OTA_TRUST_OK &&
        ota_trust_extent(u->header.binsize) > ota_area_size(u->store->map, u->target))
        u->verdict = OTA_TRUST_NO_ROOM;
    if (u->verdict != OTA_TRUST_OK) {
        ota_logf("ota: version %u refused: %s", u->header.version, ota_trust_str(u->verdict));
        return OTA_ERR_UNTRUSTED;
    }
    u->signed_image = true;
    return OTA_OK;
}

/* Keeps the verified manifest beside the image. Its sector was erased by the
 * download if the image reaches into it, and is erased here otherwise. */
static int keep_manifest(struct ota_update *u)
{
    uint8_t raw[OTA_MANIFEST_SIZE];
    uint32_t off = ota_trust_manifest_off(u->header.binsize), start, size;

    if (!ota_area_sector(u->store->map, u->target, off, &start, &size))
        return OTA_ERR_PROTOCOL;
    if (start >= u->header.binsize) {
        ota_port_watchdog_feed();
        if (ota_port_flash_erase(u->target, start) < 0)
            return OTA_ERR_FLASH;
    }
    ota_manifest_encode(&u->manifest, raw);
    return ota_flash_write_verified(u->target, off, raw, sizeof(raw));
}

/* Fetches block @n until its CRC checks out (bounded). */
static int fetch_block(struct ota_update *u, uint32_t n, uint8_t wire[OTA_BLOCK_WIRE])
{
    char path[96];
    const struct ota_http_req rq = {.path = path};
    int r = OTA_ERR_CRC;

    if (!make_path(path, sizeof(path), "block", (int32_t)n))
        return OTA_ERR_PROTOCOL;
    for (uint32_t attempt = 0; attempt < u->cfg->block_retries; attempt++) {
        r = fetch(u, &rq, wire, OTA_BLOCK_WIRE, u->cfg->block_retries);
        if (r < 0)
            return r;
        u->blocks_fetched++;
        if (ota_crc32(0, wire, OTA_BLOCK_DATA) == ota_get_le32(wire + OTA_BLOCK_DATA))
            return OTA_OK;
        /* Corrupted on the way: the connection may be out of sync too. */
        ota_logf("ota: block %u failed its CRC, attempt %u", n, attempt + 1);
        ota_http_close(&u->http);
        r = OTA_ERR_CRC;
    }
    return r;
}

static int download(struct ota_update *u, uint32_t from)
{
    const struct ota_header *h = &u->header;
    uint8_t wire[OTA_BLOCK_WIRE];
    int r;

    u->first_block = from;
    for (uint32_t n = from; n < h->blocknum; n++) {
        uint32_t off = n * OTA_BLOCK_DATA, len = h->binsize - off, start, size;

        if (len > OTA_BLOCK_DATA)
            len = OTA_BLOCK_DATA;
        if (!ota_area_sector(u->store->map, u->target, off, &start, &size))
            return OTA_ERR_PROTOCOL;
        r = fetch_block(u, n, wire);
        if (r < 0)
            return r;
        /* A sector is erased just before its first block is written; on a
         * resume at a sector's start it may have been cut mid-erase: erase
         * it again. Mid-sector, it was erased before its first block. */
        if (off == start) {
            ota_port_watchdog_feed();
            if (ota_port_flash_erase(u->target, start) < 0)
                return OTA_ERR_FLASH;
        }
        r = ota_flash_write_verified(u->target, off, wire, len);
        if (r < 0)
            return r;
        r = ota_state_mark_block(u->store, n);
        if (r < 0)
            return r;
        if (u->progress != NULL)
            u->progress(u->progress_ctx, n + 1, h->blocknum);
    }
    return OTA_OK;
}

/* The record that starts a new download, in a fresh state sector whose
 * bitmap is clean. Single-slot: the old application stops being valid now,
 * its sectors will be erased. Dual-slot: only the secondary's contents go. */
static int start_download(struct ota_update *u)
{
    struct ota_state_store *s = u->store;
    const struct ota_header *h = &u->header;
    struct ota_state st = s->cur;

    ota_logf("ota: downloading version %u: %u bytes, %u blocks, crc %x", h->version, h->binsize,
             h->blocknum, h->checksum);
    if (s->dual)
        st.flags &= ~OTA_STATE_SECONDARY_VALID;
    else
        st.flags &= ~(OTA_STATE_APP_VALID | OTA_STATE_UPDATE_REQUESTED);
    st.flags |= OTA_STATE_DOWNLOADING;
    st.dl_version = h->version;
    st.dl_size = h->binsize;
    st.dl_crc = h->checksum;
    return ota_state_write(s, &st, true);
}

/* The record after a verified download. Single-slot: the image is the
 * installed application. Dual-slot: it waits in the secondary, and the swap
 * that installs it is recorded in the same record. */
static int finish_download(struct ota_update *u)
{
    struct ota_state_store *s = u->store;
    const struct ota_header *h = &u->header;
    struct ota_state st = s->cur;
    int r;

    if (s->dual) {
        st.flags = (st.flags & OTA_STATE_APP_VALID) | OTA_STATE_SECONDARY_VALID;
        st.op = OTA_OP_INSTALL;
        st.op_done = 0;
        st.trials = 0;
    } else {
        st.flags = OTA_STATE_APP_VALID;
        st.app_version = h->version;
        st.app_size = h->binsize;
        st.app_crc = h->checksum;
    }
    if (u->signed_image && h->version > st.floor)
        st.floor = h->version;
    r = ota_state_write(s, &st, false);
    if (r < 0)
        return r;
    ota_logf(s->dual ? "ota: version %u verified; installing" : "ota: installed version %u",
             h->version);
    return s->dual ? OTA_UPDATE_STAGED : OTA_UPDATE_INSTALLED;
}

/* What to do with the server's image: 1 to download it (resuming from
 * *@from), or an ota_update_result to stop at. */
static int decide(struct ota_update *u, bool have_app, uint32_t installed, uint32_t *from)
{
    const struct ota_state *cur = &u->store->cur;
    const struct ota_header *h = &u->header;
    bool resume;
    int r;

    if (u->store->dual && cur->rejected_size == h->binsize && cur->rejected_crc == h->checksum) {
        ota_logf("ota: version %u (crc %x) was reverted before: not installing it again",
                 h->version, h->checksum);
        return OTA_UPDATE_REJECTED;
    }
    resume = (cur->flags & OTA_STATE_DOWNLOADING) && cur->dl_crc == h->checksum &&
             cur->dl_size == h->binsize;
    if (have_app && h->version <= installed && !(cur->flags & OTA_STATE_DOWNLOADING)) {
        ota_logf("ota: server has version %u, installed %u: nothing to do", h->version,
                 installed);
        return OTA_UPDATE_CURRENT;
    }
    /* Before anything is erased: an image that is not trusted erases nothing. */
    r = check_manifest(u);
    if (r < 0)
        return r;
    if (resume) {
        *from = ota_state_blocks_done(u->store, h->blocknum);
        ota_logf("ota: resuming version %u at block %u of %u", h->version, *from, h->blocknum);
        return 1;
    }
    *from = 0;
    r = start_download(u);
    return r < 0 ? r : 1;
}

/* Forgets the download in progress, so the next attempt starts over; @why
 * is returned unless the state cannot be written. */
static int restart(struct ota_update *u, int why)
{
    struct ota_state st = u->store->cur;
    int r;

    st.flags &= ~OTA_STATE_DOWNLOADING;
    st.dl_crc = 0;
    r = ota_state_write(u->store, &st, false);
    return r < 0 ? r : why;
}

int ota_update_run(struct ota_update *u, bool have_app, uint32_t installed)
{
    struct ota_state_store *s = u->store;
    const struct ota_header *h = &u->header;
    uint32_t from = 0;
    int r;

    u->blocks_fetched = 0;
    u->first_block = 0;
    u->target = s->dual ? OTA_AREA_SECONDARY : OTA_AREA_PRIMARY;
    memset(&u->header, 0, sizeof(u->header));
    u->have_header = false;
    u->too_large = false;
    u->signed_image = false;
    u->verdict = OTA_TRUST_OK;
    r = fetch_header(u, have_app, installed);
    if (r < 0)
        goto out;
    r = decide(u, have_app, installed, &from);
    if (r != 1)
        goto out;
    r = download(u, from);
    if (r < 0)
        goto out;
    if (!ota_image_verify(s->map, u->target, h->binsize, h->checksum)) {
        /* Every block checked out yet the whole does not: a server that
         * changed the image under a resumed download. Start over. */
        ota_logf("ota: image crc mismatch after download; starting over");
        r = restart(u, OTA_ERR_CRC);
        goto out;
    }
    if (u->signed_image && !ota_trust_image(u->target, h->binsize, u->manifest.sha256)) {
        ota_logf("ota: version %u refused: %s", h->version,
                 ota_trust_str(OTA_TRUST_HASH_MISMATCH));
        u->verdict = OTA_TRUST_HASH_MISMATCH;
        r = restart(u, OTA_ERR_UNTRUSTED);
        goto out;
    }
    r = u->signed_image ? keep_manifest(u) : OTA_OK;
    if (r == OTA_ERR_FLASH)
        r = restart(u, r); /* another manifest kept from an earlier try */
    if (r < 0)
        goto out;
    r = finish_download(u);
out:
    ota_http_close(&u->http);
    return r;
}
