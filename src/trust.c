/* SPDX-License-Identifier: MIT */
#include "trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"
#include "sign.h"

struct trust {
    struct sign_key keys[TRUST_KEYS_MAX];
    size_t n;
    bool require;
};

int trust_open(char *const *paths, size_t n, bool require, struct trust **ret, size_t *ret_bad)
{
    struct trust *t;
    int r = 0;

    if (n > TRUST_KEYS_MAX) {
        *ret_bad = TRUST_KEYS_MAX;
        return -E2BIG;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->require = require;
    for (; t->n < n; t->n++) {
        r = sign_key_load(&t->keys[t->n], paths[t->n]);
        if (r < 0) {
            *ret_bad = t->n;
            trust_close(t);
            return r;
        }
    }
    *ret = t;
    return 0;
}

void trust_close(struct trust *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        sign_key_free(&t->keys[i]);
    free(t);
}

/* Why a NAME.sig that is not a manifest by its size alone cannot be used. */
static const char *unusable(const struct generation *g, char *buf, size_t len)
{
    if (g->manifest_error == -EMSGSIZE && g->manifest_len < OTA_MANIFEST_SIZE)
        snprintf(buf, len, "truncated manifest: %u bytes, not %u", g->manifest_len,
                 OTA_MANIFEST_SIZE);
    else if (g->manifest_error == -EMSGSIZE)
        snprintf(buf, len, "oversized manifest: more than %u bytes", OTA_MANIFEST_SIZE);
    else
        return reason_file(g->manifest_error);
    return buf;
}

const char *trust_check(const struct trust *t, struct image *img, char *buf, size_t len,
                        char *file_buf, const char **ret_file)
{
    const struct generation *g = img->gen;
    enum sign_verdict v;
    size_t by = 0;

    img->verified = false;
    *ret_file = img->bin_file;
    if (g->manifest_error == -ENOENT)
        return t != NULL && t->require ? "unsigned, and signing.require is true" : NULL;
    if (generation_sig_name(img->bin_file, file_buf, NAME_MAX + 1) == 0)
        *ret_file = file_buf;
    if (g->manifest_error < 0)
        return unusable(g, buf, len);
    if (t == NULL || t->n == 0)
        return NULL;
    /* The SHA-256 made at load, if it was (generation.h). */
    _Static_assert(GENERATION_SHA256_SIZE == OTA_SHA256_SIZE, "one SHA-256");
    if (g->has_digests)
        v = sign_check_digest(g->manifest, OTA_MANIFEST_SIZE, t->keys, t->n, img->name,
                              img->version, g->sha256, g->size, g->crc, &by);
    else
        v = sign_check(g->manifest, OTA_MANIFEST_SIZE, t->keys, t->n, img->name, img->version,
                       g->data, g->size, g->crc, &by);
    if (v != SIGN_OK)
        return sign_verdict_str(v);
    img->verified = true;
    memcpy(img->key_id, t->keys[by].id, OTA_MANIFEST_KEY_ID);
    return NULL;
}
