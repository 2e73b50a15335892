/* SPDX-License-Identifier: MIT */
/* The fleet registry: states and their events, downloads, reports and their
 * refusals, eviction, the store's drain and restore, the readers, and the
 * block path from several threads. Times are made up: each test says when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"
#include "fleet_priv.h" /* fleet_hash, to find addresses that share a set */

#define FW "app"
#define ADDR "192.0.2.7"

struct fixture {
    struct fleet *f;
    struct fleet_tag *tag;
    unsigned done;
    char done_id[FLEET_ID_MAX + 1];
    uint64_t done_ms;
    uint32_t done_blocks;
};

/* The callback runs on whichever thread finished the download (several at
 * once in test_threads). */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_done(void *cls, const struct fleet_done *d)
{
    struct fixture *x = cls;

    pthread_mutex_lock(&done_lock);
    x->done++;
    snprintf(x->done_id, sizeof(x->done_id), "%s", d->device->id);
    x->done_ms = d->duration_ms;
    x->done_blocks = d->device->blocks_served;
    pthread_mutex_unlock(&done_lock);
}

static struct fixture *make(bool track, unsigned max, unsigned history)
{
    struct fixture *x = calloc(1, sizeof(*x));
    struct fleet_options o = {.track = track, .max_devices = max, .history = history,
                              .stall_seconds = 60};

    assert_non_null(x);
    assert_int_equal(fleet_new(&o, &x->f), 0);
    fleet_on_done(x->f, on_done, x);
    return x;
}

static int setup(void **state)
{
    *state = make(true, 1000, 100);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *x = *state;

    fleet_tag_free(x->tag);
    fleet_free(x->f);
    free(x);
    return 0;
}

static int header(struct fixture *x, const char *id, uint32_t offered, bool has, uint32_t inst,
                  uint32_t blocks, int64_t now)
{
    return fleet_header(x->f, &x->tag, id, ADDR, FW, strlen(FW), offered, has, inst, blocks,
                        now);
}

static void block(struct fixture *x, uint32_t n, uint32_t blocks, int64_t now)
{
    fleet_block(x->f, &x->tag, ADDR, FW, strlen(FW), n, blocks, 100, now);
}

static struct fleet_device get(struct fixture *x, const char *id, struct fleet_event *ev,
                               size_t max, size_t *nev)
{
    struct fleet_device d;
    size_t n;

    assert_int_equal(fleet_get(x->f, id, &d, ev, max, nev != NULL ? nev : &n), 0);
    return d;
}

static void assert_state_events(struct fixture *x, const char *id, const enum fleet_state *want,
                                size_t nwant)
{
    struct fleet_event ev[16];
    size_t n;

    get(x, id, ev, 16, &n);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_false(ev[i].is_report);
        assert_int_equal(ev[i].state, want[i]);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(fleet_state_name(FLEET_UP_TO_DATE), "up-to-date");
    assert_string_equal(fleet_state_name(FLEET_STALLED), "stalled");
    assert_string_equal(fleet_status_name(FLEET_REPORT_CONFIRMED), "confirmed");
    assert_string_equal(fleet_reason_name(FLEET_REASON_TOO_LARGE), "too-large");
    assert_int_equal(fleet_status_parse("reverted", 8), FLEET_REPORT_REVERTED);
    assert_int_equal(fleet_status_parse("revert", 6), -1);
    assert_int_equal(fleet_status_parse("installedx", 9), FLEET_REPORT_INSTALLED);
    assert_int_equal(fleet_reason_parse("signature", 9), FLEET_REASON_SIGNATURE);
    assert_int_equal(fleet_reason_parse("", 0), -1);
    assert_int_equal(fleet_reason_parse("bogus", 5), -1);
}

static void test_checking_and_up_to_date(void **state)
{
    struct fixture *x = *state;
    struct fleet_counts c;
    struct fleet_device d;

    assert_int_equal(header(x, "dev-1", 7, false, 0, 4, 1000), 0);
    d = get(x, "dev-1", NULL, 0, NULL);
    assert_int_equal(d.state, FLEET_CHECKING);
    assert_false(d.by_address);
    assert_string_equal(d.address, ADDR);
    assert_string_equal(d.firmware, FW);
    assert_int_equal(d.offered, 7);
    assert_int_equal(d.first_seen_ms, 1000);
    /* Older than offered: still checking. */
    assert_int_equal(header(x, "dev-1", 7, true, 6, 4, 2000), 0);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_CHECKING);
    assert_int_equal(header(x, "dev-1", 7, true, 7, 4, 3000), 0);
    d = get(x, "dev-1", NULL, 0, NULL);
    assert_int_equal(d.state, FLEET_UP_TO_DATE);
    assert_true(d.has_installed);
    assert_int_equal(d.installed, 7);
    assert_int_equal(d.last_seen_ms, 3000);
    assert_int_equal(d.first_seen_ms, 1000);
    assert_state_events(x, "dev-1", (enum fleet_state[]){FLEET_CHECKING, FLEET_UP_TO_DATE}, 2);
    fleet_counts(x->f, &c);
    assert_int_equal(c.devices[FLEET_UP_TO_DATE], 1);
    assert_int_equal(c.devices[FLEET_CHECKING], 0);
    /* Newer than offered counts as up to date too. */
    assert_int_equal(header(x, "dev-2", 7, true, 9, 4, 3000), 0);
    assert_int_equal(get(x, "dev-2", NULL, 0, NULL).state, FLEET_UP_TO_DATE);
}

