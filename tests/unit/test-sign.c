/* SPDX-License-Identifier: MIT */
/* Signed manifests: what otad and otasign accept and refuse. The keys under
 * sign/ and the manifest sign/known.sig were made with OpenSSL and Python's
 * cryptography (sign/make-fixtures.sh), so the key ids and the format are
 * checked against code other than sign.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>

#include "crc.h"
#include "helpers.h"
#include "sign.h"

#define KEYS SIGN_KEYS_DIR "/"

/* From sign/make-fixtures.sh: the ids Python computed for a.pub and b.pub,
 * and what known.sig holds. */
static const uint8_t a_id[8] = {0xb6, 0xa1, 0xd7, 0xbe, 0xc2, 0xfd, 0x91, 0xdf};
static const uint8_t b_id[8] = {0x25, 0xf4, 0x69, 0x5e, 0xcb, 0x25, 0xa8, 0x90};
#define KNOWN_NAME "sensor"
#define KNOWN_VERSION 42u
#define KNOWN_SIZE 1000u
#define KNOWN_CRC 0x17bc2a46u

struct fixture {
    struct sign_key keys[2];   /* a.pub, b.pub */
    uint8_t image[KNOWN_SIZE]; /* the image of known.sig */
    uint8_t known[OTA_MANIFEST_SIZE];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t *known;
    size_t len = 0;

    if (f == NULL || sign_key_load(&f->keys[0], KEYS "a.pub") != 0 ||
        sign_key_load(&f->keys[1], KEYS "b.pub") != 0)
        return -1;
    for (size_t i = 0; i < KNOWN_SIZE; i++)
        f->image[i] = (uint8_t)(i * 7 + 3);
    known = read_file(KEYS "known.sig", &len);
    if (known == NULL || len != OTA_MANIFEST_SIZE)
        return -1;
    memcpy(f->known, known, len);
    free(known);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sign_key_free(&f->keys[0]);
    sign_key_free(&f->keys[1]);
    free(f);
    return 0;
}

/* sign_check() of @sig (@len bytes) as the known firmware, with both keys. */
static enum sign_verdict check_known(const struct fixture *f, const uint8_t *sig, size_t len,
                                     size_t *by)
{
    return sign_check(sig, len, f->keys, 2, KNOWN_NAME, KNOWN_VERSION, f->image, KNOWN_SIZE,
                      KNOWN_CRC, by);
}

static void test_key_ids(void **state)
{
    struct fixture *f = *state;
    char hex[17];

    assert_memory_equal(f->keys[0].id, a_id, 8);
    assert_memory_equal(f->keys[1].id, b_id, 8);
    sign_key_id_hex(a_id, hex);
    assert_string_equal(hex, "b6a1d7bec2fd91df");
}

static void test_key_load_refuses(void **state)
{
    static const char *const not_p256[] = {KEYS "rsa.pub", KEYS "p384.pub", KEYS "ed25519.pub",
                                           KEYS "a.key", KEYS "known.sig"};
    struct sign_key k = {{0}, NULL};
    char *dir = tmpdir_create(), path[4096];
    char *big = calloc(1, 20000);

    (void)state;
    for (size_t i = 0; i < sizeof(not_p256) / sizeof(not_p256[0]); i++) {
        assert_int_equal(sign_key_load(&k, not_p256[i]), -EINVAL);
        assert_null(k.pub);
    }
    assert_int_equal(sign_key_load(&k, KEYS "missing.pub"), -ENOENT);
    assert_int_equal(sign_key_load(&k, KEYS), -ENODEV);
    /* A PEM key followed by enough bytes to pass the size bound. */
    assert_non_null(big);
    memset(big, '\n', 20000);
    assert_int_equal(write_file(dir, "big.pub", big, 20000), 0);
    snprintf(path, sizeof(path), "%s/big.pub", dir);
    assert_int_equal(sign_key_load(&k, path), -EFBIG);
    assert_null(k.pub);
    sign_key_free(&k); /* harmless on an unloaded key */
    free(big);
    tmpdir_remove(dir);
}

