/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic int max_level = LOG_LEVEL_INFO;
static bool journal;

static const struct {
    enum log_level level;
    const char *name;
} levels[] = {
    {LOG_LEVEL_ERROR, "error"},
    {LOG_LEVEL_WARNING, "warning"},
    {LOG_LEVEL_INFO, "info"},
    {LOG_LEVEL_DEBUG, "debug"},
};

/* Whether stderr is the journal's stream: systemd sets JOURNAL_STREAM to
 * "device:inode" of the stream it connects, and documents (systemd.exec(5))
 * that a process must compare it with its stderr, which may have been
 * redirected since (a shell pipe, a file) and then must not get prefixes. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    int end = 0;

    if (js == NULL || sscanf(js, "%llu:%llu%n", &dev, &ino, &end) != 2 || js[end] != '\0')
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(enum log_level max)
{
    journal = stderr_is_journal();
    log_set_level(max);
}

void log_set_level(enum log_level max)
{
    atomic_store(&max_level, (int)max);
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&max_level, memory_order_relaxed);
}

const char *log_level_name(enum log_level level)
{
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (levels[i].level == level)
            return levels[i].name;
    return NULL;
}

int log_level_parse(const char *name, enum log_level *ret)
{
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(levels[i].name, name) == 0) {
            *ret = levels[i].level;
            return 0;
        }
    return -EINVAL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    int n, m;
    va_list ap;

    if (!log_enabled(level))
        return;
    if (journal)
        n = snprintf(line, sizeof(line), "<%d>", (int)level);
    else
        n = snprintf(line, sizeof(line), "%s: ", log_level_name(level));
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    /* A longer message is cut, never split over lines. */
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    (void)!write(STDERR_FILENO, line, (size_t)n);
}

bool log_limit_pass(struct log_limit *l, int64_t now, int64_t interval, unsigned *ret_skipped)
{
    int64_t last = atomic_load(&l->last);

    /* Of threads passing at once, the one whose exchange wins prints. */
    if (now - last < interval || !atomic_compare_exchange_strong(&l->last, &last, now)) {
        atomic_fetch_add(&l->skipped, 1);
        return false;
    }
    *ret_skipped = atomic_exchange(&l->skipped, 0);
    return true;
}
