/* SPDX-License-Identifier: MIT */
/* Boot state records: encoding, torn records, the two sectors taking turns,
 * and the download bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "host.h"
#include "ota_crc32.h"
#include "ota_err.h"
#include "ota_flash.h"
#include "ota_state.h"

#define SECTOR2 (HOST_FLASH_BASE + 3u * 16384u - 16384u) /* 0x08008000 */
#define SECTOR3 (HOST_FLASH_BASE + 3u * 16384u)          /* 0x0800C000 */

/* The start of state sector @which (0: A, 1: B). */
static uint8_t *state_mem(int which)
{
    return host_area_mem(which == 0 ? OTA_AREA_STATE_A : OTA_AREA_STATE_B);
}

static int setup(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_flash_set_layout(HOST_LAYOUT_F401);
    return host_flash_open(NULL);
}

/* The same tests on the dual-slot map, whose records are 64 bytes. */
static int setup_dual(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_flash_set_layout(HOST_LAYOUT_F405);
    return host_flash_open(NULL);
}

static uint32_t record_size(void)
{
    return ota_state_record_size(ota_map_dual(ota_port_flash_map()));
}

static int teardown(void **state)
{
    (void)state;
    host_flash_close();
    return 0;
}

static struct ota_state_store load(void)
{
    struct ota_state_store s;

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    return s;
}

/* The areas sit where devices in the field have them (PORTING.md). */
static void test_layout(void **state)
{
    const struct ota_flash_map *m = ota_port_flash_map();
    uint32_t addr;

    (void)state;
    assert_true(ota_area_span(m, OTA_AREA_STATE_A, 0, 16384, &addr));
    assert_int_equal(addr, SECTOR2);
    assert_false(ota_area_span(m, OTA_AREA_STATE_A, 0, 16385, &addr));
    assert_true(ota_area_span(m, OTA_AREA_STATE_B, 0, 1, &addr));
    assert_int_equal(addr, SECTOR3);
    assert_true(ota_area_span(m, OTA_AREA_PRIMARY, 0, 448 * 1024, &addr));
    assert_int_equal(addr, HOST_APP_ADDR);
    assert_false(ota_area_span(m, OTA_AREA_PRIMARY, 448 * 1024, 1, &addr));
    assert_int_equal(ota_area_size(m, OTA_AREA_SECONDARY), 0);
    assert_false(ota_map_dual(m));
    /* 12 KiB of bitmap: far more blocks than the 448 KiB app area has. */
    assert_int_equal(ota_state_max_blocks(m), 12288 * 8);
}

/* The f405 map: 384 KiB slots of 128 KiB sectors at 0x08020000 and
 * 0x08080000, the scratch sector at 0x080E0000, sector 4 in no area. */
static void test_layout_dual(void **state)
{
    const struct ota_flash_map *m = ota_port_flash_map();
    uint32_t addr, start, size;

    (void)state;
    assert_true(ota_map_dual(m));
    assert_int_equal(host_flash_size(), 1024 * 1024);
    assert_true(ota_area_span(m, OTA_AREA_PRIMARY, 0, 384 * 1024, &addr));
    assert_int_equal(addr, 0x08020000u);
    assert_true(ota_area_span(m, OTA_AREA_SECONDARY, 0, 384 * 1024, &addr));
    assert_int_equal(addr, 0x08080000u);
    assert_true(ota_area_span(m, OTA_AREA_SCRATCH, 0, 128 * 1024, &addr));
    assert_int_equal(addr, 0x080E0000u);
    assert_false(ota_area_span(m, OTA_AREA_SCRATCH, 1, 128 * 1024, &addr));
    assert_true(ota_area_sector(m, OTA_AREA_SECONDARY, 200000, &start, &size));
    assert_int_equal(start, 128 * 1024);
    assert_int_equal(size, 128 * 1024);
    assert_false(ota_area_sector(m, OTA_AREA_SECONDARY, 384 * 1024, &start, &size));
    assert_true(ota_area_span(m, OTA_AREA_STATE_A, 0, 16384, &addr));
    assert_int_equal(addr, SECTOR2);
}

