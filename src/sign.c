/* SPDX-License-Identifier: MIT */
/* Signed manifests: see sign.h. */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "file.h"

/* A PEM key is a few hundred bytes; anything longer is not one of ours, and
 * the bound keeps a wrong path (a device, a huge file) cheap. */
#define KEY_FILE_MAX 16384u
#define COORD 32u /* bytes of a P-256 coordinate, and of r and s */
#define P256_BITS GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1)

/* Reads the regular file @path (at most KEY_FILE_MAX bytes) into a new
 * buffer in @ret, which the caller releases with datum_wipe(). */
static int read_small(const char *path, gnutls_datum_t *ret)
{
    struct stat st;
    ssize_t len;
    uint8_t *buf;
    int fd;

    fd = file_open_regular(AT_FDCWD, path, &st);
    if (fd < 0)
        return fd;
    buf = gnutls_malloc(KEY_FILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    /* One byte more than allowed tells a too-long file apart. */
    len = file_read_upto(fd, buf, KEY_FILE_MAX + 1);
    close(fd);
    if (len < 0 || (size_t)len > KEY_FILE_MAX) {
        gnutls_memset(buf, 0, KEY_FILE_MAX + 1);
        gnutls_free(buf);
        return len < 0 ? (int)len : -EFBIG;
    }
    ret->data = buf;
    ret->size = (unsigned)len;
    return 0;
}

static void datum_wipe(gnutls_datum_t *d)
{
    if (d->data != NULL) {
        gnutls_memset(d->data, 0, d->size);
        gnutls_free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

/* Writes the big-endian integer @d into @out, COORD bytes, left-padded
 * with zeros. -EINVAL if it does not fit. */
static int put_fixed(const gnutls_datum_t *d, uint8_t out[COORD])
{
    size_t skip = 0;

    while (skip < d->size && d->data[skip] == 0)
        skip++;
    if (d->size - skip > COORD)
        return -EINVAL;
    memset(out, 0, COORD);
    memcpy(out + COORD - (d->size - skip), d->data + skip, d->size - skip);
    return 0;
}

/* Checks that @pub is an ECDSA P-256 key and writes its id into @ret_id:
 * SHA-256 over X || Y, each 32 bytes, cut to OTA_MANIFEST_KEY_ID. */
static int pub_id(gnutls_pubkey_t pub, uint8_t ret_id[OTA_MANIFEST_KEY_ID])
{
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    gnutls_ecc_curve_t curve;
    uint8_t point[2 * COORD], digest[OTA_SHA256_SIZE];
    int r = -EINVAL;

    if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_ECDSA)
        return -EINVAL;
    if (gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
        return -EINVAL;
    if (curve != GNUTLS_ECC_CURVE_SECP256R1 || put_fixed(&x, point) < 0 ||
        put_fixed(&y, point + COORD) < 0)
        goto out;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, point, sizeof(point), digest) < 0)
        goto out;
    memcpy(ret_id, digest, OTA_MANIFEST_KEY_ID);
    r = 0;
out:
    gnutls_free(x.data);
    gnutls_free(y.data);
    return r;
}

int sign_key_import(struct sign_key *k, const uint8_t *pem, size_t len)
{
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    gnutls_pubkey_t pub = NULL;
    uint8_t id[OTA_MANIFEST_KEY_ID];
    int r;

    if (len > KEY_FILE_MAX)
        return -EFBIG;
    if (gnutls_pubkey_init(&pub) < 0)
        return -ENOMEM;
    r = -EINVAL;
    if (gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_PEM) < 0)
        goto fail;
    r = pub_id(pub, id);
    if (r < 0)
        goto fail;
    memcpy(k->id, id, sizeof(id));
    k->pub = pub;
    return 0;
fail:
    gnutls_pubkey_deinit(pub);
    return r;
}

int sign_key_load(struct sign_key *k, const char *path)
{
    gnutls_datum_t pem = {NULL, 0};
    int r = read_small(path, &pem);

    if (r < 0)
        return r;
    r = sign_key_import(k, pem.data, pem.size);
    datum_wipe(&pem);
    return r;
}

void sign_key_free(struct sign_key *k)
{
    if (k->pub != NULL)
        gnutls_pubkey_deinit(k->pub);
    k->pub = NULL;
}