static void test_key_import(void **state)
{
    struct sign_key k = {{0}, NULL};
    uint8_t *pem, big[16385];
    size_t len = 0;

    (void)state;
    pem = read_file(KEYS "b.pub", &len);
    assert_non_null(pem);
    assert_int_equal(sign_key_import(&k, pem, len), 0);
    assert_memory_equal(k.id, b_id, 8);
    assert_int_equal(gnutls_pubkey_verify_params(k.pub), 0);
    sign_key_free(&k);
    assert_int_equal(sign_key_import(&k, pem, len / 2), -EINVAL);
    assert_int_equal(sign_key_import(&k, pem, 0), -EINVAL);
    memset(big, ' ', sizeof(big));
    memcpy(big, pem, len);
    assert_int_equal(sign_key_import(&k, big, sizeof(big) - 1), 0);
    sign_key_free(&k);
    assert_int_equal(sign_key_import(&k, big, sizeof(big)), -EFBIG);
    assert_null(k.pub);
    free(pem);
}

/* A manifest made by Python verifies: the layout is the one proto.h states. */
static void test_known_manifest(void **state)
{
    struct fixture *f = *state;
    size_t by = 99;

    assert_int_equal(crc_update(0, f->image, KNOWN_SIZE), KNOWN_CRC);
    assert_int_equal(check_known(f, f->known, OTA_MANIFEST_SIZE, &by), SIGN_OK);
    assert_int_equal(by, 0);
    /* Only the key that signed: the other alone does not know it. */
    assert_int_equal(sign_check(f->known, OTA_MANIFEST_SIZE, &f->keys[1], 1, KNOWN_NAME,
                                KNOWN_VERSION, f->image, KNOWN_SIZE, KNOWN_CRC, &by),
                     SIGN_UNKNOWN_KEY);
    assert_int_equal(by, 0); /* untouched unless SIGN_OK */
}

/* Every bit of the signed integers, the hash and the signature matters. */
static void test_flipped_bits(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[OTA_MANIFEST_SIZE];
    size_t by;

    for (size_t off = 8; off < OTA_MANIFEST_SIZE; off++) {
        if (off == 20)
            off = 96; /* flags, key id and name are checked before: below */
        for (int bit = 0; bit < 8; bit++) {
            memcpy(sig, f->known, sizeof(sig));
            sig[off] ^= (uint8_t)(1u << bit);
            assert_int_equal(check_known(f, sig, sizeof(sig), &by), SIGN_BAD_SIGNATURE);
        }
    }
    memcpy(sig, f->known, sizeof(sig));
    sig[32 + 5] = 'R'; /* "sensoR": signed, so a bad signature, not another name */
    assert_int_equal(check_known(f, sig, sizeof(sig), &by), SIGN_BAD_SIGNATURE);
}

static void test_signature_values(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[OTA_MANIFEST_SIZE];
    size_t by;

    /* r = 0, s = 0, and r, s = 2^256 - 1 (above the group order). */
    memcpy(sig, f->known, sizeof(sig));
    memset(sig + 128, 0, 64);
    assert_int_equal(check_known(f, sig, sizeof(sig), &by), SIGN_BAD_SIGNATURE);
    memset(sig + 128, 0xff, 64);
    assert_int_equal(check_known(f, sig, sizeof(sig), &by), SIGN_BAD_SIGNATURE);
    /* s and r swapped. */
    memcpy(sig + 128, f->known + 160, 32);
    memcpy(sig + 160, f->known + 128, 32);
    assert_int_equal(check_known(f, sig, sizeof(sig), &by), SIGN_BAD_SIGNATURE);
}