/* The record layout is fixed: 12 little-endian words, the last the CRC-32 of
 * the others. */
static void test_encoding(void **state)
{
    struct ota_state st = {.seq = 7, .flags = 5, .app_version = 3, .app_size = 1000,
                           .app_crc = 0x1F52FD1C, .dl_version = 4, .dl_size = 2000,
                           .dl_crc = 0xDEADBEEF};
    struct ota_state back;
    uint8_t rec[OTA_STATE_RECORD_SIZE];
    const uint8_t expected_head[12] = {'O', 'T', 'A', 'S', 7, 0, 0, 0, 5, 0, 0, 0};

    (void)state;
    ota_state_encode(&st, false, rec);
    assert_memory_equal(rec, expected_head, sizeof(expected_head));
    assert_int_equal(rec[44] | rec[45] << 8 | rec[46] << 16 | (uint32_t)rec[47] << 24,
                     ota_crc32(0, rec, 44));
    /* The two reserved words stay zero, as devices in the field wrote them. */
    for (int i = 36; i < 44; i++)
        assert_int_equal(rec[i], 0);
    assert_true(ota_state_decode(rec, false, &back));
    assert_memory_equal(&back, &st, sizeof(st));
    assert_false(ota_state_decode(rec, true, &back)); /* not a dual-slot record */
    for (int i = 0; i < (int)sizeof(rec); i++) {
        rec[i] ^= 0x10; /* any damaged byte is detected */
        assert_false(ota_state_decode(rec, false, &back));
        rec[i] ^= 0x10;
    }
    memset(rec, 0xFF, sizeof(rec));
    assert_false(ota_state_decode(rec, false, &back));
}

/* The dual-slot record: 16 words, "OTAB", the swap, trial and rejected
 * fields after the single-slot ones, the CRC-32 of the first 60 bytes last. */
static void test_encoding_dual(void **state)
{
    struct ota_state st = {.seq = 9, .flags = 0x18, .app_version = 3, .app_size = 1000,
                           .app_crc = 0x1F52FD1C, .dl_version = 2, .dl_size = 2000,
                           .dl_crc = 0xDEADBEEF, .op = 2, .op_done = 5, .trials = 1,
                           .rejected_size = 777, .rejected_crc = 0xCAFEF00D};
    const uint8_t expected[60] = {
        'O', 'T', 'A', 'B', 9, 0, 0, 0, 0x18, 0, 0, 0, 3, 0, 0, 0, 0xE8, 3, 0, 0,
        0x1C, 0xFD, 0x52, 0x1F, 2, 0, 0, 0, 0xD0, 7, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE,
        2, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0x09, 3, 0, 0, 0x0D, 0xF0, 0xFE, 0xCA,
        0, 0, 0, 0};
    struct ota_state back;
    uint8_t rec[OTA_STATE_RECORD_SIZE_DUAL];

    (void)state;
    assert_int_equal(ota_state_record_size(true), 64);
    ota_state_encode(&st, true, rec);
    assert_memory_equal(rec, expected, sizeof(expected));
    assert_int_equal(rec[60] | rec[61] << 8 | rec[62] << 16 | (uint32_t)rec[63] << 24,
                     ota_crc32(0, rec, 60));
    assert_true(ota_state_decode(rec, true, &back));
    assert_memory_equal(&back, &st, sizeof(st));
    assert_false(ota_state_decode(rec, false, &back));
    for (int i = 0; i < (int)sizeof(rec); i++) {
        rec[i] ^= 0x01;
        assert_false(ota_state_decode(rec, true, &back));
        rec[i] ^= 0x01;
    }
}

static void test_fresh_flash(void **state)
{
    struct ota_state_store s = load();

    (void)state;
    assert_false(s.valid);
    assert_int_equal(s.active, -1);
    assert_int_equal(s.cur.flags, 0);
}

static void test_append_and_newest(void **state)
{
    struct ota_state_store s = load();
    struct ota_state st = {.flags = OTA_STATE_APP_VALID, .app_version = 1};

    (void)state;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    st.app_version = 2;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    s = load();
    assert_true(s.valid);
    assert_int_equal(s.cur.app_version, 2);
    assert_int_equal(s.cur.seq, 2);
    assert_int_equal(s.next_slot, 2);
}

