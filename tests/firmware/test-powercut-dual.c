/* SPDX-License-Identifier: MIT */
/* The power-cut sweep of the dual-slot flow (f405 map). A "life" is a
 * device powered on again and again until its application runs settled:
 *
 *   - the old application v1 asks for an update once (ota_request_update);
 *   - the server offers v2, which confirms itself (ota_confirm), or v3,
 *     which never does and resets;
 *   - the bootloader downloads, swaps, boots on trial, and reverts.
 *
 * Power fails in the middle of a chosen flash operation of the life (any:
 * the bootloader's or the application's), or while a trial application
 * runs before it confirms, once or several times. After every life:
 *
 *   - bricked: the device never settled on a running application;
 *   - mixed: it started an image that is none of v1, v2, v3 byte for byte,
 *     or the settled state does not describe the primary's bytes;
 *   - wrong_image: it settled on another image than the cuts allow: v2
 *     once confirmed, else v1 (a cut inside the request, inside the
 *     confirmation or while v2 ran unconfirmed leaves v1; v3 always v1).
 *
 * The expected image follows from where the cuts fell, never from the
 * state the core wrote. One line sums it up, and every count after
 * "bricked" must be 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <zlib.h>

#include "fake_server.h"
#include "signing.h"
#include "host.h"
#include "ota_boot.h"
#include "ota_flash.h"
#include "ota_state.h"

#define PRIMARY_ADDR 0x08020000u
#define MAX_CUTS 6
#define MAX_POWER_ONS 40
/* ThreadSanitizer slows this single-threaded sweep down twentyfold and has
 * nothing to find in it: there, every 8th double cut and every 31st cut of
 * the large images is tried; the plain and AddressSanitizer builds try
 * every double cut and every 7th large cut. */
#if defined(__SANITIZE_THREAD__)
#define STRIDE_DOUBLE 8
#define STRIDE_LARGE 31
#else
#define STRIDE_DOUBLE 1
#define STRIDE_LARGE 7
#endif

static struct ota_config cfg = {
    .recv_timeout_ms = 10, .block_retries = 3, .backoff_first_ms = 100,
    .backoff_max_ms = 1000, .attempts_with_app = 3, .trial_boots = 1,
};

enum image { IMG_NONE, IMG_V1, IMG_V2, IMG_V3, IMG_COUNT };

/* Where a cut fell: what decides the expected image. */
enum phase { PH_BOOT, PH_REQUEST, PH_CONFIRM, PH_TRIAL_RUN };

/* The statuses of the reports a life sends, as on the wire. */
enum { REP_INSTALLED, REP_CONFIRMED, REP_REVERTED, REP_FAILED, REPORT_KINDS };
static const char *const report_status[REPORT_KINDS] = {
    "status=installed&", "status=confirmed&", "status=reverted&", "status=failed&"};

struct scenario {
    const char *name;
    enum image offered;          /* what the server has */
    bool install_pending;        /* starts with v2 downloaded, the install recorded,
                                    and a state sector almost full */
};

struct life {
    const struct scenario *sc;
    long cut[MAX_CUTS];          /* flash operations (from the life's start) to cut in */
    int ncuts;
    int run_cut;                 /* power fails while the n-th trial app runs (0: never) */
    /* What happened. */
    int next_cut;
    bool cut_in[4];              /* a cut fell in each phase */
    int trial_runs;
    long ops;                    /* flash operations the life took */
    bool bricked, mixed;
    enum image settled;
    int reported[REPORT_KINDS];  /* reports the server got, by status */
};

struct totals {
    long lives, cuts, double_cuts, random, bricked, mixed, wrong_image;
    long reports, wrong_reports;
};

static uint8_t *img[IMG_COUNT];
static uint32_t img_size[IMG_COUNT];
static uint32_t img_size_small[IMG_COUNT] = {0, 5000u + 11u, 7000u + 5u, 6000u + 3u};
/* Both over one 128 KiB sector: the swap crosses a sector boundary. */
static uint32_t img_size_large[IMG_COUNT] = {0, 130000u, 150001u, 140003u};
static struct fake_server server;
static struct host_net_ops net;
static jmp_buf cut_jmp;
static long ops0;
static enum phase phase;
static bool requested;

static const struct scenario confirmed = {"update", IMG_V2, false};
static const struct scenario reverted = {"revert", IMG_V3, false};
static const struct scenario pending = {"pending", IMG_V2, true};

static void make_images(const uint32_t *sizes)
{
    for (int i = IMG_V1; i < IMG_COUNT; i++) {
        free(img[i]);
        img_size[i] = sizes[i];
        img[i] = fake_app_at(sizes[i], 100u + (uint32_t)i, PRIMARY_ADDR);
    }
}