static void test_malformed(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[OTA_MANIFEST_SIZE + 1];
    size_t by;

    assert_int_equal(check_known(f, f->known, OTA_MANIFEST_SIZE - 1, &by), SIGN_MALFORMED);
    assert_int_equal(check_known(f, f->known, 0, &by), SIGN_MALFORMED);
    memcpy(sig, f->known, OTA_MANIFEST_SIZE);
    sig[OTA_MANIFEST_SIZE] = 0;
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE + 1, &by), SIGN_MALFORMED);
    sig[0] = 'o'; /* magic */
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE, &by), SIGN_MALFORMED);
    memcpy(sig, f->known, OTA_MANIFEST_SIZE);
    sig[4] = 2; /* format */
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE, &by), SIGN_MALFORMED);
    memcpy(sig, f->known, OTA_MANIFEST_SIZE);
    sig[23] = 0x80; /* flags */
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE, &by), SIGN_MALFORMED);
    memcpy(sig, f->known, OTA_MANIFEST_SIZE);
    sig[32 + 63] = 'x'; /* not padded with NULs */
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE, &by), SIGN_MALFORMED);
    memcpy(sig, f->known, OTA_MANIFEST_SIZE);
    sig[32] = 0; /* empty name */
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE, &by), SIGN_MALFORMED);
    memcpy(sig, f->known, OTA_MANIFEST_SIZE);
    sig[24] ^= 1; /* key id */
    assert_int_equal(check_known(f, sig, OTA_MANIFEST_SIZE, &by), SIGN_UNKNOWN_KEY);
    assert_int_equal(sign_check(f->known, OTA_MANIFEST_SIZE, f->keys, 0, KNOWN_NAME,
                                KNOWN_VERSION, f->image, KNOWN_SIZE, KNOWN_CRC, &by),
                     SIGN_UNKNOWN_KEY);
}

/* Validly signed, but not for this firmware. */
static void test_mismatches(void **state)
{
    struct fixture *f = *state;
    const uint8_t *k = f->known;
    uint8_t other[KNOWN_SIZE];
    size_t by;

    assert_int_equal(sign_check(k, 192, f->keys, 2, "sensor2", KNOWN_VERSION, f->image,
                                KNOWN_SIZE, KNOWN_CRC, &by), SIGN_OTHER_NAME);
    assert_int_equal(sign_check(k, 192, f->keys, 2, "senso", KNOWN_VERSION, f->image,
                                KNOWN_SIZE, KNOWN_CRC, &by), SIGN_OTHER_NAME);
    assert_int_equal(sign_check(k, 192, f->keys, 2, "Sensor", KNOWN_VERSION, f->image,
                                KNOWN_SIZE, KNOWN_CRC, &by), SIGN_OTHER_NAME);
    assert_int_equal(sign_check(k, 192, f->keys, 2, KNOWN_NAME, 43, f->image, KNOWN_SIZE,
                                KNOWN_CRC, &by), SIGN_VERSION_MISMATCH);
    assert_int_equal(sign_check(k, 192, f->keys, 2, KNOWN_NAME, KNOWN_VERSION, f->image,
                                KNOWN_SIZE - 1, KNOWN_CRC, &by), SIGN_SIZE_MISMATCH);
    assert_int_equal(sign_check(k, 192, f->keys, 2, KNOWN_NAME, KNOWN_VERSION, f->image,
                                (size_t)KNOWN_SIZE + (1ull << 32), KNOWN_CRC, &by),
                     SIGN_SIZE_MISMATCH);
    assert_int_equal(sign_check(k, 192, f->keys, 2, KNOWN_NAME, KNOWN_VERSION, f->image,
                                KNOWN_SIZE, KNOWN_CRC ^ 1, &by), SIGN_CRC_MISMATCH);
    /* Same size and (claimed) CRC, other bytes: only the SHA-256 tells. */
    memcpy(other, f->image, sizeof(other));
    other[500] ^= 0x40;
    assert_int_equal(sign_check(k, 192, f->keys, 2, KNOWN_NAME, KNOWN_VERSION, other,
                                KNOWN_SIZE, KNOWN_CRC, &by), SIGN_SHA256_MISMATCH);
    assert_string_equal(sign_verdict_str(SIGN_BAD_SIGNATURE), "bad signature");
    assert_string_equal(sign_verdict_str(SIGN_UNKNOWN_KEY), "unknown key");
    for (int v = SIGN_OK; v <= SIGN_SHA256_MISMATCH; v++)
        for (int w = v + 1; w <= SIGN_SHA256_MISMATCH; w++)
            assert_string_not_equal(sign_verdict_str(v), sign_verdict_str(w));
}