void sign_key_id_hex(const uint8_t id[OTA_MANIFEST_KEY_ID], char out[2 * OTA_MANIFEST_KEY_ID + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < OTA_MANIFEST_KEY_ID; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * OTA_MANIFEST_KEY_ID] = 0;
}

const char *sign_verdict_str(enum sign_verdict v)
{
    switch (v) {
    case SIGN_OK: return "signature verified";
    case SIGN_MALFORMED: return "malformed manifest";
    case SIGN_UNKNOWN_KEY: return "unknown key";
    case SIGN_BAD_SIGNATURE: return "bad signature";
    case SIGN_OTHER_NAME: return "manifest names another firmware";
    case SIGN_VERSION_MISMATCH: return "version mismatch";
    case SIGN_SIZE_MISMATCH: return "size mismatch";
    case SIGN_CRC_MISMATCH: return "CRC-32 mismatch";
    case SIGN_SHA256_MISMATCH: return "SHA-256 mismatch";
    }
    return "unknown verdict";
}

/* True when the signature r || s of @m verifies with @pub over the first
 * OTA_MANIFEST_SIGNED bytes of @raw. */
static bool signature_ok(gnutls_pubkey_t pub, const uint8_t *raw, const struct ota_manifest *m)
{
    /* Leading zero bytes may stay: GnuTLS verifies such r and s (test-sign
     * signs until it has one). */
    gnutls_datum_t r = {(unsigned char *)m->signature, COORD};
    gnutls_datum_t s = {(unsigned char *)m->signature + COORD, COORD};
    gnutls_datum_t der = {NULL, 0}, data = {(unsigned char *)raw, OTA_MANIFEST_SIGNED};
    bool ok;

    if (gnutls_encode_rs_value(&der, &r, &s) < 0)
        return false;
    ok = gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) >= 0;
    gnutls_free(der.data);
    return ok;
}

/* True when the NUL-padded name of @m is @name. */
static bool same_name(const struct ota_manifest *m, const char *name)
{
    size_t n = strlen(name);

    return n <= OTA_MANIFEST_NAME_MAX && memcmp(m->name, name, n) == 0 &&
           (n == OTA_MANIFEST_NAME_MAX || m->name[n] == 0);
}

/* Both checks: the image's SHA-256 is @sha256, or (NULL) made from @image,
 * last, once every cheaper check passed. */
static enum sign_verdict check(const uint8_t *sig, size_t len, const struct sign_key *keys,
                               size_t nkeys, const char *name, uint32_t version,
                               const uint8_t *image, const uint8_t *sha256, size_t size,
                               uint32_t crc, size_t *by)
{
    uint8_t digest[OTA_SHA256_SIZE];
    struct ota_manifest m;
    size_t k = 0;

    if (ota_manifest_decode(sig, len, &m) < 0)
        return SIGN_MALFORMED;
    while (k < nkeys && memcmp(keys[k].id, m.key_id, OTA_MANIFEST_KEY_ID) != 0)
        k++;
    if (k == nkeys)
        return SIGN_UNKNOWN_KEY;
    /* Nothing the manifest says is believed before its signature is. */
    if (!signature_ok(keys[k].pub, sig, &m))
        return SIGN_BAD_SIGNATURE;
    if (!same_name(&m, name))
        return SIGN_OTHER_NAME;
    if (m.version != version)
        return SIGN_VERSION_MISMATCH;
    if (m.size != size)
        return SIGN_SIZE_MISMATCH;
    if (m.crc != crc)
        return SIGN_CRC_MISMATCH;
    if (sha256 == NULL && gnutls_hash_fast(GNUTLS_DIG_SHA256, image, size, digest) < 0)
        return SIGN_SHA256_MISMATCH;
    if (memcmp(sha256 != NULL ? sha256 : digest, m.sha256, OTA_SHA256_SIZE) != 0)
        return SIGN_SHA256_MISMATCH;
    *by = k;
    return SIGN_OK;
}

enum sign_verdict sign_check(const uint8_t *sig, size_t len, const struct sign_key *keys, size_t nkeys,
                             const char *name, uint32_t version, const uint8_t *image, size_t size,
                             uint32_t crc, size_t *by)
{
    return check(sig, len, keys, nkeys, name, version, image, NULL, size, crc, by);
}

