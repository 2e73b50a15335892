/* SPDX-License-Identifier: MIT */
/* What the device tells otad: X-Device-Id and X-Device-Version with the
 * header request, and POST /NAME/report after an install, a confirmation,
 * a revert, and each refusal, with its reason. The expected bytes are
 * written out here from the wire contract (otad(8), FLEET); manifests come
 * from otad's GnuTLS code (signing.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <zlib.h>

#include "fake_server.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_err.h"
#include "ota_report.h"
#include "ota_state.h"
#include "ota_update.h"
#include "signing.h"

#define F401_APP 0x08010000u
#define F405_APP 0x08020000u
#define SIZE1 5000u
#define SIZE2 9000u
#define ID "0123456789abcdef01234567"
#define REPORT_TIMEOUT_MS 7u

static struct ota_config cfg;
static uint8_t *v1, *v2, *v1ab, *v2ab, *huge;
static struct fake_server server;
static struct host_net_ops net;

static void serve(const uint8_t *img, uint32_t size, uint32_t version)
{
    fake_serve(&server, &net, img, size, version);
}

/* @img installed as @version, with @flags and @floor, its manifest kept
 * beside it when @keep. */
static void install(const uint8_t *img, uint32_t size, uint32_t version, uint32_t flags,
                    uint32_t floor, bool keep)
{
    struct ota_state_store s;
    struct ota_state st = {.flags = OTA_STATE_APP_VALID | flags, .app_version = version,
                           .app_size = size, .app_crc = (uint32_t)crc32(0, img, size),
                           .floor = floor};

    memcpy(host_area_mem(OTA_AREA_PRIMARY), img, size);
    if (keep)
        memcpy(host_area_mem(OTA_AREA_PRIMARY) + ota_trust_manifest_off(size),
               signing_cached(img, size, version), OTA_MANIFEST_SIZE);
    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    assert_int_equal(ota_state_write(&s, &st, false), 0);
}

static uint32_t flags(void)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    return s.cur.flags;
}

/* Boots; @img must be what starts, from @addr. */
static void boot_expect(uint32_t addr, const uint8_t *img, uint32_t size)
{
    host_clear_boot();
    ota_boot_main(&cfg);
    assert_int_equal(host_jumped_to(), addr);
    assert_memory_equal(host_area_mem(OTA_AREA_PRIMARY), img, size);
}

/* The body of report @n, which must have been made. */
static const char *report_body(unsigned n)
{
    const char *body;

    assert_true(server.reports > n);
    body = strstr(server.report_req[n], "\r\n\r\n");
    assert_non_null(body);
    return body + 4;
}

static int setup_all(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_set_virtual_sleep(true);
    signing_args(0, NULL, NULL);
    v1 = fake_app(SIZE1, 11);
    v2 = fake_app(SIZE2, 22);
    v1ab = fake_app_at(SIZE1, 11, F405_APP);
    v2ab = fake_app_at(SIZE2, 22, F405_APP);
    huge = fake_app(460u * 1024u, 33); /* over the f401's 448 KiB slot */
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    free(v1);
    free(v2);
    free(v1ab);
    free(v2ab);
    free(huge);
    return 0;
}

static int open_layout(enum host_layout layout)
{
    cfg = (struct ota_config){.recv_timeout_ms = 10, .block_retries = 2,
                              .backoff_first_ms = 100, .backoff_max_ms = 800,
                              .attempts_with_app = 1, .trial_boots = 1,
                              .report_timeout_ms = REPORT_TIMEOUT_MS};
    signing_on = false;
    host_set_server("127.0.0.1", 8000, "firmware");
    host_set_device_id(ID);
    host_flash_set_layout(layout);
    return host_flash_open(NULL);
}

static int setup_f401(void **state)
{
    (void)state;
    return open_layout(HOST_LAYOUT_F401);
}

static int setup_f405(void **state)
{
    (void)state;
    return open_layout(HOST_LAYOUT_F405);
}

static int teardown(void **state)
{
    (void)state;
    host_flash_close();
    host_set_device_id(NULL);
    return 0;
}

