/* SPDX-License-Identifier: MIT */
/* The fleet registry: every device otad has served, what it runs, how far
 * its download got and how its update ended, kept in memory.
 *
 * The device port feeds it (fleet_header, fleet_block, fleet_image,
 * fleet_report) from the HTTP worker threads; it never waits for the disk.
 * Readers (the admin API, the metrics, the store's writer thread) get
 * copies: nothing returned points into the registry. A device is known by
 * the X-Device-Id it sends or, when it sends none (the legacy bootloaders),
 * by its address (ids and addresses share one name space: a device whose
 * id is "192.0.2.7" is the one a legacy client at that address would be).
 * At most max_devices are held; beyond that the least recently seen one of
 * all leaves memory (the store keeps it on disk); asked for again it is a
 * new entry.
 *
 * States: a header request makes a device checking, or up-to-date when it
 * says it runs the version offered or a later one. Its first block (or
 * image bytes) begins a download: downloading, downloads_started counted.
 * When every block has been served once (a block served twice counts once)
 * or the image bytes reach its size, it is downloaded, counted with its
 * duration, and the done callback runs, once per download. A download
 * interrupted (a new header, or stalled) resumes where it was when blocks
 * come again for the same version and block count; another version or
 * block count begins a new one from no block served. Blocks of a download
 * already done begin none until the device asks for the header again.
 * Images of over 2^20 blocks keep no bitmap: their blocks are counted as
 * served, repeats included.
 *
 * Every function is safe to call from any thread. Times are wall-clock
 * milliseconds since the epoch, passed in so that tests control them. */
#ifndef OTAD_FLEET_H
#define OTAD_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of an X-Device-Id: letters, digits, '-', '_', ':' and '.' only. */
#define FLEET_ID_MAX 64
/* Bytes of a firmware name (a file name without ".bin"). */
#define FLEET_NAME_MAX 255
/* Room for an address as text (INET6_ADDRSTRLEN). */
#define FLEET_ADDRESS_MAX 46

/* What otad infers from the requests. */
enum fleet_state {
    FLEET_CHECKING,       /* asked for the header only */
    FLEET_DOWNLOADING,    /* blocks (or the image) are being served */
    FLEET_DOWNLOADED,     /* every block was served */
    FLEET_STALLED,        /* downloading, but no request for stall_seconds */
    FLEET_UP_TO_DATE,     /* asked, and says it runs the version offered */
    FLEET_STATES
};

/* What a device reports (POST /NAME/report status=...). */
enum fleet_status {
    FLEET_REPORT_DOWNLOADING, FLEET_REPORT_DOWNLOADED, FLEET_REPORT_VERIFIED,
    FLEET_REPORT_INSTALLED, FLEET_REPORT_CONFIRMED, FLEET_REPORT_REVERTED,
    FLEET_REPORT_FAILED,
    FLEET_STATUSES
};

/* Why, with a report (reason=...). */
enum fleet_reason {
    FLEET_REASON_NONE, FLEET_REASON_CRC, FLEET_REASON_SIGNATURE, FLEET_REASON_DOWNGRADE,
    FLEET_REASON_TOO_LARGE, FLEET_REASON_FLASH, FLEET_REASON_TIMEOUT, FLEET_REASON_REJECTED,
    FLEET_REASONS
};

/* "checking", "installed", "crc", ... as on the wire and in the API. */
const char *fleet_state_name(enum fleet_state s);
const char *fleet_status_name(enum fleet_status s);
const char *fleet_reason_name(enum fleet_reason r);
/* The value for @name of @len bytes, or -1 if it names none. */
int fleet_status_parse(const char *name, size_t len);
int fleet_reason_parse(const char *name, size_t len);

/* One thing that happened to a device: a state it entered, or a report. */
struct fleet_event {
    int64_t at_ms;
    bool is_report;           /* a report: status and reason; else a state */
    uint8_t state;            /* enum fleet_state, when !is_report */
    uint8_t status;           /* enum fleet_status, when is_report */
    uint8_t reason;           /* enum fleet_reason, when is_report */
    uint32_t version;         /* the version offered, or the one reported */
};

/* A copy of one device. */
struct fleet_device {
    char id[FLEET_ID_MAX + 1];          /* X-Device-Id, or the address */
    bool by_address;                    /* sent no id: known by its address */
    char address[FLEET_ADDRESS_MAX];    /* where it was last seen from */
    char firmware[FLEET_NAME_MAX + 1];  /* the firmware it asked for last */
    int64_t first_seen_ms, last_seen_ms;
    bool has_installed;                 /* it said which version it runs */
    uint32_t installed;                 /* X-Device-Version, or reported installed */
    uint32_t offered;                   /* the version of the header it was served */
    enum fleet_state state;
    uint32_t blocks_total;              /* of the download in progress or last done */
    uint32_t blocks_served;             /* distinct blocks served of it */
    uint64_t bytes;                     /* body bytes served for it */
    uint64_t rate;                      /* bytes per second over the download */
    uint64_t download_size;             /* bytes it needs: 260 a block, or the image's */
    uint64_t download_done;             /* of those, served (a block counted once) */
    int64_t download_started_ms;        /* 0: none yet */
    bool has_report;
    struct fleet_event last_report;
    uint64_t seq;                       /* bumped at every change (for the store) */
};

