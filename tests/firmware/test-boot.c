/* SPDX-License-Identifier: MIT */
/* The boot decision, for every state the boot record can be in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <zlib.h>

#include "fake_server.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_state.h"
#include "ota_err.h"
#include "ota_update.h"

#define SIZE1 (5000u)
#define SIZE2 (9000u)

static const struct ota_config cfg = {
    .recv_timeout_ms = 10, .block_retries = 2, .backoff_first_ms = 100,
    .backoff_max_ms = 800, .attempts_with_app = 3,
};

static uint8_t *v1, *v2;
static struct fake_server server;
static struct host_net_ops net;

static uint8_t *app_area(void)
{
    return host_area_mem(OTA_AREA_PRIMARY);
}

static bool app_is(const uint8_t *img, uint32_t size)
{
    return memcmp(app_area(), img, size) == 0;
}

static void record(uint32_t flags, uint32_t version, const uint8_t *img, uint32_t size)
{
    struct ota_state_store s;
    struct ota_state st = {.flags = flags, .app_version = version, .app_size = size,
                           .app_crc = img ? (uint32_t)crc32(0, img, size) : 0};

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    assert_int_equal(ota_state_write(&s, &st, false), 0);
}

static void install(const uint8_t *img, uint32_t size, uint32_t version, uint32_t extra_flags)
{
    memcpy(app_area(), img, size);
    record(OTA_STATE_APP_VALID | extra_flags, version, img, size);
}

static void serve(const uint8_t *img, uint32_t size, uint32_t version)
{
    fake_serve(&server, &net, img, size, version);
}

static void boot(void)
{
    host_clear_boot();
    ota_boot_main(&cfg);
}

static int setup_all(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_set_virtual_sleep(true);
    v1 = fake_app(SIZE1, 11);
    v2 = fake_app(SIZE2, 22);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    free(v1);
    free(v2);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    host_flash_set_layout(HOST_LAYOUT_F401);
    return host_flash_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    host_flash_close();
    return 0;
}

static uint32_t state_flags(void)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    return s.cur.flags;
}

/* Factory fresh: no record, empty application area. */
static void test_factory_fresh(void **state)
{
    (void)state;
    serve(v2, SIZE2, 2);
    boot();
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(state_flags(), OTA_STATE_APP_VALID);
}

/* A valid application and no request: boot it without touching the network. */
static void test_valid_app_boots_offline(void **state)
{
    long ops;

    (void)state;
    install(v1, SIZE1, 1, 0);
    serve(v2, SIZE2, 2);
    ops = host_flash_ops();
    boot();
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_int_equal(server.opens, 0);
    assert_int_equal(host_flash_ops(), ops);
}

/* Requested, but the server has the same or an older version: no block is
 * fetched, the application is not touched, the request is cleared. */
static void test_requested_not_newer(void **state)
{
    (void)state;
    for (uint32_t server_version = 0; server_version <= 1; server_version++) {
        host_flash_open(NULL);
        install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED);
        serve(v2, SIZE2, server_version);
        boot();
        assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
        assert_true(app_is(v1, SIZE1));
        assert_int_equal(server.block_requests, 0);
        assert_int_equal(state_flags(), OTA_STATE_APP_VALID);
    }
}

static void test_requested_newer(void **state)
{
    (void)state;
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED);
    serve(v2, SIZE2, 2);
    boot();
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(server.block_requests, (SIZE2 + 255) / 256);
}

/* The application requests an update through the documented call. */
static void test_request_call(void **state)
{
    (void)state;
    install(v1, SIZE1, 1, 0);
    host_clear_boot();
    assert_int_equal(ota_request_update(), 0);
    assert_int_equal(host_resets(), 1);
    assert_int_equal(state_flags(), OTA_STATE_APP_VALID | OTA_STATE_UPDATE_REQUESTED);
}

/* Requested, server down: the installed application runs after the bounded
 * attempts, backing off in between. */
static void test_requested_server_down(void **state)
{
    uint64_t slept = host_slept_ms();

    (void)state;
    install(v1, SIZE1, 1, OTA_STATE_UPDATE_REQUESTED);
    serve(v2, SIZE2, 2);
    server.down_opens = 1000000;
    boot();
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_true(app_is(v1, SIZE1));
    assert_int_equal(host_slept_ms() - slept, 100 + 200); /* two waits between three tries */
}

/* The application's bytes no longer match the recorded CRC: not booted;
 * replaced by the server's image, even an older one. */
static void test_corrupted_app(void **state)
{
    (void)state;
    install(v1, SIZE1, 5, 0);
    app_area()[1000] ^= 1;
    serve(v2, SIZE2, 2);
    boot();
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
}