/* The header request names the device and its version; the install is
 * reported, byte for byte. */
static void test_request_bytes(void **state)
{
    (void)state;
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
    serve(v2, SIZE2, 2);
    boot_expect(F401_APP, v2, SIZE2);
    assert_string_equal(server.header_req, "GET /firmware/header HTTP/1.1\r\n"
                                           "Host: 127.0.0.1:8000\r\n"
                                           "X-Device-Id: " ID "\r\n"
                                           "X-Device-Version: 1\r\n"
                                           "\r\n");
    assert_int_equal(server.reports, 1);
    assert_string_equal(server.report_req[0], "POST /firmware/report HTTP/1.1\r\n"
                                              "Host: 127.0.0.1:8000\r\n"
                                              "X-Device-Id: " ID "\r\n"
                                              "Content-Type: application/x-www-form-urlencoded\r\n"
                                              "Content-Length: 26\r\n"
                                              "\r\n"
                                              "status=installed&version=2");
    /* One attempt, waiting at most the report's own timeout. */
    assert_int_equal(server.report_recvs, 1);
    assert_int_equal(server.report_timeout_ms, REPORT_TIMEOUT_MS);
}

/* A port without an id, and a device with nothing installed: neither header. */
static void test_no_id_no_version(void **state)
{
    (void)state;
    host_set_device_id(NULL);
    serve(v2, SIZE2, 2);
    boot_expect(F401_APP, v2, SIZE2);
    assert_string_equal(server.header_req,
                        "GET /firmware/header HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n");
    assert_int_equal(server.reports, 1);
    assert_string_equal(server.report_req[0], "POST /firmware/report HTTP/1.1\r\n"
                                              "Host: 127.0.0.1:8000\r\n"
                                              "Content-Type: application/x-www-form-urlencoded\r\n"
                                              "Content-Length: 26\r\n"
                                              "\r\n"
                                              "status=installed&version=2");
}

/* cfg.anonymous: the requests of a legacy device, and no report. */
static void test_anonymous(void **state)
{
    (void)state;
    cfg.anonymous = true;
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
    serve(v2, SIZE2, 2);
    boot_expect(F401_APP, v2, SIZE2);
    assert_string_equal(server.header_req,
                        "GET /firmware/header HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n");
    assert_int_equal(server.reports, 0);
}

/* Single slot, refusals found before anything is erased: v1 keeps running
 * and the server hears why. */
static void test_single_slot_refusals(void **state)
{
    uint8_t bad[OTA_MANIFEST_SIZE];

    (void)state;
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
    serve(huge, 460u * 1024u, 2);
    boot_expect(F401_APP, v1, SIZE1);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=failed&version=2&reason=too-large");

    /* Signatures required, and no manifest on the server. */
    cfg.require_signature = true;
    host_flash_reset();
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 1, true);
    serve(v2, SIZE2, 2);
    boot_expect(F401_APP, v1, SIZE1);
    assert_string_equal(report_body(0), "status=failed&version=2&reason=signature");

    /* A manifest whose signature does not verify. */
    host_flash_reset();
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 1, true);
    serve(v2, SIZE2, 2);
    memcpy(bad, signing_cached(v2, SIZE2, 2), sizeof(bad));
    bad[OTA_MANIFEST_SIZE - 1] ^= 0x01;
    server.manifest = bad;
    server.manifest_len = sizeof(bad);
    boot_expect(F401_APP, v1, SIZE1);
    assert_string_equal(report_body(0), "status=failed&version=2&reason=signature");

    /* Validly signed, newer than v1, but below the anti-rollback floor. */
    host_flash_reset();
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 5, true);
    serve(v2, SIZE2, 3);
    server.manifest = signing_cached(v2, SIZE2, 3);
    server.manifest_len = OTA_MANIFEST_SIZE;
    boot_expect(F401_APP, v1, SIZE1);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=failed&version=3&reason=downgrade");
    assert_int_equal(server.block_requests, 0);
}