static void test_download(void **state)
{
    struct fixture *x = *state;
    struct fleet_counts c;
    struct fleet_device d;

    header(x, "dev-1", 7, false, 0, 4, 1000);
    block(x, 0, 4, 1100);
    d = get(x, "dev-1", NULL, 0, NULL);
    assert_int_equal(d.state, FLEET_DOWNLOADING);
    assert_int_equal(d.download_started_ms, 1100);
    block(x, 1, 4, 1200);
    block(x, 1, 4, 1300); /* a repeat counts once */
    block(x, 2, 4, 1400);
    d = get(x, "dev-1", NULL, 0, NULL);
    assert_int_equal(d.blocks_served, 3);
    assert_int_equal(d.blocks_total, 4);
    assert_int_equal(d.bytes, 400);
    assert_int_equal(x->done, 0);
    block(x, 3, 4, 3100);
    d = get(x, "dev-1", NULL, 0, NULL);
    assert_int_equal(d.state, FLEET_DOWNLOADED);
    assert_int_equal(d.blocks_served, 4);
    assert_int_equal(d.bytes, 500);
    assert_int_equal(d.rate, 500 * 1000 / 2000);
    assert_int_equal(x->done, 1);
    assert_string_equal(x->done_id, "dev-1");
    assert_int_equal(x->done_ms, 2000);
    assert_int_equal(x->done_blocks, 4);
    /* A repeat after the end begins no new download and finishes none. */
    block(x, 3, 4, 3200);
    assert_int_equal(x->done, 1);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_DOWNLOADED);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 1);
    assert_int_equal(c.downloads_completed, 1);
    assert_int_equal(c.devices[FLEET_DOWNLOADED], 1);
    assert_int_equal(c.devices[FLEET_DOWNLOADING], 0);
    assert_state_events(x, "dev-1",
                        (enum fleet_state[]){FLEET_CHECKING, FLEET_DOWNLOADING, FLEET_DOWNLOADED},
                        3);
    /* Asking again begins a new download, from no block served. */
    header(x, "dev-1", 7, false, 0, 4, 4000);
    block(x, 0, 4, 4100);
    d = get(x, "dev-1", NULL, 0, NULL);
    assert_int_equal(d.blocks_served, 1);
    assert_int_equal(d.download_started_ms, 4100);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 2);
}

static void test_resume_and_reset(void **state)
{
    struct fixture *x = *state;
    struct fleet_counts c;

    header(x, "dev-1", 7, false, 0, 8, 1000);
    block(x, 0, 8, 1000);
    block(x, 1, 8, 1000);
    /* Back with a new header for the same version: the download resumes. */
    header(x, "dev-1", 7, false, 0, 8, 2000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_CHECKING);
    block(x, 2, 8, 2000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 3);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 1);
    /* Another version offered: the blocks served are forgotten. */
    header(x, "dev-1", 8, false, 0, 8, 3000);
    block(x, 2, 8, 3000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 1);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).download_started_ms, 3000);
    /* Another block count (the image changed) in the middle: likewise. */
    block(x, 0, 6, 3100);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 1);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_total, 6);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 3);
    /* Another firmware on the same connection, same block count: another
     * download too. */
    block(x, 1, 6, 3150);
    fleet_block(x->f, &x->tag, ADDR, "other", 5, 2, 6, 100, 3200);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 1);
    assert_string_equal(get(x, "dev-1", NULL, 0, NULL).firmware, "other");
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 4);
    assert_int_equal(c.downloads_completed, 0);
}

static void test_huge_image(void **state)
{
    struct fixture *x = *state;
    const uint32_t blocks = (1u << 20) + 1;

    /* Too many blocks for a bitmap: blocks are counted, repeats too. */
    header(x, "dev-1", 7, false, 0, blocks, 1000);
    block(x, 0, blocks, 1000);
    block(x, 0, blocks, 1000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 2);
    for (uint32_t n = 2; n < blocks - 1; n++)
        block(x, n, blocks, 2000);
    assert_int_equal(x->done, 0);
    block(x, blocks - 1, blocks, 3000);
    assert_int_equal(x->done, 1);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_DOWNLOADED);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, blocks);
}

static void test_stalled(void **state)
{
    struct fixture *x = *state;
    struct fleet_counts c;

    header(x, "dev-1", 7, false, 0, 4, 1000);
    block(x, 0, 4, 1000);
    fleet_tick(x->f, 1000 + 59999);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_DOWNLOADING);
    fleet_tick(x->f, 1000 + 60000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_STALLED);
    fleet_counts(x->f, &c);
    assert_int_equal(c.devices[FLEET_STALLED], 1);
    assert_int_equal(c.devices[FLEET_DOWNLOADING], 0);
    /* A checking device does not stall. */
    struct fleet_tag *other = NULL;
    fleet_header(x->f, &other, "dev-2", ADDR, FW, 3, 7, false, 0, 4, 1000);
    fleet_tag_free(other);
    fleet_tick(x->f, 1000000);
    assert_int_equal(get(x, "dev-2", NULL, 0, NULL).state, FLEET_CHECKING);
    /* A block again: downloading, the same download. */
    block(x, 1, 4, 70000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_DOWNLOADING);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 2);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 1);
    assert_int_equal(c.devices[FLEET_STALLED], 0);
    assert_state_events(x, "dev-1",
                        (enum fleet_state[]){FLEET_CHECKING, FLEET_DOWNLOADING, FLEET_STALLED,
                                             FLEET_DOWNLOADING},
                        4);
}

static void test_tick_each_second(void **state)
{
    struct fixture *x = *state;
    struct fleet_tag *tags[10] = {0};
    char id[8];

    /* Ten downloads whose last blocks were a second apart: each stalls at
     * its own tick, also when ticks look only at what changed. */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "d%d", i);
        fleet_header(x->f, &tags[i], id, ADDR, FW, 3, 1, false, 0, 4, 0);
        fleet_block(x->f, &tags[i], ADDR, FW, 3, 0, 4, 1, 1000 * i + 500);
    }
    for (int64_t t = 50000; t <= 75000; t += 1000) {
        fleet_tick(x->f, t);
        for (int i = 0; i < 10; i++) {
            snprintf(id, sizeof(id), "d%d", i);
            assert_int_equal(get(x, id, NULL, 0, NULL).state,
                             1000 * i + 500 <= t - 60000 ? FLEET_STALLED : FLEET_DOWNLOADING);
        }
    }
    /* The clock went back: every device is looked at again. */
    fleet_block(x->f, &tags[0], ADDR, FW, 3, 1, 4, 1, 1000);
    fleet_tick(x->f, 61000);
    assert_int_equal(get(x, "d0", NULL, 0, NULL).state, FLEET_STALLED);
    for (int i = 0; i < 10; i++)
        fleet_tag_free(tags[i]);
}

