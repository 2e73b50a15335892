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
#include "ota_state.h"

#define SECTOR2 (HOST_FLASH_BASE + 3u * 16384u - 16384u) /* 0x08008000 */
#define SECTOR3 (HOST_FLASH_BASE + 3u * 16384u)          /* 0x0800C000 */

static uint8_t *at(uint32_t addr)
{
    return host_flash_mem() + (addr - HOST_FLASH_BASE);
}

static int setup(void **state)
{
    (void)state;
    host_set_quiet(true);
    return host_flash_open(NULL);
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

    assert_int_equal(ota_state_load(&s, ota_port_flash_layout()), 0);
    return s;
}

static void test_layout(void **state)
{
    const struct ota_flash_layout *fl = ota_port_flash_layout();

    (void)state;
    assert_int_equal(ota_flash_sector_addr(fl, 2), SECTOR2);
    assert_int_equal(ota_flash_sector_addr(fl, 3), SECTOR3);
    assert_int_equal(ota_flash_sector_addr(fl, 4), HOST_APP_ADDR);
    /* 12 KiB of bitmap: far more blocks than the 448 KiB app area has. */
    assert_int_equal(ota_state_max_blocks(fl), 12288 * 8);
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
    ota_state_encode(&st, rec);
    assert_memory_equal(rec, expected_head, sizeof(expected_head));
    assert_int_equal(rec[44] | rec[45] << 8 | rec[46] << 16 | (uint32_t)rec[47] << 24,
                     ota_crc32(0, rec, 44));
    assert_true(ota_state_decode(rec, &back));
    assert_memory_equal(&back, &st, sizeof(st));
    for (int i = 0; i < (int)sizeof(rec); i++) {
        rec[i] ^= 0x10; /* any damaged byte is detected */
        assert_false(ota_state_decode(rec, &back));
        rec[i] ^= 0x10;
    }
    memset(rec, 0xFF, sizeof(rec));
    assert_false(ota_state_decode(rec, &back));
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
    slot1 = ota_flash_sector_addr(ota_port_flash_layout(), ota_port_flash_layout()->state_sector[s.active]) +
            OTA_STATE_RECORD_SIZE;
    memset(at(slot1) + 20, 0xFF, OTA_STATE_RECORD_SIZE - 20); /* as if cut mid-program */
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
    for (uint32_t i = 1; i < OTA_STATE_RECORDS_AREA / OTA_STATE_RECORD_SIZE; i++) {
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
    uint32_t spare;

    (void)state;
    assert_int_equal(ota_state_write(&s, &st, false), 0);
    st.app_version = 10;
    assert_int_equal(ota_state_write(&s, &st, true), 0); /* now in the other sector */
    spare = ota_flash_sector_addr(ota_port_flash_layout(),
                                  ota_port_flash_layout()->state_sector[1 - s.active]);
    memset(at(spare), 0xFF, 8192); /* half erased */
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
    assert_int_equal(ota_state_mark_block(&s, ota_state_max_blocks(s.fl)), OTA_ERR_STATE);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
