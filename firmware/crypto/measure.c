/* SPDX-License-Identifier: MIT */
/* Known-answer tests of ota_verify.c against kat.h (made by kat.py with
 * Python's hashlib and cryptography), then its costs: one ECDSA P-256
 * verification, SHA-256 per KiB, and the boot-time check of a full slot.
 * The same file runs on QEMU (measure_qemu.c) and on the host
 * (measure_host.c), so both builds of the library are checked alike. */
#include <stdbool.h>
#include <string.h>

#include "kat.h"
#include "measure.h"
#include "ota_verify.h"
#include "otad/proto.h"

/* The message is the manifest's signed part; its signature follows it. */
static const uint8_t *const kat_msg = kat_manifest;
#define KAT_MSG_SIZE OTA_MANIFEST_SIGNED
static const uint8_t *const kat_sig = kat_manifest + OTA_MANIFEST_SIGNED;

static int failures;

static void print_u64(uint64_t v)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;

    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    measure_print(buf + i);
}

static void check(bool ok, const char *what)
{
    measure_print(ok ? "ok: " : "FAIL: ");
    measure_print(what);
    measure_print("\n");
    if (!ok)
        failures++;
}

void measure_figure(const char *what, uint64_t v, const char *unit)
{
    measure_print(what);
    measure_print(": ");
    print_u64(v);
    measure_print(" ");
    measure_print(unit);
    measure_print("\n");
}

static bool sha256_is(const void *data, size_t len, const uint8_t want[OTA_SHA256_SIZE])
{
    struct ota_sha256 h;
    uint8_t got[OTA_SHA256_SIZE];

    ota_sha256_init(&h);
    ota_sha256_update(&h, data, len);
    ota_sha256_final(&h, got);
    return memcmp(got, want, sizeof(got)) == 0;
}

/* The same message fed in pieces that straddle the 64-byte blocks. */
static bool sha256_pieces_is(const uint8_t *data, size_t len, const uint8_t want[OTA_SHA256_SIZE])
{
    struct ota_sha256 h;
    uint8_t got[OTA_SHA256_SIZE];
    size_t off, n = 1;

    ota_sha256_init(&h);
    for (off = 0; off < len; off += n, n = n * 3 + 1)
        ota_sha256_update(&h, data + off, len - off < n ? len - off : n);
    ota_sha256_final(&h, got);
    return memcmp(got, want, sizeof(got)) == 0;
}

static void kat_sha256(void)
{
    static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    check(sha256_is("abc", 3, kat_abc_sha256), "sha256(\"abc\")");
    check(sha256_is("", 0, kat_empty_sha256), "sha256(\"\")");
    check(sha256_is(m448, sizeof(m448) - 1, kat_448_sha256), "sha256(448-bit message)");
    check(sha256_is(kat_msg, KAT_MSG_SIZE, kat_msg_sha256), "sha256(kat message)");
    check(sha256_pieces_is(kat_msg, KAT_MSG_SIZE, kat_msg_sha256),
          "sha256(kat message) in pieces of 1, 4, 13, 40, ... bytes");
    check(!sha256_is(kat_msg, KAT_MSG_SIZE - 1, kat_msg_sha256),
          "sha256 of the message less its last byte differs");
}

/* Whether the verification fails with bit @bit of @buf (a copy of one of
 * the three inputs) flipped. */
static bool rejects_flip(const uint8_t *which, size_t len, unsigned bit)
{
    uint8_t pub[OTA_P256_PUB_SIZE], hash[OTA_SHA256_SIZE], sig[OTA_P256_SIG_SIZE];
    uint8_t *copy = which == kat_pub ? pub : which == kat_msg_sha256 ? hash : sig;

    memcpy(pub, kat_pub, sizeof(pub));
    memcpy(hash, kat_msg_sha256, sizeof(hash));
    memcpy(sig, kat_sig, sizeof(sig));
    copy[(bit / 8) % len] ^= (uint8_t)(1u << (bit % 8));
    return !ota_p256_verify(pub, hash, sig);
}

static void kat_ecdsa(void)
{
    /* The group order n of P-256: a signature with s = n must fail even
     * though s mod n = 0 would be caught too. */
    static const uint8_t order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    };
    uint8_t sig[OTA_P256_SIG_SIZE];

    check(ota_p256_verify(kat_pub, kat_msg_sha256, kat_sig), "ecdsa: the kat signature verifies");
    check(rejects_flip(kat_sig, OTA_P256_SIG_SIZE, 0), "ecdsa: r with bit 0 flipped fails");
    check(rejects_flip(kat_sig, OTA_P256_SIG_SIZE, 8 * 63 + 7), "ecdsa: s with its top bit flipped fails");
    check(rejects_flip(kat_msg_sha256, OTA_SHA256_SIZE, 8 * 31), "ecdsa: hash with one bit flipped fails");
    check(rejects_flip(kat_pub, sizeof(kat_pub), 8 * 40 + 3), "ecdsa: key with one bit flipped fails");
    memset(sig, 0, sizeof(sig));
    check(!ota_p256_verify(kat_pub, kat_msg_sha256, sig), "ecdsa: r = s = 0 fails");
    memcpy(sig, kat_sig, 32);
    memcpy(sig + 32, order, 32);
    check(!ota_p256_verify(kat_pub, kat_msg_sha256, sig), "ecdsa: s = n fails");
}