/* sign_make() with both PEM forms of a private key, read back field by
 * field at proto.h's offsets. */
static void test_make(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[OTA_MANIFEST_SIZE];
    size_t by = 99;

    assert_int_equal(sign_make(KEYS "b.key", KNOWN_NAME, 7, f->image, KNOWN_SIZE, KNOWN_CRC,
                               sig), 0);
    assert_memory_equal(sig, "OTAM\x01\0\0\0\x07\0\0\0\xe8\x03\0\0\x46\x2a\xbc\x17\0\0\0\0", 24);
    assert_memory_equal(sig + 24, b_id, 8);
    assert_memory_equal(sig + 32, "sensor\0\0", 8);
    assert_memory_equal(sig + 32 + 56, "\0\0\0\0\0\0\0\0", 8);
    assert_memory_equal(sig + 96, f->known + 96, 32); /* Python's SHA-256 of the image */
    assert_int_equal(sign_check(sig, sizeof(sig), f->keys, 2, KNOWN_NAME, 7, f->image,
                                KNOWN_SIZE, KNOWN_CRC, &by), SIGN_OK);
    assert_int_equal(by, 1);
    assert_int_equal(sign_make(KEYS "a.key", KNOWN_NAME, KNOWN_VERSION, f->image, KNOWN_SIZE,
                               KNOWN_CRC, sig), 0);
    assert_memory_equal(sig, f->known, 128); /* the bytes Python signed */
    assert_int_equal(check_known(f, sig, sizeof(sig), &by), SIGN_OK);
    assert_int_equal(by, 0);
}

/* r or s below 2^248 must be left-padded: it happens once in 128
 * signatures, so sign until it does. */
static void test_make_short_values(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[OTA_MANIFEST_SIZE];
    int padded = 0;
    size_t by;

    for (uint32_t v = 0; v < 4000 && padded == 0; v++) {
        assert_int_equal(sign_make(KEYS "a.key", "x", v, f->image, 1, 0, sig), 0);
        padded = sig[128] == 0 || sig[160] == 0;
        assert_int_equal(sign_check(sig, sizeof(sig), f->keys, 2, "x", v, f->image, 1, 0, &by),
                         SIGN_OK);
    }
    assert_true(padded);
}

static void test_make_refuses(void **state)
{
    struct fixture *f = *state;
    char name[OTA_MANIFEST_NAME_MAX + 2];
    uint8_t sig[OTA_MANIFEST_SIZE], before[OTA_MANIFEST_SIZE];
    size_t by;

    memset(sig, 0x5a, sizeof(sig));
    memcpy(before, sig, sizeof(sig));
    assert_int_equal(sign_make(KEYS "rsa.key", "x", 1, f->image, 1, 0, sig), -EINVAL);
    assert_int_equal(sign_make(KEYS "p384.key", "x", 1, f->image, 1, 0, sig), -EINVAL);
    assert_int_equal(sign_make(KEYS "a.pub", "x", 1, f->image, 1, 0, sig), -EINVAL);
    assert_int_equal(sign_make(KEYS "missing.key", "x", 1, f->image, 1, 0, sig), -ENOENT);
    assert_int_equal(sign_make(KEYS "a.key", "", 1, f->image, 1, 0, sig), -EINVAL);
    memset(name, 'n', sizeof(name));
    name[OTA_MANIFEST_NAME_MAX + 1] = 0;
    assert_int_equal(sign_make(KEYS "a.key", name, 1, f->image, 1, 0, sig), -ENAMETOOLONG);
    assert_memory_equal(sig, before, sizeof(sig)); /* untouched on error */
    /* 64 bytes is the most, with no NUL after it. */
    name[OTA_MANIFEST_NAME_MAX] = 0;
    assert_int_equal(sign_make(KEYS "a.key", name, 1, f->image, 1, 0, sig), 0);
    assert_int_equal(sign_check(sig, sizeof(sig), f->keys, 2, name, 1, f->image, 1, 0, &by),
                     SIGN_OK);
    name[OTA_MANIFEST_NAME_MAX - 1] = 0;
    assert_int_equal(sign_check(sig, sizeof(sig), f->keys, 2, name, 1, f->image, 1, 0, &by),
                     SIGN_OTHER_NAME);
}

