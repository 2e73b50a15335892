#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void log_init(enum log_level max)
{
    const char *js = getenv("JOURNAL_STREAM");

    journal = js != NULL && js[0] != '\0';
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

/* Length of the well-formed UTF-8 sequence of at least two bytes at @p (@n
 * bytes left), or 0: no overlong forms, surrogates or code points past
 * U+10FFFF (RFC 3629). */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    unsigned min = 0x80, max = 0xBF; /* the range of the second byte */

    if (p[0] < 0xC2 || p[0] > 0xF4 || n < len)
        return 0;
    if (p[0] == 0xE0)
        min = 0xA0;
    else if (p[0] == 0xED)
        max = 0x9F;
    else if (p[0] == 0xF0)
        min = 0x90;
    else if (p[0] == 0xF4)
        max = 0x8F;
    if (p[1] < min || p[1] > max)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

const char *log_escape(const char *s, size_t len, char *buf, size_t size)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t out = 0;

    for (size_t i = 0; i < len;) {
        size_t n = p[i] >= 0x80 ? utf8_sequence(p + i, len - i) : 1;
        bool plain = n > 1 || (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\');

        if (plain) {
            if (out + n >= size)
                break;
            memcpy(buf + out, p + i, n);
            out += n;
            i += n;
            continue;
        }
        if (out + 4 >= size)
            break;
        snprintf(buf + out, 5, "\\x%02x", p[i]);
        out += 4;
        i++;
    }
    buf[out] = '\0';
    return buf;
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