static void test_image(void **state)
{
    struct fixture *x = *state;

    header(x, "dev-1", 7, false, 0, 4, 1000);
    fleet_image(x->f, &x->tag, ADDR, FW, strlen(FW), 600, 1000, 1000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_DOWNLOADING);
    assert_int_equal(x->done, 0);
    fleet_image(x->f, &x->tag, ADDR, FW, strlen(FW), 400, 1000, 5000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).state, FLEET_DOWNLOADED);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).bytes, 1000);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).rate, 250);
    assert_int_equal(x->done, 1);
    assert_int_equal(x->done_ms, 4000);
}

static void test_long_name(void **state)
{
    struct fixture *x = *state;
    char name[300];

    memset(name, 'n', sizeof(name));
    fleet_header(x->f, &x->tag, "dev-1", ADDR, name, sizeof(name), 1, false, 0, 2, 0);
    fleet_block(x->f, &x->tag, ADDR, name, sizeof(name), 0, 2, 1, 0);
    assert_int_equal(strlen(get(x, "dev-1", NULL, 0, NULL).firmware), FLEET_NAME_MAX);
    assert_int_equal(get(x, "dev-1", NULL, 0, NULL).blocks_served, 1);
}

static void test_by_address(void **state)
{
    struct fixture *x = *state;
    struct fleet_device d;

    /* Blocks with no header on the connection: the device of the address,
     * and the connection now carries it. */
    block(x, 0, 2, 1000);
    assert_non_null(x->tag);
    d = get(x, ADDR, NULL, 0, NULL);
    assert_true(d.by_address);
    assert_string_equal(d.id, ADDR);
    assert_int_equal(d.state, FLEET_DOWNLOADING);
    fleet_block(x->f, &x->tag, "198.51.100.1", FW, strlen(FW), 1, 2, 100, 1100);
    assert_int_equal(get(x, ADDR, NULL, 0, NULL).state, FLEET_DOWNLOADED);
    assert_int_equal(fleet_get(x->f, "198.51.100.1", &d, NULL, 0, &(size_t){0}), -ENOENT);
}

static void test_ids(void **state)
{
    struct fixture *x = *state;
    char id64[65], id65[66];
    struct fleet_device d;

    memset(id64, 'a', 64);
    id64[64] = 0;
    memset(id65, 'b', 65);
    id65[65] = 0;
    assert_int_equal(header(x, id64, 1, false, 0, 1, 1000), 0);
    assert_string_equal(get(x, id64, NULL, 0, NULL).id, id64);
    assert_int_equal(header(x, "0123ABCDEF:x_y-z.w", 1, false, 0, 1, 1000), 0);
    get(x, "0123ABCDEF:x_y-z.w", NULL, 0, NULL);
    const char *bad[] = {id65, "", "a b", "a/b", "caf\xc3\xa9", "a\"b", "a%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(header(x, bad[i], 1, false, 0, 1, 2000 + (int64_t)i), -EINVAL);
        assert_int_equal(fleet_get(x->f, bad[i], &d, NULL, 0, &(size_t){0}), -ENOENT);
        d = get(x, ADDR, NULL, 0, NULL);
        assert_true(d.by_address);
        assert_int_equal(d.last_seen_ms, 2000 + (int64_t)i);
    }
}

static struct fleet_report_result report(struct fixture *x, const char *id, const char *body,
                                         bool known, int64_t now)
{
    struct fleet_report_result r;

    fleet_report(x->f, &x->tag, id, ADDR, FW, strlen(FW), known, body, strlen(body), now, &r);
    return r;
}

static void test_report_accepted(void **state)
{
    struct fixture *x = *state;
    struct fleet_report_result r;
    struct fleet_event ev[8];
    struct fleet_counts c;
    struct fleet_device d;
    size_t n;

    header(x, "dev-1", 7, false, 0, 1, 1000);
    block(x, 0, 1, 1100);
    /* Any order, unknown keys ignored, %XX and '+' decoded. */
    r = report(x, NULL, "extra=x+y&reason=&version=7&status=%69nstalled&more", true, 2000);
    assert_int_equal(r.status, 400); /* an empty reason is not one */
    r = report(x, NULL, "extra=x+y&version=7&status=%69nstalled&more", true, 2000);
    assert_int_equal(r.status, 204);
    assert_string_equal(r.id, "dev-1"); /* the connection's device */
    assert_true(r.event.is_report);
    assert_int_equal(r.event.status, FLEET_REPORT_INSTALLED);
    assert_int_equal(r.event.reason, FLEET_REASON_NONE);
    assert_int_equal(r.event.version, 7);
    d = get(x, "dev-1", ev, 8, &n);
    assert_int_equal(d.state, FLEET_UP_TO_DATE);
    assert_true(d.has_installed);
    assert_int_equal(d.installed, 7);
    assert_true(d.has_report);
    assert_int_equal(d.last_report.status, FLEET_REPORT_INSTALLED);
    assert_int_equal(d.last_report.at_ms, 2000);
    assert_int_equal(n, 5); /* checking, downloading, downloaded, the report, up-to-date */
    assert_true(ev[3].is_report);
    assert_false(ev[4].is_report);
    assert_int_equal(ev[4].state, FLEET_UP_TO_DATE);
    /* Installed another version than offered: no state change. */
    r = report(x, "dev-2", "status=installed&version=6", true, 2100);
    assert_int_equal(r.status, 204);
    d = get(x, "dev-2", NULL, 0, NULL);
    assert_int_equal(d.installed, 6);
    assert_int_equal(d.state, FLEET_CHECKING);
    /* Version 0 installed by a device never offered anything (offered
     * reads 0): not up to date with anything. */
    assert_int_equal(report(x, "dev-0", "status=confirmed&version=0", true, 2150).status, 204);
    d = get(x, "dev-0", NULL, 0, NULL);
    assert_int_equal(d.state, FLEET_CHECKING);
    assert_true(d.has_installed);
    assert_int_equal(d.installed, 0);
    /* A failure with a reason, for a device named in the body. */
    fleet_tag_free(x->tag);
    x->tag = NULL;
    r = report(x, NULL, "id=%41b-3&status=failed&reason=signature", true, 2200);
    assert_int_equal(r.status, 204);
    assert_string_equal(r.id, "Ab-3");
    d = get(x, "Ab-3", NULL, 0, NULL);
    assert_int_equal(d.last_report.status, FLEET_REPORT_FAILED);
    assert_int_equal(d.last_report.reason, FLEET_REASON_SIGNATURE);
    assert_false(d.has_installed);
    /* Neither id nor tag: the address. */
    fleet_tag_free(x->tag);
    x->tag = NULL;
    assert_int_equal(report(x, NULL, "status=reverted&reason=timeout", true, 2300).status, 204);
    assert_int_equal(get(x, ADDR, NULL, 0, NULL).last_report.status, FLEET_REPORT_REVERTED);
    fleet_counts(x->f, &c);
    assert_int_equal(c.reports[FLEET_REPORT_INSTALLED], 2);
    assert_int_equal(c.reports[FLEET_REPORT_FAILED], 1);
    assert_int_equal(c.reports[FLEET_REPORT_REVERTED], 1);
    assert_int_equal(c.reports[FLEET_REPORT_CONFIRMED], 1);
}