/* The DER of a PEM file, decoded by GnuTLS. */
static gnutls_datum_t pem_der(const char *path, const char *label)
{
    gnutls_datum_t pem, der = {NULL, 0};
    size_t len = 0;

    pem.data = read_file(path, &len);
    assert_non_null(pem.data);
    pem.size = (unsigned)len;
    assert_int_equal(gnutls_pem_base64_decode2(label, &pem, &der), 0);
    free(pem.data);
    return der;
}

/* The private key at @path is laid out as OpenSSL writes a.key: the same
 * 138 bytes but for the 32-byte scalar and the 64-byte point. */
static void assert_pkcs8_as_openssl(const char *path)
{
    gnutls_datum_t ours = pem_der(path, "PRIVATE KEY");
    gnutls_datum_t theirs = pem_der(KEYS "a.key", "PRIVATE KEY");

    assert_int_equal(ours.size, 138);
    assert_int_equal(theirs.size, 138);
    assert_memory_equal(ours.data, theirs.data, 36);
    assert_memory_equal(ours.data + 68, theirs.data + 68, 6);
    gnutls_free(ours.data);
    gnutls_free(theirs.data);
}

static void test_keygen(void **state)
{
    char *dir = tmpdir_create(), key[4096], pub[4096];
    struct sign_key k = {{0}, NULL};
    uint8_t sig[OTA_MANIFEST_SIZE];
    struct stat st;
    size_t by = 99;

    (void)state;
    snprintf(key, sizeof(key), "%s/k", dir);
    snprintf(pub, sizeof(pub), "%s/k.pub", dir);
    assert_int_equal(sign_keygen(key), 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(sign_key_load(&k, pub), 0);
    assert_int_equal(sign_make(key, "fw", 3, (const uint8_t *)"abc", 3, 0x352441c2, sig), 0);
    assert_int_equal(sign_check(sig, sizeof(sig), &k, 1, "fw", 3, (const uint8_t *)"abc", 3,
                                0x352441c2, &by), SIGN_OK);
    assert_int_equal(by, 0);
    assert_pkcs8_as_openssl(key);
    /* Never over an existing file, private or public. */
    assert_int_equal(sign_keygen(key), -EEXIST);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(sign_keygen(key), -EEXIST);
    assert_int_equal(access(key, F_OK), -1);
    /* GnuTLS alone would write half of all keys in 33 bytes: try several. */
    for (int i = 0; i < 12; i++) {
        snprintf(key, sizeof(key), "%s/k%d", dir, i);
        assert_int_equal(sign_keygen(key), 0);
        assert_pkcs8_as_openssl(key);
    }
    snprintf(key, sizeof(key), "%s/nodir/k", dir);
    assert_int_equal(sign_keygen(key), -ENOENT);
    sign_key_free(&k);
    sign_key_free(&k);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_ids),
        cmocka_unit_test(test_key_load_refuses),
        cmocka_unit_test(test_key_import),
        cmocka_unit_test(test_known_manifest),
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_signature_values),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_mismatches),
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_make_short_values),
        cmocka_unit_test(test_make_refuses),
        cmocka_unit_test(test_keygen),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