struct fleet_options {
    bool track;               /* false: every call below does nothing */
    unsigned max_devices;     /* devices held in memory */
    unsigned history;         /* events kept per device */
    unsigned stall_seconds;   /* downloading with no request this long: stalled */
};

/* Counters since start, for the metrics. */
struct fleet_counts {
    uint64_t devices[FLEET_STATES];     /* devices now in each state (in memory) */
    uint64_t downloads_started, downloads_completed;
    uint64_t reports[FLEET_STATUSES];   /* accepted reports by status */
    /* Completed download durations: counts at or below each bound. */
    uint64_t duration_le[8];            /* bounds in fleet_duration_bounds_ms */
    uint64_t duration_count;
    uint64_t duration_sum_ms;
    uint64_t devices_evicted;
};
/* 1 s, 5 s, 15 s, 30 s, 1 min, 5 min, 15 min, 1 h; the counts are
 * cumulative, as a Prometheus histogram's buckets. */
extern const uint32_t fleet_duration_bounds_ms[8];

struct fleet;

/* A connection's device, kept by struct conn so block requests need no
 * headers. Opaque; freed by fleet_tag_free (NULL is ignored). */
struct fleet_tag;
void fleet_tag_free(struct fleet_tag *t);
/* The X-Device-Id of @t's device, or NULL when it is known by its address
 * (or @t is NULL). Fixed for the tag's life: no lock needed. */
const char *fleet_tag_id(const struct fleet_tag *t);

/* Returns 0 and a new registry in *@ret, or -ENOMEM. With track false it
 * holds nothing: every call below does nothing, readers see no device and
 * fleet_report answers 404. */
int fleet_new(const struct fleet_options *o, struct fleet **ret);
/* Frees the registry; every tag must have been freed before. */
void fleet_free(struct fleet *f);

/* A header request for firmware @name (@len bytes) answered with @offered
 * (200). @id: the X-Device-Id (NULL: none, then @address is the id);
 * @address: the client's, as text, never NULL (here and below);
 * @installed: the X-Device-Version, if @has_installed. @blocks: the
 * firmware's block count. *@tag is replaced by the device's tag for the
 * connection's later requests. Returns 0, -EINVAL for an id that is not
 * valid (ignored, the request is still answered), or -ENOMEM. */
int fleet_header(struct fleet *f, struct fleet_tag **tag, const char *id, const char *address,
                 const char *name, size_t len, uint32_t offered, bool has_installed,
                 uint32_t installed, uint32_t blocks, int64_t now_ms);

/* An Arduino ESP updater's check (espota.h): fleet_header for the device
 * @id (its STA-MAC; NULL or invalid: @address), which runs @offered when
 * @up_to_date (the check was answered 304), else the version @runs says
 * (its x-*-version, if a plain decimal number; NULL: none). Such a check
 * after a download of @offered (downloading, downloaded or stalled, the same
 * firmware) records that version as installed, as a report would, spending
 * a report of the address's budget. Returns what fleet_header returns. */
int fleet_check(struct fleet *f, struct fleet_tag **tag, const char *id, const char *address,
                const char *name, size_t len, uint32_t offered, bool up_to_date,
                const char *runs, uint32_t blocks, int64_t now_ms);

/* Block @n of @blocks of firmware @name, served (200) with @bytes of body
 * on a connection whose device is *@tag (NULL when it asked no header on
 * this connection: then the device is the one known by @address). */
void fleet_block(struct fleet *f, struct fleet_tag **tag, const char *address,
                 const char *name, size_t len, uint32_t n, uint32_t blocks, uint64_t bytes,
                 int64_t now_ms);

/* The whole image (or a range of it) served: @bytes of @size. */
void fleet_image(struct fleet *f, struct fleet_tag **tag, const char *address,
                 const char *name, size_t len, uint64_t bytes, uint64_t size, int64_t now_ms);

/* What a report decided. */
struct fleet_report_result {
    unsigned status;          /* 204 accepted; 400, 404, 413, 429 refused; 503 out of memory */
    bool log;                 /* log this refusal: the first from the address this minute */
    unsigned suppressed;      /* refusals from the address not logged since */
    char message[96];         /* why, for the body and the log */
    /* Accepted: the report, for its info line. */
    struct fleet_event event;
    char id[FLEET_ID_MAX + 1];
};