static void test_report_refused(void **state)
{
    struct fixture *x = *state;
    char big[1100];
    struct fleet_report_result r;
    struct fleet_counts c;
    struct {
        const char *id, *body;
        bool known;
        unsigned status;
        const char *message;
    } cases[] = {
        {NULL, "status=installed", false, 404, "no such firmware"},
        {NULL, "status=bogus", true, 400, "unknown status 'bogus'"},
        {NULL, "status=%ff%27x", true, 400, "unknown status '??x'"},
        {NULL, "version=3", true, 400, "no status"},
        {NULL, "", true, 400, "no status"},
        {NULL, "status=failed&reason=gremlins", true, 400, "unknown reason 'gremlins'"},
        {NULL, "status=installed&version=x7", true, 400, "bad version 'x7'"},
        {NULL, "status=installed&version=-1", true, 400, "bad version '-1'"},
        {NULL, "status=installed&version=4294967296", true, 400, "bad version '4294967296'"},
        {NULL, "status=installed&version=", true, 400, "bad version ''"},
        {NULL, "status=installed&id=a/b", true, 400, "bad id 'a/b'"},
        {NULL, "status=installed&status=%4", true, 400, "malformed value of 'status'"},
        {"a b", "status=installed", true, 400, "bad X-Device-Id"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        r = report(x, cases[i].id, cases[i].body, cases[i].known, 1000 + (int64_t)i * 200);
        assert_int_equal(r.status, cases[i].status);
        assert_string_equal(r.message, cases[i].message);
    }
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    memcpy(big, "status=installed&x=", 19);
    r = report(x, NULL, big, true, 5000);
    assert_int_equal(r.status, 413);
    big[1024] = 0; /* exactly 1024 bytes is fine */
    assert_int_equal(report(x, NULL, big, true, 5200).status, 204);
    fleet_counts(x->f, &c);
    assert_int_equal(c.reports[FLEET_REPORT_INSTALLED], 1);
}

static void test_report_budget(void **state)
{
    struct fixture *x = *state;
    struct fleet_report_result r;

    /* A burst of 20 at once, then one every 100 ms. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(report(x, NULL, "status=verified", true, 60000).status, 204);
    r = report(x, NULL, "status=verified", true, 60000);
    assert_int_equal(r.status, 429);
    assert_true(r.log);
    assert_int_equal(r.suppressed, 0);
    assert_string_equal(r.message, "too many reports");
    r = report(x, NULL, "status=verified", true, 60099);
    assert_int_equal(r.status, 429);
    assert_false(r.log);
    assert_int_equal(report(x, NULL, "status=verified", true, 60100).status, 204);
    assert_int_equal(report(x, NULL, "status=verified", true, 60100).status, 429);
    /* Another address has its own budget. */
    fleet_report(x->f, NULL, NULL, "192.0.2.8", FW, strlen(FW), true, "status=failed", 13,
                 60100, &r);
    assert_int_equal(r.status, 204);
    /* Other refusals of the same minute are not logged either. */
    r = report(x, NULL, "status=bogus", true, 61000);
    assert_int_equal(r.status, 400);
    assert_false(r.log);
    /* The next minute: logged, with the count of those that were not. */
    r = report(x, NULL, "status=bogus", true, 120000);
    assert_int_equal(r.status, 400);
    assert_true(r.log);
    assert_int_equal(r.suppressed, 3);
    r = report(x, NULL, "status=bogus", true, 120001);
    assert_false(r.log);
}

static void test_report_budget_shared_set(void **state)
{
    struct fixture *x = *state;
    struct fleet_report_result r;
    char others[3][FLEET_ADDRESS_MAX];
    unsigned found = 0;

    /* Three addresses in the same set of the budget table as ADDR (1024
     * slots in 256 sets of 4, by fleet_hash), even in the same slot of it
     * were it one set of 1024. */
    for (unsigned i = 0; found < 3 && i < 1000000; i++) {
        char a[FLEET_ADDRESS_MAX];
        snprintf(a, sizeof(a), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
        if (fleet_hash(a, strlen(a)) % 1024 == fleet_hash(ADDR, strlen(ADDR)) % 1024)
            snprintf(others[found++], sizeof(others[0]), "%s", a);
    }
    assert_int_equal(found, 3);
    for (int i = 0; i < 20; i++)
        report(x, NULL, "status=verified", true, 1000);
    assert_int_equal(report(x, NULL, "status=verified", true, 1000).status, 429);
    for (unsigned i = 0; i < 3; i++) {
        fleet_report(x->f, NULL, NULL, others[i], FW, 3, true, "status=failed", 13, 1000, &r);
        assert_int_equal(r.status, 204);
    }
    /* ADDR's bucket is still empty. */
    assert_int_equal(report(x, NULL, "status=verified", true, 1000).status, 429);
}

struct drained {
    unsigned n;
    char ids[16][FLEET_ID_MAX + 1];
    size_t nevents[16];
    int64_t first_seen[16];
    struct fleet_event last[16];
};

static void on_drain(void *cls, const struct fleet_device *d, const struct fleet_event *ev,
                     size_t nev)
{
    struct drained *r = cls;

    assert_true(r->n < 16);
    snprintf(r->ids[r->n], sizeof(r->ids[0]), "%s", d->id);
    r->nevents[r->n] = nev;
    r->first_seen[r->n] = d->first_seen_ms;
    if (nev > 0)
        r->last[r->n] = ev[nev - 1];
    r->n++;
}

static void test_eviction(void **state)
{
    struct fixture *x = make(true, 3, 100);
    struct fleet_tag *held = NULL;
    struct fleet_counts c;
    struct fleet_device d;

    (void)state;
    fleet_header(x->f, &held, "a", ADDR, FW, 3, 1, false, 0, 2, 1000);
    header(x, "b", 1, false, 0, 2, 2000);
    header(x, "c", 1, false, 0, 2, 3000);
    header(x, "a", 1, false, 0, 2, 4000); /* a is now the most recent */
    header(x, "d", 1, false, 0, 2, 5000);
    assert_int_equal(fleet_get(x->f, "b", &d, NULL, 0, &(size_t){0}), -ENOENT);
    get(x, "a", NULL, 0, NULL);
    get(x, "c", NULL, 0, NULL);
    get(x, "d", NULL, 0, NULL);
    fleet_counts(x->f, &c);
    assert_int_equal(c.devices_evicted, 1);
    assert_int_equal(c.devices[FLEET_CHECKING], 3);
    /* "a", still tagged, goes next: its tag still works. */
    header(x, "c", 1, false, 0, 2, 6000);
    header(x, "d", 1, false, 0, 2, 6500);
    header(x, "e", 1, false, 0, 2, 7000);
    assert_int_equal(fleet_get(x->f, "a", &d, NULL, 0, &(size_t){0}), -ENOENT);
    fleet_block(x->f, &held, ADDR, FW, 3, 0, 2, 10, 8000);
    fleet_block(x->f, &held, ADDR, FW, 3, 1, 2, 10, 9000);
    assert_int_equal(x->done, 1);
    assert_string_equal(x->done_id, "a");
    fleet_counts(x->f, &c);
    assert_int_equal(c.devices_evicted, 2);
    /* Evicted devices are not counted, downloading or not. */
    assert_int_equal(c.devices[FLEET_CHECKING], 3);
    assert_int_equal(c.devices[FLEET_DOWNLOADED], 0);
    assert_int_equal(c.downloads_completed, 1);
    /* Asked for again: a new entry, evicting the least recent (c). */
    header(x, "a", 1, false, 0, 2, 10000);
    d = get(x, "a", NULL, 0, NULL);
    assert_int_equal(d.first_seen_ms, 10000);
    assert_int_equal(d.state, FLEET_CHECKING);
    assert_int_equal(fleet_get(x->f, "c", &d, NULL, 0, &(size_t){0}), -ENOENT);
    /* The store gets every device's last changes, evicted ones too, and the
     * old "a" before the new one so that the new one stays. */
    struct drained r = {0};
    int old_a = -1, new_a = -1;
    assert_int_equal(fleet_drain(x->f, 100, on_drain, &r), 6);
    for (int i = 0; i < 6; i++)
        if (strcmp(r.ids[i], "a") == 0)
            *(r.first_seen[i] == 1000 ? &old_a : &new_a) = i;
    assert_true(old_a >= 0 && new_a > old_a);
    assert_int_equal(r.last[old_a].state, FLEET_DOWNLOADED);
    /* The evicted one lives until its last tag goes (ASan tells). */
    fleet_tag_free(held);
    fleet_tag_free(x->tag);
    x->tag = NULL;
    teardown((void **)&x);
}

static void test_drain(void **state)
{
    struct fixture *x = *state;
    struct drained r = {0};
    char id[8];

    header(x, "dev-1", 7, false, 0, 4, 1000);
    block(x, 0, 4, 1100);
    block(x, 1, 4, 1200);
    assert_int_equal(fleet_drain(x->f, 100, on_drain, &r), 1);
    assert_string_equal(r.ids[0], "dev-1");
    assert_int_equal(r.nevents[0], 2);
    assert_int_equal(r.last[0].state, FLEET_DOWNLOADING);
    /* Nothing changed since: nothing. */
    memset(&r, 0, sizeof(r));
    assert_int_equal(fleet_drain(x->f, 100, on_drain, &r), 0);
    /* A change with no event: the device, with none. */
    block(x, 2, 4, 1300);
    assert_int_equal(fleet_drain(x->f, 100, on_drain, &r), 1);
    assert_int_equal(r.nevents[0], 0);
    /* Bounded: 10 changed, 4 at a time, each once. */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        header(x, id, 1, false, 0, 1, 2000);
    }
    memset(&r, 0, sizeof(r));
    assert_int_equal(fleet_drain(x->f, 4, on_drain, &r), 4);
    assert_int_equal(fleet_drain(x->f, 4, on_drain, &r), 4);
    assert_int_equal(fleet_drain(x->f, 4, on_drain, &r), 2);
    assert_int_equal(fleet_drain(x->f, 4, on_drain, &r), 0);
    assert_int_equal(r.n, 10);
    for (unsigned i = 0; i < 10; i++)
        for (unsigned j = i + 1; j < 10; j++)
            assert_string_not_equal(r.ids[i], r.ids[j]);
}

static void test_restore(void **state)
{
    struct fixture *x = make(true, 2, 3);
    struct fleet_device d = {.by_address = false, .first_seen_ms = 10, .last_seen_ms = 20,
                             .has_installed = true, .installed = 5, .offered = 6,
                             .state = FLEET_DOWNLOADED, .blocks_total = 9, .blocks_served = 9,
                             .bytes = 900, .download_started_ms = 15, .has_report = true,
                             .last_report = {.at_ms = 19, .is_report = true,
                                             .status = FLEET_REPORT_VERIFIED},
                             .seq = 44};
    struct fleet_event ev[5], got[5];
    struct drained r = {0};
    struct fleet_counts c;
    struct fleet_device out;
    size_t n;

    (void)state;
    for (int i = 0; i < 5; i++)
        ev[i] = (struct fleet_event){.at_ms = i, .state = FLEET_DOWNLOADING, .version = 6};
    snprintf(d.id, sizeof(d.id), "old");
    snprintf(d.address, sizeof(d.address), "192.0.2.99");
    snprintf(d.firmware, sizeof(d.firmware), "boot");
    assert_int_equal(fleet_restore(x->f, &d, ev, 5), 0);
    assert_int_equal(fleet_drain(x->f, 10, on_drain, &r), 0);
    out = get(x, "old", got, 5, &n);
    assert_string_equal(out.address, "192.0.2.99");
    assert_string_equal(out.firmware, "boot");
    assert_int_equal(out.state, FLEET_DOWNLOADED);
    assert_int_equal(out.first_seen_ms, 10);
    assert_int_equal(out.last_seen_ms, 20);
    assert_int_equal(out.installed, 5);
    assert_int_equal(out.offered, 6);
    assert_int_equal(out.blocks_served, 9);
    assert_int_equal(out.bytes, 900);
    assert_int_equal(out.last_report.status, FLEET_REPORT_VERIFIED);
    assert_int_equal(out.seq, 44);
    assert_int_equal(n, 3); /* history 3: the last three */
    assert_int_equal(got[0].at_ms, 2);
    assert_int_equal(got[2].at_ms, 4);
    fleet_counts(x->f, &c);
    assert_int_equal(c.devices[FLEET_DOWNLOADED], 1);
    assert_int_equal(c.devices[FLEET_CHECKING], 0);
    /* What no store should hold: refused. */
    d.state = FLEET_STATES;
    assert_int_equal(fleet_restore(x->f, &d, ev, 0), -EINVAL);
    d.state = FLEET_DOWNLOADED;
    d.id[0] = 0;
    assert_int_equal(fleet_restore(x->f, &d, ev, 0), -EINVAL);
    memset(d.id, 'a', sizeof(d.id));
    assert_int_equal(fleet_restore(x->f, &d, ev, 0), -EINVAL);
    snprintf(d.id, sizeof(d.id), "old2");
    assert_int_equal(fleet_restore(x->f, &d, ev, 0), 0);
    snprintf(d.id, sizeof(d.id), "old3");
    assert_int_equal(fleet_restore(x->f, &d, ev, 0), -ENOSPC);
    teardown((void **)&x);
}

struct tallied {
    unsigned calls;
    uint64_t app[FLEET_STATES], boot[FLEET_STATES];
};

static void on_tally(void *cls, const char *firmware, enum fleet_state s, uint64_t n)
{
    struct tallied *t = cls;

    t->calls++;
    assert_true(n > 0);
    if (strcmp(firmware, "app") == 0)
        t->app[s] = n;
    else if (strcmp(firmware, "boot") == 0)
        t->boot[s] = n;
    else
        fail_msg("firmware %s", firmware);
}

static void test_tally_and_each(void **state);

static void test_histogram(void **state)
{
    struct fixture *x = *state;
    const int64_t took[] = {500, 1000, 3000, 100000, 4000000};
    const uint64_t want[8] = {2, 3, 3, 3, 3, 4, 4, 4};
    struct fleet_counts c;
    char id[8];

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "h%d", i);
        header(x, id, 1, false, 0, 1, 0);
        block(x, 0, 1, 0);
        header(x, id, 2, false, 0, 2, 0);
        block(x, 0, 2, 10);
        block(x, 1, 2, 10 + took[i]);
    }
    fleet_counts(x->f, &c);
    assert_int_equal(c.duration_count, 10);
    assert_int_equal(c.duration_sum_ms, 500 + 1000 + 3000 + 100000 + 4000000);
    /* The five one-block downloads took 0 ms. */
    for (int i = 0; i < 8; i++)
        assert_int_equal(c.duration_le[i], want[i] + 5);
    assert_int_equal(fleet_duration_bounds_ms[0], 1000);
    assert_int_equal(fleet_duration_bounds_ms[7], 3600000);
}