/* Dual slot: a download that fails its CRC, and one the server stops
 * answering: v1 starts at once, after one report each. */
static void test_dual_failures(void **state)
{
    (void)state;
    install(v1ab, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
    serve(v2ab, SIZE2, 2);
    server.corrupt_all = true;
    boot_expect(F405_APP, v1ab, SIZE1);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=failed&version=2&reason=crc");

    serve(v2ab, SIZE2, 2);
    server.mute_blocks = true;
    boot_expect(F405_APP, v1ab, SIZE1);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=failed&version=2&reason=timeout");
}

/* Dual slot: installed at the trial boot, confirmed at the boot after the
 * application confirmed, and nothing more after that. */
static void test_installed_then_confirmed(void **state)
{
    (void)state;
    install(v1ab, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
    serve(v2ab, SIZE2, 2);
    boot_expect(F405_APP, v2ab, SIZE2);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=installed&version=2");
    assert_int_equal(ota_confirm(), 0);
    assert_int_equal(server.reports, 1); /* the application itself sends nothing */
    serve(v2ab, SIZE2, 2);
    boot_expect(F405_APP, v2ab, SIZE2);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=confirmed&version=2");
    assert_string_equal(server.report_req[0] + strlen("POST /firmware/report HTTP/1.1\r\n"
                                                      "Host: 127.0.0.1:8000\r\n"),
                        "X-Device-Id: " ID "\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        "Content-Length: 26\r\n\r\nstatus=confirmed&version=2");
    serve(v2ab, SIZE2, 2);
    boot_expect(F405_APP, v2ab, SIZE2);
    assert_int_equal(server.reports, 0);
    assert_int_equal(server.header_requests, 0);
}

/* Dual slot: a trial that never confirms is reverted and reported with the
 * version it rejected; offered again, that image is refused as rejected. */
static void test_reverted_then_rejected(void **state)
{
    (void)state;
    install(v1ab, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
    serve(v2ab, SIZE2, 2);
    boot_expect(F405_APP, v2ab, SIZE2);
    serve(v2ab, SIZE2, 2);
    boot_expect(F405_APP, v1ab, SIZE1); /* v2 reset without confirming */
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=reverted&version=2");
    assert_int_equal(ota_request_update(), 0);
    serve(v2ab, SIZE2, 2);
    boot_expect(F405_APP, v1ab, SIZE1);
    assert_int_equal(server.reports, 1);
    assert_string_equal(report_body(0), "status=failed&version=2&reason=rejected");
    assert_int_equal(server.block_requests, 0);
}

/* However the server answers a report, or if it does not, the device boots
 * the same image with the same state, after one attempt that waited at most
 * the report timeout, and never sends that report again. */
static void test_answer_changes_nothing(void **state)
{
    static const unsigned answers[] = {0 /* 204 */, 400, 404, 429, 1 /* none */};

    (void)state;
    for (unsigned i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        uint64_t slept;

        host_flash_reset();
        install(v1ab, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED, 0, false);
        serve(v2ab, SIZE2, 2);
        server.report_status = answers[i] > 1 ? answers[i] : 0;
        server.report_silent = answers[i] == 1;
        slept = host_slept_ms();
        boot_expect(F405_APP, v2ab, SIZE2);
        assert_int_equal(host_slept_ms(), slept); /* no back-off, no retry */
        assert_int_equal(server.reports, 1);
        assert_int_equal(server.report_recvs, 1);
        assert_int_equal(server.report_timeout_ms, REPORT_TIMEOUT_MS);
        assert_int_equal(flags(), OTA_STATE_APP_VALID | OTA_STATE_TRIAL |
                                      OTA_STATE_SECONDARY_VALID | OTA_STATE_REPORT_TRIAL);
        assert_int_equal(ota_confirm(), 0);
        serve(v2ab, SIZE2, 2);
        server.report_status = answers[i] > 1 ? answers[i] : 0;
        server.report_silent = answers[i] == 1;
        boot_expect(F405_APP, v2ab, SIZE2);
        assert_int_equal(server.reports, 1);
        assert_int_equal(server.report_recvs, 1);
        assert_int_equal(flags(), OTA_STATE_APP_VALID | OTA_STATE_SECONDARY_VALID);
        serve(v2ab, SIZE2, 2);
        boot_expect(F405_APP, v2ab, SIZE2);
        assert_int_equal(server.reports, 0);
    }
}

/* Each engine result and its reason, including those the host cannot
 * provoke (a flash that fails). */
static void test_reasons(void **state)
{
    static const struct {
        int r;
        enum ota_trust_verdict verdict;
        bool too_large;
        enum ota_report_reason want;
    } cases[] = {
        {OTA_ERR_CRC, OTA_TRUST_OK, false, OTA_REASON_CRC},
        {OTA_ERR_UNSIGNED, OTA_TRUST_OK, false, OTA_REASON_SIGNATURE},
        {OTA_ERR_UNTRUSTED, OTA_TRUST_BAD_SIGNATURE, false, OTA_REASON_SIGNATURE},
        {OTA_ERR_UNTRUSTED, OTA_TRUST_UNKNOWN_KEY, false, OTA_REASON_SIGNATURE},
        {OTA_ERR_UNTRUSTED, OTA_TRUST_HASH_MISMATCH, false, OTA_REASON_SIGNATURE},
        {OTA_ERR_UNTRUSTED, OTA_TRUST_DOWNGRADE, false, OTA_REASON_DOWNGRADE},
        {OTA_ERR_UNTRUSTED, OTA_TRUST_NO_ROOM, false, OTA_REASON_TOO_LARGE},
        {OTA_ERR_PROTOCOL, OTA_TRUST_OK, true, OTA_REASON_TOO_LARGE},
        {OTA_ERR_PROTOCOL, OTA_TRUST_OK, false, OTA_REASON_NONE},
        {OTA_ERR_FLASH, OTA_TRUST_OK, false, OTA_REASON_FLASH},
        {OTA_ERR_STATE, OTA_TRUST_OK, false, OTA_REASON_FLASH},
        {OTA_ERR_TIMEOUT, OTA_TRUST_OK, false, OTA_REASON_TIMEOUT},
        {OTA_ERR_NET, OTA_TRUST_OK, false, OTA_REASON_TIMEOUT},
        {OTA_ERR_REJECTED, OTA_TRUST_OK, false, OTA_REASON_REJECTED},
        {OTA_UPDATE_REJECTED, OTA_TRUST_OK, false, OTA_REASON_REJECTED},
        {OTA_ERR_STATUS, OTA_TRUST_OK, false, OTA_REASON_NONE},
        {OTA_UPDATE_CURRENT, OTA_TRUST_OK, false, OTA_REASON_NONE},
        {OTA_UPDATE_INSTALLED, OTA_TRUST_OK, false, OTA_REASON_NONE},
    };
    struct ota_update u = {0};

    (void)state;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        u.have_header = true;
        u.verdict = cases[i].verdict;
        u.too_large = cases[i].too_large;
        assert_int_equal(ota_report_reason(&u, cases[i].r), cases[i].want);
        /* Without the server's header there is nothing to report. */
        u.have_header = false;
        assert_int_equal(ota_report_reason(&u, cases[i].r), OTA_REASON_NONE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_bytes, setup_f401, teardown),
        cmocka_unit_test_setup_teardown(test_no_id_no_version, setup_f401, teardown),
        cmocka_unit_test_setup_teardown(test_anonymous, setup_f401, teardown),
        cmocka_unit_test_setup_teardown(test_single_slot_refusals, setup_f401, teardown),
        cmocka_unit_test_setup_teardown(test_dual_failures, setup_f405, teardown),
        cmocka_unit_test_setup_teardown(test_installed_then_confirmed, setup_f405, teardown),
        cmocka_unit_test_setup_teardown(test_reverted_then_rejected, setup_f405, teardown),
        cmocka_unit_test_setup_teardown(test_answer_changes_nothing, setup_f405, teardown),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