static uint32_t crc_of(enum image i)
{
    return (uint32_t)crc32(0, img[i], img_size[i]);
}

static void write_record(struct ota_state_store *s, const struct ota_state *st)
{
    assert_int_equal(ota_state_write(s, st, false), 0);
}

/* The device of @sc before the life: v1 installed and confirmed; or, for
 * the pending scenario, v2 also verified in the secondary with its install
 * recorded after 60 other records, so the swap's records fill the sector
 * and move to the other one mid-swap. */
static void make_device(const struct scenario *sc)
{
    struct ota_state_store s;
    struct ota_state st = {.flags = OTA_STATE_APP_VALID, .app_version = 1,
                           .app_size = img_size[IMG_V1], .app_crc = crc_of(IMG_V1)};

    host_flash_reset();
    memcpy(host_area_mem(OTA_AREA_PRIMARY), img[IMG_V1], img_size[IMG_V1]);
    signing_keep(OTA_AREA_PRIMARY, img[IMG_V1], img_size[IMG_V1], 1);
    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    write_record(&s, &st);
    if (sc->install_pending) {
        for (int i = 0; i < 59; i++)
            write_record(&s, &st);
        memcpy(host_area_mem(OTA_AREA_SECONDARY), img[IMG_V2], img_size[IMG_V2]);
        signing_keep(OTA_AREA_SECONDARY, img[IMG_V2], img_size[IMG_V2], 2);
        st.flags |= OTA_STATE_SECONDARY_VALID;
        st.dl_version = 2;
        st.dl_size = img_size[IMG_V2];
        st.dl_crc = crc_of(IMG_V2);
        st.op = OTA_OP_INSTALL;
        write_record(&s, &st);
        requested = true; /* v1 asked already */
    }
    ops0 = host_flash_ops();
}

/* Which image the primary holds, byte for byte (IMG_NONE: none of them). */
static enum image primary_image(void)
{
    const uint8_t *p = host_area_mem(OTA_AREA_PRIMARY);

    for (int i = IMG_V1; i < IMG_COUNT; i++)
        if (memcmp(p, img[i], img_size[i]) == 0)
            return (enum image)i;
    return IMG_NONE;
}

static void arm_next_cut(struct life *l)
{
    long done = host_flash_ops() - ops0;

    host_flash_cut_after(-1);
    if (l->next_cut < l->ncuts)
        host_flash_cut_after(l->cut[l->next_cut] - done);
}

/* What the application @i does once started. True if the life settled. */
static bool run_app(struct life *l, enum image i)
{
    switch (i) {
    case IMG_V1:
        if (requested)
            return true;
        requested = true;
        phase = PH_REQUEST;
        ota_request_update(); /* the simulator's reset returns */
        return false;
    case IMG_V2:
        if (++l->trial_runs == l->run_cut) {
            l->cut_in[PH_TRIAL_RUN] = true;
            return false; /* power fails before it confirms */
        }
        phase = PH_CONFIRM;
        assert_int_equal(ota_confirm(), 0);
        return true;
    default:
        return false; /* v3 resets without confirming */
    }
}

/* Adds the reports the server got since it was last served to @l. */
static void tally_reports(struct life *l)
{
    for (unsigned n = 0; n < server.reports && n < 8; n++)
        for (int k = 0; k < REPORT_KINDS; k++)
            if (strstr(server.report_req[n], report_status[k]) != NULL)
                l->reported[k]++;
    server.reports = 0;
}

static void serve_offered(struct life *l)
{
    enum image o = l->sc->offered;

    tally_reports(l);
    fake_serve(&server, &net, img[o], img_size[o], (uint32_t)o);
    signing_serve(&server);
}

/* One power-on: false once the life is over (settled, bricked or mixed). */
static bool power_on(struct life *l)
{
    enum image i;
    int jumped;

    phase = PH_BOOT;
    arm_next_cut(l);
    host_power_cut = &cut_jmp;
    host_set_sleep_budget(60000);
    jumped = setjmp(cut_jmp);
    if (jumped == 1) {
        l->cut_in[phase] = true;
        l->next_cut++;
        return true;
    }
    if (jumped == 2) {
        l->bricked = true; /* waited a minute for the server: nothing to boot */
        return false;
    }
    host_clear_boot();
    serve_offered(l);
    ota_boot_main(&cfg);
    if (host_jumped_to() != PRIMARY_ADDR) {
        l->bricked = true;
        return false;
    }
    i = primary_image();
    if (i == IMG_NONE) {
        l->mixed = true;
        return false;
    }
    if (run_app(l, i)) {
        l->settled = i;
        return false;
    }
    return true;
}

