/* SPDX-License-Identifier: MIT */
/* Signed manifests (NAME.sig, include/otad/proto.h): trusted public keys,
 * checking a manifest against a firmware, and, for otasign, making keys and
 * manifests. All cryptography is GnuTLS's: ECDSA P-256 over SHA-256.
 *
 * Nothing here logs: every function returns what happened, and the caller
 * decides what to say. */
#ifndef OTAD_SIGN_H
#define OTAD_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/abstract.h>

#include "otad/proto.h"

struct sign_key {                      /* a trusted public key */
    uint8_t id[OTA_MANIFEST_KEY_ID];
    gnutls_pubkey_t pub;
};

/* Loads the PEM SubjectPublicKeyInfo at @path into @k, which the caller
 * releases with sign_key_free(). P-256 only. Returns 0, -errno if the file
 * cannot be read, or -EINVAL if it is not a P-256 public key; @k is
 * written only on success. */
int sign_key_load(struct sign_key *k, const char *path);

/* As sign_key_load(), from the @len bytes of PEM at @pem (the caller keeps
 * them): 0, -ENOMEM, -EFBIG (over 16 KiB), or -EINVAL. */
int sign_key_import(struct sign_key *k, const uint8_t *pem, size_t len);

/* Releases what sign_key_load() acquired; safe on a zeroed @k, and twice. */
void sign_key_free(struct sign_key *k);

/* Writes @id as 16 lower-case hex digits and a NUL into @out. */
void sign_key_id_hex(const uint8_t id[OTA_MANIFEST_KEY_ID], char out[2 * OTA_MANIFEST_KEY_ID + 1]);

enum sign_verdict {
    SIGN_OK, SIGN_MALFORMED, SIGN_UNKNOWN_KEY, SIGN_BAD_SIGNATURE, SIGN_OTHER_NAME,
    SIGN_VERSION_MISMATCH, SIGN_SIZE_MISMATCH, SIGN_CRC_MISMATCH, SIGN_SHA256_MISMATCH,
};

/* A short phrase for @v ("bad signature", "unknown key", ...), static. */
const char *sign_verdict_str(enum sign_verdict v);

/* The contents of NAME.sig (@len bytes) against @keys and the firmware: on SIGN_OK, *@by is the index of the key that signed. */
/* The checks run in this order and the first that fails is the verdict:
 * the bytes decode (SIGN_MALFORMED: not OTA_MANIFEST_SIZE bytes, magic,
 * format, flags, name padding), the key id is one of @keys, the signature
 * verifies with that key, then the name, @version, @size, @crc and the
 * SHA-256 of @image. Nothing the manifest says is acted on before its
 * signature verifies. *@by is written only on SIGN_OK. */
enum sign_verdict sign_check(const uint8_t *sig, size_t len, const struct sign_key *keys, size_t nkeys,
                             const char *name, uint32_t version, const uint8_t *image, size_t size,
                             uint32_t crc, size_t *by);

/* sign_check() with the image's SHA-256 already made (@sha256,
 * OTA_SHA256_SIZE bytes) in place of its bytes: the daemon hashes every
 * image once at load (generation.h). */
enum sign_verdict sign_check_digest(const uint8_t *sig, size_t len, const struct sign_key *keys,
                                    size_t nkeys, const char *name, uint32_t version,
                                    const uint8_t *sha256, size_t size, uint32_t crc,
                                    size_t *by);

/* For otasign: */
int sign_keygen(const char *key_path);   /* writes KEY (PKCS#8 PEM, mode 0600, created exclusively) and KEY.pub (SPKI PEM) */
/* sign_keygen() returns 0, -EEXIST if KEY or KEY.pub exists (neither is
 * touched), -EIO if GnuTLS fails, or the errno of creating or writing a
 * file; on error it leaves no file it created.
 *
 * sign_make() writes into @out the manifest of the image (@size bytes at
 * @image, whose CRC-32 is @crc) as firmware @name at @version, signed with
 * the P-256 private key (PKCS#8 or SEC 1 PEM) at @key_path. Returns 0, or
 * -EINVAL (an empty @name, or not a P-256 private key), -ENAMETOOLONG (@name
 * over OTA_MANIFEST_NAME_MAX bytes), -EFBIG (@size over UINT32_MAX), -EIO,
 * or the errno of reading the key; @out is written only on success. */
int sign_make(const char *key_path, const char *name, uint32_t version, const uint8_t *image, size_t size,
              uint32_t crc, uint8_t out[OTA_MANIFEST_SIZE]);

#endif