static bool on_each(void *cls, const struct fleet_device *d)
{
    unsigned *n = cls;

    (void)d;
    return ++*n < 1000;
}

static bool on_each_stop(void *cls, const struct fleet_device *d)
{
    unsigned *n = cls;

    (void)d;
    ++*n;
    return false;
}

static void test_tally_and_each(void **state)
{
    struct fixture *x = *state;
    struct tallied t = {0};
    unsigned n = 0;

    header(x, "a1", 1, false, 0, 2, 0);
    header(x, "a2", 1, false, 0, 2, 0);
    block(x, 0, 2, 0);
    header(x, "a3", 1, true, 1, 2, 0);
    fleet_header(x->f, &x->tag, "b1", ADDR, "boot", 4, 1, false, 0, 2, 0);
    fleet_header(x->f, &x->tag, "b2", ADDR, "boot", 4, 1, false, 0, 2, 0);
    /* b2 moves to app: the tally follows. */
    fleet_header(x->f, &x->tag, "b2", ADDR, "app", 3, 1, false, 0, 2, 0);
    fleet_tally(x->f, on_tally, &t);
    assert_int_equal(t.calls, 4);
    assert_int_equal(t.app[FLEET_CHECKING], 2);
    assert_int_equal(t.app[FLEET_DOWNLOADING], 1);
    assert_int_equal(t.app[FLEET_UP_TO_DATE], 1);
    assert_int_equal(t.boot[FLEET_CHECKING], 1);
    fleet_each(x->f, NULL, -1, on_each, &n);
    assert_int_equal(n, 5);
    n = 0;
    fleet_each(x->f, "app", -1, on_each, &n);
    assert_int_equal(n, 4);
    n = 0;
    fleet_each(x->f, "app", FLEET_CHECKING, on_each, &n);
    assert_int_equal(n, 2);
    n = 0;
    fleet_each(x->f, "boot", FLEET_DOWNLOADING, on_each, &n);
    assert_int_equal(n, 0);
    n = 0;
    fleet_each(x->f, NULL, -1, on_each_stop, &n);
    assert_int_equal(n, 1);
}