/* A record cut half-way by a power failure is ignored; the one before it
 * stands, and the next append goes after the damaged slot. */
static void test_torn_record(void **state)
{
    struct ota_state_store s = load();
    struct ota_state st = {.flags = OTA_STATE_APP_VALID, .app_version = 1};
    uint32_t slot1;

    (void)state;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    st.app_version = 2;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    slot1 = record_size();
    memset(state_mem(s.active) + slot1 + 20, 0xFF, record_size() - 20); /* as if cut mid-program */
    s = load();
    assert_int_equal(s.cur.app_version, 1);
    assert_int_equal(s.next_slot, 2);
    st.app_version = 3;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    s = load();
    assert_int_equal(s.cur.app_version, 3);
    assert_int_equal(s.next_slot, 3);
}

/* A full sector hands over to the other one; the newest record wins across
 * both, and a fresh start (a new download) always takes the other sector. */
static void test_rotation(void **state)
{
    struct ota_state_store s = load();
    struct ota_state st = {.flags = OTA_STATE_APP_VALID};
    int first;

    (void)state;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    first = s.active;
    for (uint32_t i = 1; i < OTA_STATE_RECORDS_AREA / record_size(); i++) {
        st.app_version = i;
        assert_int_equal(ota_state_write(&s, &st, false), 0);
        assert_int_equal(s.active, first);
    }
    st.app_version = 1000;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    assert_int_equal(s.active, 1 - first);
    assert_int_equal(s.next_slot, 1);
    s = load();
    assert_int_equal(s.cur.app_version, 1000);
    assert_int_equal(s.active, 1 - first);

    st.app_version = 1001;
    assert_int_equal(ota_state_write(&s, &st, true), 0);
    assert_int_equal(s.active, first);
    s = load();
    assert_int_equal(s.cur.app_version, 1001);
}

/* The other sector is erased when a download starts: if that erase is cut,
 * the records of the active sector still give the state. */
static void test_partially_erased_spare(void **state)
{
    struct ota_state_store s = load();
    struct ota_state st = {.flags = OTA_STATE_APP_VALID, .app_version = 9};

    (void)state;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    st.app_version = 10;
    assert_int_equal(ota_state_write(&s, &st, true), 0); /* now in the other sector */
    memset(state_mem(1 - s.active), 0xFF, 8192); /* half erased */
    s = load();
    assert_int_equal(s.cur.app_version, 10);
}

static void test_bitmap(void **state)
{
    struct ota_state_store s = load();
    struct ota_state st = {.flags = OTA_STATE_DOWNLOADING};

    (void)state;
    assert_int_equal(ota_state_write(&s, &st, true), 0);
    assert_int_equal(ota_state_blocks_done(&s, 1000), 0);
    for (uint32_t n = 0; n < 300; n++)
        assert_int_equal(ota_state_mark_block(&s, n), 0);
    assert_int_equal(ota_state_blocks_done(&s, 1000), 300);
    assert_int_equal(ota_state_blocks_done(&s, 200), 200);
    /* A gap: the count stops at the first block not done. */
    assert_int_equal(ota_state_mark_block(&s, 301), 0);
    assert_int_equal(ota_state_blocks_done(&s, 1000), 300);
    assert_int_equal(ota_state_mark_block(&s, 300), 0);
    assert_int_equal(ota_state_blocks_done(&s, 1000), 302);
    s = load();
    assert_int_equal(ota_state_blocks_done(&s, 1000), 302);
    assert_int_equal(ota_state_mark_block(&s, ota_state_max_blocks(s.map)), OTA_ERR_STATE);
    assert_false(host_flash_violation());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_flash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_and_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partially_erased_spare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_dual, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_encoding_dual, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_append_and_newest, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_torn_record, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_partially_erased_spare, setup_dual, teardown),
        cmocka_unit_test_setup_teardown(test_bitmap, setup_dual, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
