/* SPDX-License-Identifier: MIT */
#include "jsontext.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

static bool valid_utf8(const char *s)
{
    for (size_t n; *s != '\0'; s += n)
        if ((n = escape_utf8_len(s)) == 0)
            return false;
    return true;
}

json_t *jsontext_string(const char *s)
{
    size_t len = strlen(s), o = 0, n;
    char *buf;
    json_t *v;

    /* The common case: nothing to replace, jansson checks it again. */
    if (valid_utf8(s))
        return json_stringn(s, len);
    /* U+FFFD takes 3 bytes where the byte it stands for took one. */
    buf = malloc(3 * len + 1);
    if (buf == NULL)
        return NULL;
    for (; *s != '\0'; s += n ? n : 1) {
        n = escape_utf8_len(s);
        if (n == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
        } else {
            memcpy(buf + o, s, n);
            o += n;
        }
    }
    v = json_stringn(buf, o);
    free(buf);
    return v;
}

json_t *jsontext_url(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s), o = 0;
    char *buf = malloc(3 * len + 1);
    json_t *v;

    if (buf == NULL)
        return NULL;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    v = json_stringn(buf, o);
    free(buf);
    return v;
}

int jsontext_set(json_t *obj, const char *key, json_t *value, int *err)
{
    /* It takes @value even when it fails, also for an @obj that is NULL;
     * @key is a literal of ours, UTF-8 without checking. */
    if (json_object_set_new_nocheck(obj, key, value) < 0)
        *err = -ENOMEM;
    return *err;
}

json_t *jsontext_done(json_t *obj, int err)
{
    if (err == 0)
        return obj;
    json_decref(obj);
    return NULL;
}

static int to_file(const char *buffer, size_t size, void *data)
{
    return fwrite(buffer, 1, size, data) == size ? 0 : -1;
}

int jsontext_write(FILE *f, const json_t *v)
{
    char buf[2048];
    size_t n;

    /* jansson hands its output over a few bytes at a time: a row goes
     * through a buffer here and into the stream in one write. */
    n = json_dumpb(v, buf, sizeof(buf), JSON_COMPACT);
    if (n > 0 && n <= sizeof(buf))
        return fwrite(buf, 1, n, f) == n ? 0 : -ENOMEM;
    return json_dump_callback(v, to_file, f, JSON_COMPACT) == 0 ? 0 : -ENOMEM;
}