static void test_history(void **state)
{
    struct fixture *x = make(true, 10, 5);
    struct fleet_event ev[10];
    struct drained r = {0};
    size_t n;

    (void)state;
    header(x, "dev", 1, false, 0, 4, 0);
    for (int i = 1; i <= 6; i++) {
        block(x, 0, 4, i * 1000);
        header(x, "dev", 1, false, 0, 4, i * 1000 + 1);
    }
    /* 13 events, the last 5 kept, oldest first. */
    get(x, "dev", ev, 10, &n);
    assert_int_equal(n, 5);
    assert_int_equal(ev[0].at_ms, 4001);
    assert_int_equal(ev[0].state, FLEET_CHECKING);
    assert_int_equal(ev[4].at_ms, 6001);
    get(x, "dev", ev, 2, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].at_ms, 6000);
    assert_int_equal(fleet_drain(x->f, 10, on_drain, &r), 1);
    assert_int_equal(r.nevents[0], 5);
    assert_int_equal(r.last[0].at_ms, 6001);
    teardown((void **)&x);
}

static void test_track_off(void **state)
{
    struct fixture *x = make(false, 10, 5);
    struct fleet_report_result r;
    struct tallied t = {0};
    struct fleet_counts c;
    struct fleet_device d;
    struct drained dr = {0};
    unsigned n = 0;

    (void)state;
    assert_int_equal(header(x, "dev", 1, false, 0, 1, 0), 0);
    block(x, 0, 1, 0);
    fleet_image(x->f, &x->tag, ADDR, FW, 3, 10, 10, 0);
    fleet_report(x->f, &x->tag, NULL, ADDR, FW, 3, true, "status=installed", 16, 0, &r);
    assert_int_equal(r.status, 404);
    assert_false(r.log);
    fleet_tick(x->f, 1000000);
    assert_null(x->tag);
    assert_int_equal(fleet_get(x->f, "dev", &d, NULL, 0, &(size_t){0}), -ENOENT);
    fleet_each(x->f, NULL, -1, on_each, &n);
    assert_int_equal(n, 0);
    fleet_tally(x->f, on_tally, &t);
    assert_int_equal(t.calls, 0);
    assert_int_equal(fleet_drain(x->f, 10, on_drain, &dr), 0);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_started, 0);
    assert_int_equal(c.devices[FLEET_CHECKING], 0);
    assert_int_equal(x->done, 0);
    teardown((void **)&x);
}

