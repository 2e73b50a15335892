/* SPDX-License-Identifier: MIT */
/* Signed updates on the device: every rule of ota_trust and ota_update's
 * use of it, each bad input the issue lists, and the boot-time check. The
 * manifests are made by otad's signing module (GnuTLS), the keys are the
 * fixed ones of tests/unit/sign (OpenSSL's), so nothing expected comes from
 * the BearSSL code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <gnutls/abstract.h>
#include <zlib.h>

#include "fake_server.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_err.h"
#include "ota_state.h"
#include "ota_trust.h"
#include "ota_update.h"
#include "signing.h"

#define SIZE1 5000u
#define SIZE2 9000u
#define KEY_A SIGNING_KEY_A
#define KEY_B SIGNING_KEY_B

static struct ota_config cfg = {
    .recv_timeout_ms = 10, .block_retries = 2, .backoff_first_ms = 100,
    .backoff_max_ms = 800, .attempts_with_app = 3, .require_signature = true,
};

static uint8_t *v1, *v2;
static struct fake_server server;
static struct host_net_ops net;
static uint8_t manifest[OTA_MANIFEST_SIZE + 1];
static jmp_buf gave_up;

/* Serves @img as @version with a manifest signed by @key for @name (none if
 * @key is NULL). */
static void serve(const uint8_t *img, uint32_t size, uint32_t version, const char *key,
                  const char *name)
{
    fake_serve(&server, &net, img, size, version);
    if (key == NULL)
        return;
    signing_make(key, name, img, size, version, manifest);
    server.manifest = manifest;
    server.manifest_len = OTA_MANIFEST_SIZE;
}

static struct ota_state state(void)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    return s.cur;
}

static void record(const struct ota_state *st)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    assert_int_equal(ota_state_write(&s, st, false), 0);
}

/* One update attempt with the state on flash; @u tells the verdict. */
static int update(struct ota_update *u, bool have_app, uint32_t installed)
{
    static struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    ota_update_init(u, &cfg, &s);
    return ota_update_run(u, have_app, installed);
}

/* Boots until the application is started, or gives up after a few
 * failed attempts (returns false: nothing was started). */
static bool boot(void)
{
    host_clear_boot();
    host_set_sleep_budget(5000);
    host_power_cut = &gave_up;
    if (setjmp(gave_up) != 0) {
        host_power_cut = NULL;
        return false;
    }
    ota_boot_main(&cfg);
    host_power_cut = NULL;
    host_set_sleep_budget(0);
    return host_jumped_to() != 0;
}

static bool app_is(const uint8_t *img, uint32_t size)
{
    return memcmp(host_area_mem(OTA_AREA_PRIMARY), img, size) == 0;
}

/* A verified v1 installed from a manifest signed by a (floor 1). */
static void install_v1(void)
{
    serve(v1, SIZE1, 1, KEY_A, "firmware");
    assert_true(boot());
    assert_true(app_is(v1, SIZE1));
}

static int setup_all(void **st)
{
    (void)st;
    host_set_quiet(true);
    host_set_virtual_sleep(true);
    v1 = fake_app(SIZE1, 11);
    v2 = fake_app(SIZE2, 22);
    signing_args(0, NULL, NULL);
    return 0;
}

static int teardown_all(void **st)
{
    (void)st;
    free(v1);
    free(v2);
    return 0;
}

static int setup(void **st)
{
    (void)st;
    cfg.require_signature = true;
    signing_trust(&signing_a, &signing_b);
    host_flash_set_layout(HOST_LAYOUT_F401);
    return host_flash_open(NULL);
}

static int teardown(void **st)
{
    (void)st;
    host_flash_close();
    return 0;
}

/* A signed image installs, its manifest is kept beside it byte for byte,
 * and the floor is its version. */
static void test_signed_update_installs(void **st)
{
    (void)st;
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    assert_true(boot());
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(server.manifest_requests, 1);
    assert_memory_equal(host_area_mem(OTA_AREA_PRIMARY) + 9216, manifest, OTA_MANIFEST_SIZE);
    assert_int_equal(state().floor, 2);
    assert_int_equal(state().app_version, 2);
}

/* Every refusal happens before anything is erased: the installed v1 stays
 * and boots. */
static void assert_refused(enum ota_trust_verdict want, int want_r)
{
    struct ota_update u;
    long erases = host_flash_erases(OTA_AREA_PRIMARY);

    assert_int_equal(update(&u, true, 1), want_r);
    assert_int_equal(u.verdict, want);
    if (want != OTA_TRUST_HASH_MISMATCH)
        assert_int_equal(host_flash_erases(OTA_AREA_PRIMARY), erases);
}

static void test_other_firmware(void **st)
{
    (void)st;
    install_v1();
    serve(v2, SIZE2, 2, KEY_A, "other");
    assert_refused(OTA_TRUST_OTHER_NAME, OTA_ERR_UNTRUSTED);
    assert_true(boot());
    assert_true(app_is(v1, SIZE1));
}