enum sign_verdict sign_check_digest(const uint8_t *sig, size_t len, const struct sign_key *keys,
                                    size_t nkeys, const char *name, uint32_t version,
                                    const uint8_t *sha256, size_t size, uint32_t crc,
                                    size_t *by)
{
    return check(sig, len, keys, nkeys, name, version, NULL, sha256, size, crc, by);
}

/* Creates @path exclusively with @mode and writes @d into it, synced.
 * Returns 0 or a negative errno; on error nothing is left at @path. */
static int write_new(const char *path, mode_t mode, const gnutls_datum_t *d)
{
    int fd, r;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0)
        return -errno;
    r = file_write_all(fd, d->data, d->size);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0)
        unlink(path);
    return r;
}

/* PKCS#8 PrivateKeyInfo (RFC 5208) for id-ecPublicKey on prime256v1, holding
 * an ECPrivateKey (RFC 5915) with the public key: the bytes before the
 * 32-byte scalar, and between it and the point X || Y. GnuTLS 3.7 writes
 * the scalar as an INTEGER would, in 31 to 33 bytes, which RFC 5915
 * forbids and some readers (Python's cryptography) refuse; OpenSSL writes
 * this layout. */
static const uint8_t pkcs8_head[] = {
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04,
    0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
};
static const uint8_t pkcs8_mid[] = {0xa1, 0x44, 0x03, 0x42, 0x00, 0x04};
#define PKCS8_SIZE (sizeof(pkcs8_head) + COORD + sizeof(pkcs8_mid) + 2 * COORD)
_Static_assert(PKCS8_SIZE == 138, "3 bytes of outer header and 0x87 of content");

/* The PKCS#8 PEM of the P-256 key @priv. */
static int pkcs8_pem(gnutls_privkey_t priv, gnutls_datum_t *ret)
{
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0}, k = {NULL, 0};
    uint8_t der[PKCS8_SIZE], *p = der;
    gnutls_datum_t d = {der, sizeof(der)};
    gnutls_ecc_curve_t curve;
    int r = -EIO;

    if (gnutls_privkey_export_ecc_raw2(priv, &curve, &x, &y, &k, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
        return -EIO;
    memcpy(p, pkcs8_head, sizeof(pkcs8_head));
    p += sizeof(pkcs8_head);
    if (curve != GNUTLS_ECC_CURVE_SECP256R1 || put_fixed(&k, p) < 0)
        goto out;
    p += COORD;
    memcpy(p, pkcs8_mid, sizeof(pkcs8_mid));
    p += sizeof(pkcs8_mid);
    if (put_fixed(&x, p) < 0 || put_fixed(&y, p + COORD) < 0)
        goto out;
    if (gnutls_pem_base64_encode2("PRIVATE KEY", &d, ret) == 0)
        r = 0;
out:
    gnutls_memset(der, 0, sizeof(der));
    datum_wipe(&k);
    gnutls_free(x.data);
    gnutls_free(y.data);
    return r;
}

/* The PKCS#8 (unencrypted) and SubjectPublicKeyInfo PEM forms of a new
 * P-256 key. */
static int generate(gnutls_datum_t *ret_priv, gnutls_datum_t *ret_pub)
{
    gnutls_privkey_t priv = NULL;
    gnutls_pubkey_t pub = NULL;
    int r = -EIO;

    if (gnutls_privkey_init(&priv) < 0 || gnutls_pubkey_init(&pub) < 0)
        goto out;
    if (gnutls_privkey_generate2(priv, GNUTLS_PK_ECDSA, P256_BITS, 0, NULL, 0) < 0 ||
        pkcs8_pem(priv, ret_priv) < 0)
        goto out;
    if (gnutls_pubkey_import_privkey(pub, priv, 0, 0) < 0 ||
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, ret_pub) < 0) {
        datum_wipe(ret_priv);
        goto out;
    }
    r = 0;
out:
    if (priv != NULL)
        gnutls_privkey_deinit(priv);
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    return r;
}