/* The image a life must settle on, from where its cuts fell. */
static enum image expected(const struct life *l)
{
    if (l->sc->offered == IMG_V3)
        return IMG_V1;
    if (l->cut_in[PH_REQUEST] || l->cut_in[PH_CONFIRM] || l->cut_in[PH_TRIAL_RUN])
        return IMG_V1;
    return IMG_V2;
}

/* The settled device, powered on once more without cuts: it must start the
 * same image, confirmed, with its state describing the primary's bytes. */
static bool settled_state_holds(struct life *l)
{
    struct ota_state_store s;
    struct life again = {.sc = l->sc, .run_cut = 0};

    assert_int_equal(ota_state_load(&s, ota_port_flash_map()), 0);
    if (!(s.cur.flags & OTA_STATE_APP_VALID) || (s.cur.flags & OTA_STATE_TRIAL) ||
        s.cur.op != OTA_OP_NONE || s.cur.app_size != img_size[l->settled] ||
        s.cur.app_crc != crc_of(l->settled))
        return false;
    requested = true;
    if (power_on(&again) || again.settled != l->settled)
        return false;
    /* This boot sends what the last one left (a confirmation); one more
     * must have nothing left to send. */
    tally_reports(&again);
    for (int k = 0; k < REPORT_KINDS; k++) {
        l->reported[k] += again.reported[k];
        again.reported[k] = 0;
    }
    if (power_on(&again) || again.settled != l->settled)
        return false;
    tally_reports(&again);
    for (int k = 0; k < REPORT_KINDS; k++)
        if (again.reported[k] != 0)
            return false;
    /* A v3 reverted stays rejected: offered again, it is not fetched. */
    if (l->sc->offered == IMG_V3 && !l->cut_in[PH_REQUEST] &&
        (s.cur.rejected_crc != crc_of(IMG_V3) || server.block_requests != 0))
        return false;
    return true;
}

/* Whether the reports of @l, which settled, tell what happened, each once:
 * on v2, installed and confirmed; on v1, reverted as often as installed
 * (both once, or neither if the update never began); no failure. */
static bool reports_hold(const struct life *l)
{
    const int *r = l->reported;

    for (int k = 0; k < REPORT_KINDS; k++)
        if (r[k] > 1)
            return false;
    if (r[REP_FAILED] != 0)
        return false;
    if (l->settled == IMG_V2)
        return r[REP_INSTALLED] == 1 && r[REP_CONFIRMED] == 1 && r[REP_REVERTED] == 0;
    return r[REP_CONFIRMED] == 0 && r[REP_REVERTED] == r[REP_INSTALLED];
}

/* Runs one life with the cuts in @l; adds its outcome to @t. */
static void live(struct life *l, struct totals *t)
{
    int n = 0;

    requested = false;
    make_device(l->sc);
    server.reports = 0;
    l->next_cut = 0;
    l->settled = IMG_NONE;
    while (power_on(l))
        if (++n >= MAX_POWER_ONS) {
            l->bricked = true;
            break;
        }
    tally_reports(l);
    host_flash_cut_after(-1);
    l->ops = host_flash_ops() - ops0;
    t->lives++;
    if (l->bricked || host_flash_violation()) {
        t->bricked++;
        print_message("%s: bricked, cuts at %ld %ld ...\n", l->sc->name, l->cut[0], l->cut[1]);
    } else if (l->mixed || !settled_state_holds(l)) {
        t->mixed++;
        print_message("%s: mixed, cuts at %ld %ld ...\n", l->sc->name, l->cut[0], l->cut[1]);
    } else if (l->settled != expected(l)) {
        t->wrong_image++;
        print_message("%s: settled on v%d, expected v%d; %d cut(s) at %ld %ld, trial cut %d\n",
                      l->sc->name, l->settled, expected(l), l->ncuts, l->cut[0], l->cut[1],
                      l->run_cut);
    }
    for (int k = 0; k < REPORT_KINDS; k++)
        t->reports += l->reported[k];
    if (!l->bricked && !l->mixed && !reports_hold(l)) {
        t->wrong_reports++;
        print_message("%s: on v%d reported installed %d confirmed %d reverted %d failed %d; "
                      "cuts at %ld %ld\n", l->sc->name, l->settled, l->reported[REP_INSTALLED],
                      l->reported[REP_CONFIRMED], l->reported[REP_REVERTED],
                      l->reported[REP_FAILED], l->cut[0], l->cut[1]);
    }
}