static void test_unknown_key(void **st)
{
    (void)st;
    install_v1();
    signing_trust(&signing_a, NULL);
    serve(v2, SIZE2, 2, KEY_B, "firmware");
    assert_refused(OTA_TRUST_UNKNOWN_KEY, OTA_ERR_UNTRUSTED);
}

/* One bit flipped in r, in s, or in the signed bytes (the version). */
static void test_flipped_bits(void **st)
{
    static const uint32_t at[] = {130, 191, 8, 40}; /* r, s, version, name */

    (void)st;
    install_v1();
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        serve(v2, SIZE2, 2, KEY_A, "firmware");
        manifest[at[i]] ^= 0x01;
        assert_refused(OTA_TRUST_BAD_SIGNATURE, OTA_ERR_UNTRUSTED);
    }
}

static void test_truncated_and_oversized(void **st)
{
    (void)st;
    install_v1();
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    server.manifest_len = OTA_MANIFEST_SIZE - 1;
    assert_refused(OTA_TRUST_MALFORMED, OTA_ERR_UNTRUSTED);
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    server.manifest_len = OTA_MANIFEST_SIZE + 1;
    assert_refused(OTA_TRUST_MALFORMED, OTA_ERR_UNTRUSTED);
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    server.manifest_len = 0;
    assert_refused(OTA_TRUST_MALFORMED, OTA_ERR_UNTRUSTED);
}

/* The manifest of version 3 behind a header that says 2. */
static void test_manifest_for_another_version(void **st)
{
    uint8_t other[OTA_MANIFEST_SIZE];

    (void)st;
    install_v1();
    serve(v2, SIZE2, 3, KEY_A, "firmware");
    memcpy(other, manifest, sizeof(other));
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    memcpy(manifest, other, sizeof(other));
    assert_refused(OTA_TRUST_MISMATCH, OTA_ERR_UNTRUSTED);
}

/* An image that fills the F401's 448 KiB application area leaves no room
 * for its manifest: refused before anything is erased. 256 bytes less fit. */
static void test_no_room_for_the_manifest(void **st)
{
    uint32_t area = 448u * 1024u;
    uint8_t *big = fake_app(area, 44);
    struct ota_update u;

    (void)st;
    install_v1();
    serve(big, area, 2, KEY_A, "firmware");
    assert_refused(OTA_TRUST_NO_ROOM, OTA_ERR_UNTRUSTED);
    serve(big, area - 256, 2, KEY_A, "firmware");
    assert_int_equal(update(&u, true, 1), OTA_UPDATE_INSTALLED);
    assert_memory_equal(host_area_mem(OTA_AREA_PRIMARY) + area - 256, manifest, OTA_MANIFEST_SIZE);
    free(big);
}

/* Version 5 was installed once; the application is now v1 (a reflash, a
 * revert): a validly signed v4 is newer than v1 but below the floor. */
static void test_signed_downgrade(void **st)
{
    struct ota_state s;

    (void)st;
    install_v1();
    s = state();
    s.floor = 5;
    record(&s);
    serve(v2, SIZE2, 4, KEY_A, "firmware");
    assert_refused(OTA_TRUST_DOWNGRADE, OTA_ERR_UNTRUSTED);
    serve(v2, SIZE2, 5, KEY_A, "firmware");
    {
        struct ota_update u;

        assert_int_equal(update(&u, true, 1), OTA_UPDATE_INSTALLED);
    }
    assert_int_equal(state().floor, 5);
}

/* A malicious server: one block altered, its CRC fixed, the genuine
 * manifest. Every block checks out; the SHA-256 read back does not. */
static void test_tampered_block(void **st)
{
    struct ota_update u;

    (void)st;
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    server.tamper = true;
    server.tamper_block = 7;
    assert_int_equal(update(&u, false, 0), OTA_ERR_UNTRUSTED);
    assert_int_equal(u.verdict, OTA_TRUST_HASH_MISMATCH);
    assert_false(state().flags & OTA_STATE_APP_VALID);
    assert_false(state().flags & OTA_STATE_DOWNLOADING);
    assert_false(boot()); /* it keeps refusing; nothing is ever started */
    assert_int_equal(host_jumped_to(), 0);
}

/* Rotation: with a removed, a's images are refused and b's install. */
static void test_key_rotation(void **st)
{
    (void)st;
    install_v1();
    signing_trust(&signing_b, NULL);
    serve(v2, SIZE2, 2, KEY_A, "firmware");
    assert_refused(OTA_TRUST_UNKNOWN_KEY, OTA_ERR_UNTRUSTED);
    serve(v2, SIZE2, 2, KEY_B, "firmware");
    {
        struct ota_update u;

        assert_int_equal(update(&u, true, 1), OTA_UPDATE_INSTALLED);
    }
    assert_true(boot());
    assert_true(app_is(v2, SIZE2));
}