/* Four threads: each downloads its own device and a quarter of a shared
 * one, block by block, each block twice. */
#define T_THREADS 4
#define T_BLOCKS 20000

struct worker {
    struct fleet *f;
    unsigned i;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct fleet_tag *own = NULL, *shared = NULL;
    char id[16];

    snprintf(id, sizeof(id), "own-%u", w->i);
    fleet_header(w->f, &own, id, ADDR, FW, 3, 1, false, 0, T_BLOCKS, 0);
    fleet_header(w->f, &shared, "shared", ADDR, FW, 3, 1, false, 0, T_BLOCKS * T_THREADS, 0);
    for (unsigned rep = 0; rep < 2; rep++)
        for (unsigned n = 0; n < T_BLOCKS; n++) {
            fleet_block(w->f, &own, ADDR, FW, 3, n, T_BLOCKS, 3, 1 + n);
            fleet_block(w->f, &shared, ADDR, FW, 3, w->i * T_BLOCKS + n, T_BLOCKS * T_THREADS,
                        5, 1 + n);
        }
    fleet_tag_free(own);
    fleet_tag_free(shared);
    return NULL;
}

static bool on_each_count(void *cls, const struct fleet_device *d)
{
    (void)d;
    ++*(unsigned *)cls;
    return true;
}

static void on_tally_any(void *cls, const char *firmware, enum fleet_state s, uint64_t n)
{
    (void)firmware;
    (void)s;
    *(uint64_t *)cls += n;
}

static void on_drain_any(void *cls, const struct fleet_device *d, const struct fleet_event *ev,
                         size_t nev)
{
    (void)d;
    (void)ev;
    *(size_t *)cls += nev;
}

struct reader {
    struct fleet *f;
    atomic_bool stop;
    atomic_uint rounds;
};