/* POST /NAME/report with @body (@body_len bytes, form-encoded:
 * status=S[&version=V][&reason=R][&id=ID]) from @address, with the
 * X-Device-Id @id (or NULL). @known: NAME is a firmware being served.
 * The device is the one @id names, else the body's id=, else the tag's,
 * else the one known by @address; *@tag becomes it. Each report, refused
 * or not, spends one of its address's tokens (10 a second, bursts of 20;
 * 1024 addresses tracked at once, in sets of 4). Checked in this order:
 * 429, 413, 404, 400. Accepted installed/confirmed with a version set the
 * installed version, and make the device up-to-date if it is the one
 * offered. */
void fleet_report(struct fleet *f, struct fleet_tag **tag, const char *id, const char *address,
                  const char *name, size_t len, bool known, const char *body, size_t body_len,
                  int64_t now_ms, struct fleet_report_result *ret);

/* A download that finished (every block served) just now, for its log line:
 * fleet_block and fleet_image return it through this callback, set at
 * fleet_new time with fleet_on_done. */
struct fleet_done {
    const struct fleet_device *device;
    uint64_t duration_ms;
};
void fleet_on_done(struct fleet *f, void (*cb)(void *cls, const struct fleet_done *d), void *cls);

/* Marks downloading devices with no request for stall_seconds as stalled.
 * It visits every device: call it about once a second, not more. */
void fleet_tick(struct fleet *f, int64_t now_ms);

/* Readers. fleet_each calls @cb with a copy of every device whose firmware
 * is @firmware (NULL: any) and whose state is @state (-1: any), in no
 * particular order; @cb returns false to stop. It copies one shard (a 64th
 * of the devices) at a time and calls @cb with no lock held. */
void fleet_each(struct fleet *f, const char *firmware, int state,
                bool (*cb)(void *cls, const struct fleet_device *d), void *cls);

/* Copies device @id into @ret and up to @max of its events, oldest first,
 * into @events (*@nevents of them). Returns 0 or -ENOENT. */
int fleet_get(struct fleet *f, const char *id, struct fleet_device *ret,
              struct fleet_event *events, size_t max, size_t *nevents);

void fleet_counts(struct fleet *f, struct fleet_counts *ret);

/* Devices per firmware and state, for the metrics: @cb once per pair with a
 * non-zero count. */
void fleet_tally(struct fleet *f,
                 void (*cb)(void *cls, const char *firmware, enum fleet_state s, uint64_t n),
                 void *cls);

/* Downloads completed over time, in FLEET_TIMELINE buckets of bucket_ms
 * from start_ms (the first completion): counts[i] is those at or after
 * start_ms + i * bucket_ms and before the next. When a completion falls
 * past the last bucket, neighbours merge in pairs and bucket_ms doubles
 * (from 1 s), so the whole history fits in a fixed size. bucket_ms 0:
 * none yet. */
#define FLEET_TIMELINE 48
struct fleet_timeline {
    int64_t start_ms, bucket_ms;
    uint32_t counts[FLEET_TIMELINE];
};

/* One firmware name the registry knows (a device asked for it): its
 * devices in memory per state, and the downloads of it completed since
 * start, with their timeline. A name no device names any more is gone,
 * and its history with it. */
struct fleet_firmware {
    char name[FLEET_NAME_MAX + 1];
    uint64_t devices[FLEET_STATES];
    uint64_t completed;
    struct fleet_timeline timeline;
};

/* Calls @cb with a copy of every firmware name's figures, in no particular
 * order, with no lock held. */
void fleet_firmwares(struct fleet *f, void (*cb)(void *cls, const struct fleet_firmware *fw),
                     void *cls);

/* Adds one completion at @now_ms to @t (for fleet_firmwares; public so
 * that it can be tested alone). */
void fleet_timeline_add(struct fleet_timeline *t, int64_t now_ms);

/* For the store. fleet_drain calls @cb for every device changed since the
 * last drain (a copy), with the events added since then; at most @max
 * devices per call, so that one flush is bounded. Returns how many. */
size_t fleet_drain(struct fleet *f, size_t max,
                   void (*cb)(void *cls, const struct fleet_device *d,
                              const struct fleet_event *events, size_t nevents),
                   void *cls);

/* At start-up, before serving: puts a device read back from the store into
 * memory (with its last @nevents events), unchanged for the next drain.
 * Each restored device becomes the most recently seen: restore them oldest
 * (last_seen_ms) first so that eviction order survives a restart. A
 * download in progress is not resumed: the next block begins a new one.
 * Returns 0, -EINVAL for an empty or unterminated id or firmware or a bad
 * state, -ENOSPC when max_devices are held, or -ENOMEM. */
int fleet_restore(struct fleet *f, const struct fleet_device *d,
                  const struct fleet_event *events, size_t nevents);

#endif