/* No manifest: refused when required, installed as before when not (and
 * then booted on its CRC alone). */
static void test_unsigned_server(void **st)
{
    struct ota_update u;

    (void)st;
    serve(v2, SIZE2, 2, NULL, NULL);
    assert_int_equal(update(&u, false, 0), OTA_ERR_UNSIGNED);
    assert_int_equal(host_flash_erases(OTA_AREA_PRIMARY), 0);
    cfg.require_signature = false;
    assert_int_equal(update(&u, false, 0), OTA_UPDATE_INSTALLED);
    assert_int_equal(state().floor, 0);
    assert_true(boot());
    assert_true(app_is(v2, SIZE2));
    cfg.require_signature = true;
    assert_false(boot()); /* no manifest beside it: never run */
    assert_int_equal(host_jumped_to(), 0);
}

/* Before every jump: an image changed in flash so that its CRC-32 stays
 * the same (fake_forge) no longer boots; put back, it does. */
static void test_boot_checks_the_hash(void **st)
{
    uint8_t keep[256];
    uint8_t *at = host_area_mem(OTA_AREA_PRIMARY) + 1024;

    (void)st;
    install_v1();
    server.gone = true;
    memcpy(keep, at, sizeof(keep));
    fake_forge(at, sizeof(keep));
    assert_int_equal((uint32_t)crc32(0, host_area_mem(OTA_AREA_PRIMARY), SIZE1),
                     (uint32_t)crc32(0, v1, SIZE1));
    assert_false(boot());
    assert_int_equal(host_jumped_to(), 0);
    memcpy(at, keep, sizeof(keep));
    assert_true(boot());
}

/* Dual slot: each manifest moves with its image through the swaps, so the
 * installed image, the one on trial and the one reverted to all boot on
 * their hash; the floor stays at the highest version installed. */
static void test_dual_slot(void **st)
{
    uint32_t big = 128u * 1024u + 3000u; /* spans two sectors of the slots */
    uint8_t *v3 = fake_app_at(big, 33, 0x08020000u), *v1ab = fake_app_at(SIZE1, 11, 0x08020000u);
    uint8_t m1[OTA_MANIFEST_SIZE];
    struct ota_state s;

    (void)st;
    host_flash_close();
    host_flash_set_layout(HOST_LAYOUT_F405);
    assert_int_equal(host_flash_open(NULL), 0);
    serve(v1ab, SIZE1, 1, KEY_A, "firmware");
    memcpy(m1, manifest, sizeof(m1));
    assert_true(boot());
    assert_int_equal(ota_confirm(), 0);
    assert_true(app_is(v1ab, SIZE1));
    assert_memory_equal(host_area_mem(OTA_AREA_PRIMARY) + ota_trust_manifest_off(SIZE1), m1,
                        sizeof(m1));

    serve(v3, big, 3, KEY_B, "firmware");
    s = state();
    s.flags |= OTA_STATE_UPDATE_REQUESTED;
    record(&s);
    assert_true(boot()); /* staged, swapped, and started on trial */
    assert_true(app_is(v3, big));
    assert_int_equal(state().floor, 3);
    assert_true(state().flags & OTA_STATE_TRIAL);
    server.gone = true;
    assert_true(boot()); /* not confirmed: reverted to v1, which boots on its hash */
    assert_true(app_is(v1ab, SIZE1));
    assert_memory_equal(host_area_mem(OTA_AREA_PRIMARY) + ota_trust_manifest_off(SIZE1), m1,
                        sizeof(m1));
    assert_int_equal(state().app_version, 1);
    assert_int_equal(state().floor, 3);
    free(v3);
    free(v1ab);
}

/* Older bootloaders wrote 0 where the floor is kept: their records read as
 * floor 0, in both formats; the floor survives an encode/decode. */
static void test_floor_word(void **st)
{
    uint8_t rec[OTA_STATE_RECORD_MAX];
    struct ota_state a = {.seq = 3, .flags = 1, .floor = 0x01020304}, b;

    (void)st;
    for (int dual = 0; dual < 2; dual++) {
        uint32_t n = ota_state_record_size(dual), word = dual ? 56 : 36;

        ota_state_encode(&a, dual, rec);
        assert_int_equal(rec[word], 0x04);
        assert_int_equal(rec[word + 3], 0x01);
        assert_true(ota_state_decode(rec, dual, &b));
        assert_int_equal(b.floor, 0x01020304);
        memset(rec + word, 0, 4);
        fake_le32(rec + n - 4, (uint32_t)crc32(0, rec, n - 4));
        assert_true(ota_state_decode(rec, dual, &b));
        assert_int_equal(b.floor, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signed_update_installs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_firmware, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_for_another_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_downgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_room_for_the_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_checks_the_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dual_slot, setup, teardown),
        cmocka_unit_test(test_floor_word),
    };

    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