/* An image whose vector table cannot be an application's is never jumped to. */
static void test_implausible_vector_table(void **state)
{
    uint8_t *bad = fake_app(SIZE1, 33);

    (void)state;
    fake_le32(bad, 0x10000000u); /* stack pointer outside the RAM */
    install(bad, SIZE1, 1, 0);
    serve(v2, SIZE2, 2);
    boot();
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    /* Served with the bad table too: it is installed, never started. */
    host_flash_open(NULL);
    serve(bad, SIZE1, 3);
    server.down_opens = 0;
    host_clear_boot();
    {
        struct ota_state_store s;
        struct ota_update u;

        assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
        ota_update_init(&u, &cfg, &s);
        assert_int_equal(ota_update_run(&u, false, 0), OTA_UPDATE_INSTALLED);
    }
    assert_false(ota_app_plausible(ota_port_flash_map(), ota_port_ram()));
    free(bad);
}

/* Writes a vector table and says whether the core would start it. */
static bool plausible(uint32_t sp, uint32_t pc)
{
    fake_le32(app_area(), sp);
    fake_le32(app_area() + 4, pc);
    return ota_app_plausible(ota_port_flash_map(), ota_port_ram());
}

/* The bounds of the vector table check: a 96 KiB RAM at 0x20000000 and the
 * application area 0x08010000-0x0807FFFF. */
static void test_vector_table_bounds(void **state)
{
    (void)state;
    assert_true(plausible(0x20018000u, 0x08010101u));  /* stack at the end of the RAM */
    assert_true(plausible(0x20000004u, 0x0807FFFFu));  /* last Thumb address of the area */
    assert_false(plausible(0x20000000u, 0x08010101u)); /* the RAM's base: no stack */
    assert_false(plausible(0x20018004u, 0x08010101u)); /* past the RAM */
    assert_false(plausible(0x20017FFEu, 0x08010101u)); /* not word-aligned */
    assert_false(plausible(0x20018000u, 0x08010100u)); /* no Thumb bit */
    assert_false(plausible(0x20018000u, 0x08080001u)); /* past the area */
    assert_false(plausible(0x20018000u, 0x08000101u)); /* in the bootloader */
    assert_false(plausible(0xFFFFFFFFu, 0xFFFFFFFFu)); /* erased */
}

/* The newest record torn: the one before it decides. */
static void test_torn_newest_record(void **state)
{
    struct ota_state_store s;
    uint32_t slot;

    (void)state;
    install(v1, SIZE1, 1, 0);
    record(OTA_STATE_APP_VALID | OTA_STATE_UPDATE_REQUESTED, 1, v1, SIZE1);
    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    slot = (s.next_slot - 1) * OTA_STATE_RECORD_SIZE;
    host_area_mem(s.active == 0 ? OTA_AREA_STATE_A : OTA_AREA_STATE_B)[slot + 30] ^= 0x40;
    serve(v2, SIZE2, 2);
    boot();
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_true(app_is(v1, SIZE1)); /* the request was lost with its record */
    assert_int_equal(server.opens, 0);
}

/* Garbage in both state sectors (no valid record at all): no application
 * is trusted; the device updates. */
static void test_garbage_state(void **state)
{
    (void)state;
    memcpy(app_area(), v1, SIZE1);
    memset(host_area_mem(OTA_AREA_STATE_A), 0x5A, 4096);
    memset(host_area_mem(OTA_AREA_STATE_B), 0x5A, 4096);
    serve(v2, SIZE2, 2);
    boot();
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(host_jumped_to(), HOST_APP_ADDR);
    assert_false(host_flash_violation());
}

/* A download in progress resumes where the bitmap says. */
static void test_downloading_resumes(void **state)
{
    struct ota_state_store s;
    struct ota_state st = {.flags = OTA_STATE_DOWNLOADING, .dl_version = 2, .dl_size = SIZE2,
                           .dl_crc = (uint32_t)crc32(0, v2, SIZE2)};

    (void)state;
    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    assert_int_equal(ota_state_write(&s, &st, true), 0);
    /* The first 64 KiB sector erased and 10 blocks written and marked. */
    memset(app_area(), 0xFF, 65536);
    memcpy(app_area(), v2, 10 * 256);
    for (uint32_t n = 0; n < 10; n++)
        assert_int_equal(ota_state_mark_block(&s, n), 0);
    serve(v2, SIZE2, 2);
    boot();
    assert_true(app_is(v2, SIZE2));
    assert_int_equal(server.first_block, 10);
    assert_int_equal(server.block_requests, (SIZE2 + 255) / 256 - 10);
}

/* A name too long for the request buffer is refused, never cut: a shorter
 * name could be another firmware. */
static void test_name_too_long(void **state)
{
    char name[81];
    struct ota_state_store s;
    struct ota_update u;

    (void)state;
    memset(name, 'n', 80);
    name[80] = '\0';
    host_set_server("h", 1, name);
    serve(v2, SIZE2, 2);
    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    ota_update_init(&u, &cfg, &s);
    assert_int_equal(ota_update_run(&u, false, 0), OTA_ERR_PROTOCOL);
    assert_int_equal(server.opens, 0);
    host_set_server("h", 1, "firmware");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_factory_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_app_boots_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requested_not_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requested_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requested_server_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implausible_vector_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vector_table_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_newest_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downloading_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
