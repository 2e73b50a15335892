/* SPDX-License-Identifier: MIT */
/* Logging to stderr, one line per message.
 *
 * When stderr is the journal (JOURNAL_STREAM names its device and inode)
 * each line starts with an sd-daemon priority prefix ("<4>") so the journal
 * records the level; otherwise with a level word ("warning: "). Safe to call from any thread: a line is written
 * with a single write(2). */
#ifndef OTAD_LOG_H
#define OTAD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values are syslog priorities, as the journal prefix needs them. */
enum log_level {
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

/* Checks JOURNAL_STREAM against stderr and sets the most verbose level printed. */
void log_init(enum log_level max);

/* Changes the most verbose level printed. */
void log_set_level(enum log_level max);

/* True when messages of @level are printed (to skip building costly ones). */
bool log_enabled(enum log_level level);

/* Prints one line; a trailing newline is added. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Name of a level as used in the configuration ("warning"); NULL if unknown. */
const char *log_level_name(enum log_level level);

/* Parses a level name; 0 on success, -EINVAL otherwise. */
int log_level_parse(const char *name, enum log_level *ret);

/* A warning that can come with every request, printed at most once per
 * @interval: zero-initialise with LOG_LIMIT_INIT; safe from any thread. */
struct log_limit {
    _Atomic int64_t last;          /* when it was last printed */
    atomic_uint skipped;           /* left out since */
};

#define LOG_LIMIT_INIT {.last = INT64_MIN / 2, .skipped = 0}

/* True when the warning limited by @l is to be printed at time @now (any
 * monotonic unit, as @interval): at most once per @interval. @ret_skipped
 * then gets how many were left out since the last one printed; each false
 * return counts one. */
bool log_limit_pass(struct log_limit *l, int64_t now, int64_t interval, unsigned *ret_skipped);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                        \
    do {                                                                      \
        if (log_enabled(LOG_LEVEL_DEBUG))                                     \
            log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                            \
    } while (0)

#endif