/* The chain the bootloader will run: decode a manifest with proto.h's
 * decoder, find the key by its id, verify the signature over the first 128
 * bytes; a changed version must then fail. */
static void kat_manifest_chain(void)
{
    struct ota_manifest m;
    struct ota_sha256 h;
    uint8_t copy[OTA_MANIFEST_SIZE], digest[OTA_SHA256_SIZE];

    check(ota_manifest_decode(kat_manifest, sizeof(kat_manifest), &m) == 0,
          "manifest: decodes");
    check(m.version == 7 && m.size == KAT_SLOT_SIZE && memcmp(m.name, "app", 4) == 0 &&
              memcmp(m.sha256, kat_slot_sha256, OTA_SHA256_SIZE) == 0,
          "manifest: version, size, name and SHA-256 as kat.py wrote them");
    check(sha256_is(kat_manifest, OTA_MANIFEST_SIGNED, kat_msg_sha256),
          "manifest: its signed part is the kat message");
    ota_sha256_init(&h);
    ota_sha256_update(&h, kat_pub, OTA_P256_PUB_SIZE);
    ota_sha256_final(&h, digest);
    check(memcmp(digest, m.key_id, OTA_MANIFEST_KEY_ID) == 0 &&
              memcmp(kat_key_id, m.key_id, OTA_MANIFEST_KEY_ID) == 0,
          "manifest: key id is the start of SHA-256(X || Y)");
    check(ota_p256_verify(kat_pub, kat_msg_sha256, m.signature), "manifest: signature verifies");

    memcpy(copy, kat_manifest, sizeof(copy));
    copy[8] ^= 1; /* version 7 -> 6: still a well-formed manifest */
    ota_sha256_init(&h);
    ota_sha256_update(&h, copy, OTA_MANIFEST_SIGNED);
    ota_sha256_final(&h, digest);
    check(ota_manifest_decode(copy, sizeof(copy), &m) == 0 && m.version == 6 &&
              !ota_p256_verify(kat_pub, digest, m.signature),
          "manifest: with the version changed, decodes but does not verify");
}

/* Every bit of the three inputs flipped, one at a time: 1280
 * verifications, for the host (on QEMU they would take minutes). */
static void all_flips(void)
{
    unsigned bit, bad = 0;

    for (bit = 0; bit < 8 * OTA_P256_SIG_SIZE; bit++)
        bad += !rejects_flip(kat_sig, OTA_P256_SIG_SIZE, bit);
    for (bit = 0; bit < 8 * OTA_SHA256_SIZE; bit++)
        bad += !rejects_flip(kat_msg_sha256, OTA_SHA256_SIZE, bit);
    for (bit = 0; bit < 8 * OTA_P256_PUB_SIZE; bit++)
        bad += !rejects_flip(kat_pub, sizeof(kat_pub), bit);
    check(bad == 0, "ecdsa: each of the 1280 single-bit flips of signature, hash and key fails");
}

static uint8_t slot_byte(uint32_t i)
{
    return (uint8_t)((i * 2654435761u) >> 24); /* as pattern() in kat.py */
}

static const uint8_t *slot;

/* A port's flash read where the flash is memory-mapped. */
static int slot_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    (void)ctx;
    memcpy(buf, slot + off, len);
    return 0;
}

static int failing_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    (void)ctx;
    (void)buf;
    return off + len > 1000 ? -5 : 0;
}

static void measure_slot_check(void)
{
    uint8_t *s = measure_slot(KAT_SLOT_SIZE), got[OTA_SHA256_SIZE];
    uint64_t t;
    uint32_t i;
    bool ok;

    for (i = 0; i < KAT_SLOT_SIZE; i++)
        s[i] = slot_byte(i);
    slot = s;
    check(!ota_sha256(failing_read, 0, KAT_SLOT_SIZE, got), "sha256: a failing read fails");

    measure_stack_paint();
    t = measure_now();
    ok = ota_sha256(slot_read, 0, KAT_SLOT_SIZE, got);
    t = measure_now() - t;
    check(ok && memcmp(got, kat_slot_sha256, sizeof(got)) == 0,
          "sha256 of a 384 KiB slot through the read callback");
    measure_figure("sha256 of a 384 KiB slot, read in 256-byte chunks", t, measure_unit);
    measure_figure("sha256 through the read callback, stack", measure_stack_used(), "bytes");

    t = measure_now();
    ok = sha256_is(s, KAT_SLOT_SIZE, kat_slot_sha256);
    t = measure_now() - t;
    check(ok, "sha256 of a 384 KiB slot in place");
    measure_figure("sha256 of a 384 KiB slot, in place (memory-mapped)", t, measure_unit);
    measure_figure("sha256 per KiB, in place", t / 384, measure_unit);
}

int measure_run(bool all_flips_too)
{
    uint64_t t;
    bool ok;

    kat_sha256();
    kat_ecdsa();
    kat_manifest_chain();

    measure_stack_paint();
    t = measure_now();
    ok = ota_p256_verify(kat_pub, kat_msg_sha256, kat_sig);
    t = measure_now() - t;
    check(ok, "ecdsa: the timed verification succeeds");
    measure_figure("ecdsa p256 verify", t, measure_unit);
    measure_figure("ecdsa p256 verify, stack", measure_stack_used(), "bytes");

    measure_slot_check();
    if (all_flips_too)
        all_flips();
    measure_print(failures == 0 ? "all checks passed\n" : "SOME CHECKS FAILED\n");
    return failures == 0 ? 0 : 1;
}
