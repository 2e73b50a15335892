/* SPDX-License-Identifier: MIT */
#include "keys.h"

#include <errno.h>
#include <string.h>

#include <gnutls/abstract.h>

#include "sign.h"

int keys_load(const char *path, struct ota_key *ret)
{
    struct sign_key sk = {0};
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    int r = sign_key_load(&sk, path);

    if (r < 0)
        return r;
    r = -EINVAL;
    if (gnutls_pubkey_export_ecc_raw2(sk.pub, NULL, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
        goto fail;
    /* sign_key_load() took P-256 only, whose coordinates are 32 bytes; the
     * flag keeps GnuTLS from adding a leading zero byte. */
    if (x.size > 32 || y.size > 32)
        goto fail;
    memset(ret, 0, sizeof(*ret));
    memcpy(ret->xy + 32 - x.size, x.data, x.size);
    memcpy(ret->xy + 64 - y.size, y.data, y.size);
    memcpy(ret->id, sk.id, sizeof(ret->id));
    r = 0;
fail:
    gnutls_free(x.data);
    gnutls_free(y.data);
    sign_key_free(&sk);
    return r;
}