int sign_keygen(const char *key_path)
{
    gnutls_datum_t priv = {NULL, 0}, pub = {NULL, 0};
    char *pub_path = NULL;
    int r;

    if (asprintf(&pub_path, "%s.pub", key_path) < 0)
        return -ENOMEM;
    /* Both names are checked before the work, and created exclusively
     * after it: neither file is ever overwritten. */
    r = -EEXIST;
    if (access(key_path, F_OK) == 0 || access(pub_path, F_OK) == 0)
        goto out;
    r = generate(&priv, &pub);
    if (r < 0)
        goto out;
    r = write_new(key_path, 0600, &priv);
    if (r < 0)
        goto out;
    r = write_new(pub_path, 0644, &pub);
    if (r < 0)
        unlink(key_path);
out:
    datum_wipe(&priv);
    gnutls_free(pub.data);
    free(pub_path);
    return r;
}

/* Loads the PKCS#8 PEM private key at @path, which must be P-256, into
 * @ret with its key id in @ret_id. */
static int priv_load(const char *path, gnutls_privkey_t *ret, uint8_t ret_id[OTA_MANIFEST_KEY_ID])
{
    gnutls_datum_t pem = {NULL, 0};
    gnutls_privkey_t priv = NULL;
    gnutls_pubkey_t pub = NULL;
    int r;

    r = read_small(path, &pem);
    if (r < 0)
        return r;
    r = -ENOMEM;
    if (gnutls_privkey_init(&priv) < 0 || gnutls_pubkey_init(&pub) < 0)
        goto fail;
    r = -EINVAL;
    if (gnutls_privkey_import_x509_raw(priv, &pem, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
        gnutls_pubkey_import_privkey(pub, priv, 0, 0) < 0)
        goto fail;
    r = pub_id(pub, ret_id);
    if (r < 0)
        goto fail;
    gnutls_pubkey_deinit(pub);
    datum_wipe(&pem);
    *ret = priv;
    return 0;
fail:
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    if (priv != NULL)
        gnutls_privkey_deinit(priv);
    datum_wipe(&pem);
    return r;
}

/* Signs the first OTA_MANIFEST_SIGNED bytes of @raw with @priv and writes
 * r || s after them. */
static int put_signature(gnutls_privkey_t priv, uint8_t raw[OTA_MANIFEST_SIZE])
{
    gnutls_datum_t data = {raw, OTA_MANIFEST_SIGNED}, der = {NULL, 0};
    gnutls_datum_t r = {NULL, 0}, s = {NULL, 0};
    int ret = -EIO;

    if (gnutls_privkey_sign_data2(priv, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) < 0 ||
        gnutls_decode_rs_value(&der, &r, &s) < 0)
        goto out;
    ret = put_fixed(&r, raw + OTA_MANIFEST_SIGNED);
    if (ret == 0)
        ret = put_fixed(&s, raw + OTA_MANIFEST_SIGNED + COORD);
out:
    gnutls_free(der.data);
    gnutls_free(r.data);
    gnutls_free(s.data);
    return ret < 0 ? -EIO : 0;
}

int sign_make(const char *key_path, const char *name, uint32_t version, const uint8_t *image, size_t size,
              uint32_t crc, uint8_t out[OTA_MANIFEST_SIZE])
{
    struct ota_manifest m = {.magic = OTA_MANIFEST_MAGIC, .format = OTA_MANIFEST_FORMAT,
                             .version = version, .crc = crc};
    uint8_t raw[OTA_MANIFEST_SIZE];
    gnutls_privkey_t priv = NULL;
    size_t n = strlen(name);
    int r;

    if (n == 0)
        return -EINVAL;
    if (n > OTA_MANIFEST_NAME_MAX)
        return -ENAMETOOLONG;
    if (size > UINT32_MAX)
        return -EFBIG;
    m.size = (uint32_t)size;
    memcpy(m.name, name, n);
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, image, size, m.sha256) < 0)
        return -EIO;
    r = priv_load(key_path, &priv, m.key_id);
    if (r < 0)
        return r;
    ota_manifest_encode(&m, raw);
    r = put_signature(priv, raw);
    gnutls_privkey_deinit(priv);
    if (r < 0)
        return r;
    memcpy(out, raw, sizeof(raw));
    return 0;
}