/* Every @stride-th flash operation of the uncut life (1: every one), with
 * @doubles every (STRIDE_DOUBLE-th) operation of the recovery after each of
 * those, then the trial app's runs. */
static void sweep(const struct scenario *sc, long stride, bool doubles, struct totals *t)
{
    struct life ref = {.sc = sc};
    long total;

    live(&ref, t);
    assert_int_equal(ref.settled, sc->offered == IMG_V2 ? IMG_V2 : IMG_V1);
    total = ref.ops;
    for (long k = 1; k <= total; k += stride) {
        struct life one = {.sc = sc, .cut = {k}, .ncuts = 1};

        live(&one, t);
        t->cuts++;
        if (!doubles)
            continue;
        for (long j = 1; j <= one.ops - k; j += STRIDE_DOUBLE) {
            struct life two = {.sc = sc, .cut = {k, k + j}, .ncuts = 2};

            live(&two, t);
            t->double_cuts++;
        }
    }
    for (int r = 1; r <= 2; r++) {
        struct life run = {.sc = sc, .run_cut = r};

        live(&run, t);
        t->cuts++;
    }
}

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Lives with 1 to MAX_CUTS cuts at pseudo-random operations, in any of the
 * scenarios, some also losing power while v2 runs on trial. */
static void random_lives(int count, uint32_t seed, struct totals *t)
{
    static const struct scenario *const all[] = {&confirmed, &reverted, &pending};
    uint32_t x = seed;

    for (int n = 0; n < count; n++) {
        struct life l = {.sc = all[xorshift(&x) % 3]};
        long at = 0;

        l.ncuts = 1 + (int)(xorshift(&x) % MAX_CUTS);
        for (int c = 0; c < l.ncuts; c++) {
            at += 1 + (long)(xorshift(&x) % 60);
            l.cut[c] = at;
        }
        if (xorshift(&x) % 4 == 0)
            l.run_cut = 1 + (int)(xorshift(&x) % 2);
        live(&l, t);
        t->random++;
    }
}

static void report(const char *what, const struct totals *t)
{
    printf("powercut: layout=f405 cuts=%ld double_cuts=%ld random=%ld bricked=%ld mixed=%ld "
           "wrong_image=%ld (%s, %ld lives)\n",
           t->cuts, t->double_cuts, t->random, t->bricked, t->mixed, t->wrong_image, what,
           t->lives);
    /* A line of its own: bench/bootloader.py reads the one above as it is. */
    printf("powercut-reports: layout=f405 lives=%ld reports=%ld wrong_reports=%ld (%s)\n",
           t->lives, t->reports, t->wrong_reports, what);
    fflush(stdout);
    assert_int_equal(t->bricked, 0);
    assert_int_equal(t->mixed, 0);
    assert_int_equal(t->wrong_image, 0);
    assert_int_equal(t->wrong_reports, 0);
    assert_true(t->reports > t->lives); /* reports went out at all */
}

/* Small images (one sector of the slots): every cut, every double cut, and
 * the random lives. */
static void test_sweep(void **state)
{
    struct totals t = {0};

    (void)state;
    make_images(img_size_small);
    sweep(&confirmed, 1, true, &t);
    sweep(&reverted, 1, true, &t);
    sweep(&pending, 1, true, &t);
    random_lives(300, 20261201u, &t);
    report("images of one sector", &t);
    assert_true(t.double_cuts * STRIDE_DOUBLE > 10 * t.cuts);
}

/* Images over a sector boundary: every STRIDE_LARGE-th cut of the three
 * scenarios (a prime, so that the cuts fall on every kind of operation: the
 * full sweep of the small images covers each one), and random lives. */
static void test_sweep_two_sectors(void **state)
{
    struct totals t = {0};

    (void)state;
    make_images(img_size_large);
    sweep(&confirmed, STRIDE_LARGE, false, &t);
    sweep(&reverted, STRIDE_LARGE, false, &t);
    sweep(&pending, STRIDE_LARGE, false, &t);
    random_lives(50, 7u, &t);
    report("images of two sectors", &t);
}

static int setup(void **state)
{
    (void)state;
    host_set_quiet(true);
    host_set_virtual_sleep(true);
    host_flash_set_layout(HOST_LAYOUT_F405);
    return host_flash_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    host_flash_close();
    for (int i = 0; i < IMG_COUNT; i++)
        free(img[i]);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_sweep_two_sectors),
    };
    signing_args(argc, argv, &cfg);
    return cmocka_run_group_tests(tests, setup, teardown);
}