/* Every reader, over and over while the workers run (at most 100000 rounds). */
static void *read_all(void *arg)
{
    struct reader *r = arg;
    struct fleet_counts c;
    struct fleet_device d;
    struct fleet_event ev[8];
    size_t nev = 0;
    uint64_t tallied;
    unsigned n;

    while (!atomic_load(&r->stop) && r->rounds < 100000) {
        n = 0;
        tallied = 0;
        fleet_each(r->f, NULL, -1, on_each_count, &n);
        fleet_tally(r->f, on_tally_any, &tallied);
        fleet_drain(r->f, 10, on_drain_any, &nev);
        fleet_counts(r->f, &c);
        fleet_get(r->f, "shared", &d, ev, 8, &nev);
        fleet_tick(r->f, 1);
        atomic_fetch_add(&r->rounds, 1);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fixture *x = *state;
    struct reader rd = {.f = x->f};
    pthread_t th[T_THREADS], reader;
    struct worker w[T_THREADS];
    struct fleet_counts c;
    struct fleet_device d;
    char id[16];

    /* The reader first, and running, so that it runs beside the workers. */
    assert_int_equal(pthread_create(&reader, NULL, read_all, &rd), 0);
    for (int ms = 0; atomic_load(&rd.rounds) == 0 && ms < 10000; ms++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    assert_true(atomic_load(&rd.rounds) > 0);
    for (unsigned i = 0; i < T_THREADS; i++) {
        w[i] = (struct worker){.f = x->f, .i = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (unsigned i = 0; i < T_THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&rd.stop, true);
    pthread_join(reader, NULL);
    for (unsigned i = 0; i < T_THREADS; i++) {
        snprintf(id, sizeof(id), "own-%u", i);
        d = get(x, id, NULL, 0, NULL);
        assert_int_equal(d.bytes, 2 * T_BLOCKS * 3);
        assert_int_equal(d.blocks_served, T_BLOCKS);
        assert_int_equal(d.state, FLEET_DOWNLOADED);
    }
    d = get(x, "shared", NULL, 0, NULL);
    assert_int_equal(d.bytes, 2ull * T_THREADS * T_BLOCKS * 5);
    assert_int_equal(d.blocks_served, T_THREADS * T_BLOCKS);
    assert_int_equal(d.state, FLEET_DOWNLOADED);
    fleet_counts(x->f, &c);
    assert_int_equal(c.downloads_completed, T_THREADS + 1);
    assert_int_equal(x->done, T_THREADS + 1);
    assert_int_equal(c.devices[FLEET_DOWNLOADED], T_THREADS + 1);
}

/* Four threads make 2000 devices each in a registry of at most 100. */
#define C_IDS 2000

static void *churn(void *arg)
{
    struct worker *w = arg;
    struct fleet_tag *tag = NULL;
    char id[16];

    for (unsigned n = 0; n < C_IDS; n++) {
        snprintf(id, sizeof(id), "c%u-%u", w->i, n);
        fleet_header(w->f, &tag, id, ADDR, FW, 3, 1, false, 0, 2, n);
        fleet_block(w->f, &tag, ADDR, FW, 3, n % 2, 2, 1, n);
    }
    fleet_tag_free(tag);
    return NULL;
}

static void test_threads_evicting(void **state)
{
    struct fixture *x = make(true, 100, 4);
    pthread_t th[T_THREADS];
    struct worker w[T_THREADS];
    struct fleet_counts c;
    uint64_t held = 0;
    unsigned n = 0;

    (void)state;
    for (unsigned i = 0; i < T_THREADS; i++) {
        w[i] = (struct worker){.f = x->f, .i = i};
        assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
    }
    for (unsigned i = 0; i < T_THREADS; i++)
        pthread_join(th[i], NULL);
    fleet_counts(x->f, &c);
    for (unsigned s = 0; s < FLEET_STATES; s++)
        held += c.devices[s];
    fleet_each(x->f, NULL, -1, on_each_count, &n);
    assert_int_equal(held, 100);
    assert_int_equal(n, 100);
    assert_int_equal(c.devices_evicted, T_THREADS * C_IDS - 100);
    assert_int_equal(c.downloads_started, T_THREADS * C_IDS);
    teardown((void **)&x);
}

/* Completions fall in buckets of 1 s from the first; past the last bucket,
 * pairs merge and the width doubles, as often as needed, losing none. */
static void test_timeline(void **state)
{
    struct fleet_timeline t = {0};
    uint32_t sum = 0;

    (void)state;
    fleet_timeline_add(&t, 1000);
    fleet_timeline_add(&t, 1999);
    fleet_timeline_add(&t, 2000);
    fleet_timeline_add(&t, 1000 + 47999);
    assert_int_equal(t.start_ms, 1000);
    assert_int_equal(t.bucket_ms, 1000);
    assert_int_equal(t.counts[0], 2);
    assert_int_equal(t.counts[1], 1);
    assert_int_equal(t.counts[47], 1);
    fleet_timeline_add(&t, 1000 + 48000);
    assert_int_equal(t.bucket_ms, 2000);
    assert_int_equal(t.counts[0], 3);
    assert_int_equal(t.counts[23], 1);
    assert_int_equal(t.counts[24], 1);
    for (unsigned i = 25; i < FLEET_TIMELINE; i++)
        assert_int_equal(t.counts[i], 0);
    fleet_timeline_add(&t, 500); /* the clock stepped back */
    assert_int_equal(t.counts[0], 4);
    fleet_timeline_add(&t, 1000 + 384000); /* three merges at once */
    assert_int_equal(t.bucket_ms, 16000);
    assert_int_equal(t.counts[24], 1);
    for (unsigned i = 0; i < FLEET_TIMELINE; i++)
        sum += t.counts[i];
    assert_int_equal(sum, 7);
}

static void on_firmware(void *cls, const struct fleet_firmware *fw)
{
    struct fleet_firmware *out = cls;

    if (strcmp(fw->name, FW) == 0)
        *out = *fw;
}

/* Per name: devices by state, completions and when they came. */
static void test_firmwares(void **state)
{
    struct fixture *x = *state;
    struct fleet_tag *tags[3] = {NULL, NULL, NULL};
    struct fleet_firmware fw = {0};
    static const char *const ids[3] = {"d0", "d1", "d2"};

    for (int i = 0; i < 3; i++) {
        fleet_header(x->f, &tags[i], ids[i], ADDR, FW, strlen(FW), 7, false, 0, 2, 4000);
        fleet_block(x->f, &tags[i], ADDR, FW, strlen(FW), 0, 2, 260, 4500);
    }
    fleet_block(x->f, &tags[0], ADDR, FW, strlen(FW), 1, 2, 260, 5000);
    fleet_block(x->f, &tags[1], ADDR, FW, strlen(FW), 1, 2, 260, 7500);
    fleet_firmwares(x->f, on_firmware, &fw);
    assert_string_equal(fw.name, FW);
    assert_int_equal(fw.completed, 2);
    assert_int_equal(fw.devices[FLEET_DOWNLOADED], 2);
    assert_int_equal(fw.devices[FLEET_DOWNLOADING], 1);
    assert_int_equal(fw.timeline.start_ms, 5000);
    assert_int_equal(fw.timeline.bucket_ms, 1000);
    assert_int_equal(fw.timeline.counts[0], 1);
    assert_int_equal(fw.timeline.counts[1], 0);
    assert_int_equal(fw.timeline.counts[2], 1);
    for (int i = 0; i < 3; i++)
        fleet_tag_free(tags[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_checking_and_up_to_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_each_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_by_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_budget_shared_set, setup, teardown),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test(test_restore),
        cmocka_unit_test_setup_teardown(test_histogram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tally_and_each, setup, teardown),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_timeline),
        cmocka_unit_test_setup_teardown(test_firmwares, setup, teardown),
        cmocka_unit_test(test_track_off),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test(test_threads_evicting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
