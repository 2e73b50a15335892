/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

void cli_usage(FILE *f)
{
    fputs("Usage: otaget [OPTIONS] http://HOST[:PORT]/NAME\n"
          "Download firmware NAME from otad through the block OTA protocol, with every\n"
          "check a device makes, into a simulated STM32F401 flash.\n"
          "\n"
          "  -i, --installed-version N  act as a device running version N: download only\n"
          "                             a newer version (default: any version)\n"
          "  -o, --out FILE             write the installed image to FILE (- for stdout)\n"
          "  -f, --flash FILE           keep the simulated flash in FILE, so that an\n"
          "                             interrupted download resumes on the next run\n"
          "  -r, --retries N            attempts without progress before giving up (10)\n"
          "  -t, --timeout SEC          longest wait for the server (5)\n"
          "  -p, --pub KEY.pub          install only what this key signed (repeatable):\n"
          "                             the manifest must verify, name NAME, match the\n"
          "                             header, not be a downgrade, and hash the image\n"
          "  -d, --device-id ID         act as the device ID (1-64 of A-Z a-z 0-9 . _ : -):\n"
          "                             name it and its version to otad, and report\n"
          "                             installed, or failed with a reason\n"
          "      --delay MS             wait MS milliseconds after each block (tests)\n"
          "  -v, --verbose              show the OTA core's log lines\n"
          "  -q, --quiet                no progress, only the summary and errors\n"
          "  -h, --help                 print this help and exit\n"
          "  -V, --version              print the version and exit\n"
          "\n"
          "Exit status: 0 installed or up to date, 1 other failure, 2 usage error,\n"
          "3 cannot connect (or the connection failed), 4 HTTP error or not the block\n"
          "protocol, 5 verification failed (CRC, signature), 6 flash error.\n",
          f);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("otaget: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'otaget --help'.\n", stderr);
    return -EINVAL;
}

/* A decimal number in [@min, @max] into @ret. */
static int parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The part @what of @u into *@ret (curl_free() it), or NULL if absent. */
static CURLUcode url_part(CURLU *u, CURLUPart what, unsigned flags, char **ret)
{
    CURLUcode rc = curl_url_get(u, what, ret, flags);

    if (rc == CURLUE_NO_QUERY || rc == CURLUE_NO_FRAGMENT || rc == CURLUE_NO_USER ||
        rc == CURLUE_NO_PORT || rc == CURLUE_NO_ZONEID) {
        *ret = NULL;
        return CURLUE_OK;
    }
    return rc;
}

/* Checks the name of "/NAME" (@path as written, percent-encoded; @decoded
 * the same decoded) and copies it as written: the engine sends it so. */
static int take_name(const char *url, const char *path, const char *decoded,
                     struct cli_options *o)
{
    const char *name = path + 1;

    if (path[0] != '/' || name[0] == '\0')
        return usage_error("%s: no firmware name (http://HOST[:PORT]/NAME)", url);
    if (strchr(name, '/') != NULL || strchr(decoded + 1, '/') != NULL)
        return usage_error("%s: the name may not contain '/'", url);
    if (strlen(name) > CLI_NAME_MAX)
        return usage_error("%s: name longer than %u characters", url, CLI_NAME_MAX);
    snprintf(o->name, sizeof(o->name), "%s", name);
    return 0;
}

/* http://HOST[:PORT]/NAME, HOST an IPv4 address, a name or [IPv6], NAME
 * percent-encoded as otad lists it (my%20fw): libcurl's URL parser splits
 * it as curl would. */
static int parse_url(const char *url, struct cli_options *o)
{
    char *scheme = NULL, *host = NULL, *zone = NULL, *port = NULL, *path = NULL;
    char *decoded = NULL, *query = NULL, *fragment = NULL, *user = NULL;
    const struct {
        CURLUPart part;
        unsigned flags;
        char **ret;
    } parts[] = {
        {CURLUPART_SCHEME, 0, &scheme},     {CURLUPART_HOST, 0, &host},
        {CURLUPART_ZONEID, 0, &zone},       {CURLUPART_PORT, 0, &port},
        {CURLUPART_PATH, 0, &path},         {CURLUPART_PATH, CURLU_URLDECODE, &decoded},
        {CURLUPART_QUERY, 0, &query},       {CURLUPART_FRAGMENT, 0, &fragment},
        {CURLUPART_USER, 0, &user},
    };
    const size_t nparts = sizeof(parts) / sizeof(parts[0]);
    CURLU *u = curl_url();
    CURLUcode rc;
    uint64_t number = 80;
    size_t hlen;
    int r = -EINVAL;

    if (u == NULL)
        return usage_error("out of memory");
    rc = curl_url_set(u, CURLUPART_URL, url, 0);
    for (size_t i = 0; rc == CURLUE_OK && i < nparts; i++)
        rc = url_part(u, parts[i].part, parts[i].flags, parts[i].ret);
    if (rc != CURLUE_OK) {
        usage_error("%s: %s", url, curl_url_strerror(rc));
        goto fail;
    }
    if (strcmp(scheme, "http") != 0) {
        usage_error("%s: not an http:// URL", url);
        goto fail;
    }
    if (query != NULL || fragment != NULL || user != NULL) {
        usage_error("%s: no %s in the URL (http://HOST[:PORT]/NAME)", url,
                    query != NULL ? "query" : fragment != NULL ? "fragment" : "user name");
        goto fail;
    }
    /* IPv6 comes in brackets; the transport and the Host header want it without. */
    hlen = strlen(host);
    if (host[0] == '[') {
        memmove(host, host + 1, hlen - 2);
        host[hlen -= 2] = '\0';
    }
    if (hlen == 0 || hlen + (zone != NULL ? strlen(zone) + 1 : 0) > CLI_HOST_MAX) {
        usage_error("%s: host longer than %u characters", url, CLI_HOST_MAX);
        goto fail;
    }
    if (port != NULL && parse_number(port, 1, 65535, &number) < 0) {
        usage_error("%s: bad port '%s'", url, port);
        goto fail;
    }
    if (take_name(url, path, decoded, o) < 0)
        goto fail;
    snprintf(o->host, sizeof(o->host), zone != NULL ? "%s%%%s" : "%s", host, zone);
    o->port = (uint16_t)number;
    r = 0;
fail:
    for (size_t i = 0; i < nparts; i++)
        curl_free(*parts[i].ret);
    curl_url_cleanup(u);
    return r;
}

/* What otad takes as an X-Device-Id. */
static bool device_id_ok(const char *id)
{
    size_t n = strlen(id);

    return n >= 1 && n <= CLI_DEVICE_ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

int cli_parse(int argc, char **argv, struct cli_options *ret)
{
    enum { OPT_DELAY = 256 };
    static const struct option longopts[] = {
        {"installed-version", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"flash", required_argument, NULL, 'f'},
        {"retries", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"pub", required_argument, NULL, 'p'},
        {"device-id", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli_options o = {.retries = 10, .timeout_ms = 5000};
    uint64_t v;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:o:f:r:t:p:d:vqhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (parse_number(optarg, 0, UINT32_MAX, &v) < 0)
                return usage_error("--installed-version: '%s' is not a version (0..%" PRIu32
                                   ")", optarg, UINT32_MAX);
            o.have_installed = true;
            o.installed = (uint32_t)v;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'f':
            o.flash = optarg;
            break;
        case 'r':
            if (parse_number(optarg, 1, 1000, &v) < 0)
                return usage_error("--retries: '%s' is not a number of attempts (1..1000)",
                                   optarg);
            o.retries = (unsigned)v;
            break;
        case 't':
            if (parse_number(optarg, 1, 3600, &v) < 0)
                return usage_error("--timeout: '%s' is not a number of seconds (1..3600)",
                                   optarg);
            o.timeout_ms = (uint32_t)v * 1000;
            break;
        case OPT_DELAY:
            if (parse_number(optarg, 0, 60000, &v) < 0)
                return usage_error("--delay: '%s' is not a number of milliseconds", optarg);
            o.delay_ms = (uint32_t)v;
            break;
        case 'p':
            if (o.npub == CLI_PUB_MAX)
                return usage_error("--pub: at most %u keys", CLI_PUB_MAX);
            o.pub[o.npub++] = optarg;
            break;
        case 'd':
            if (!device_id_ok(optarg))
                return usage_error("--device-id: '%s' is not 1 to %u of A-Z a-z 0-9 . _ : -",
                                   optarg, CLI_DEVICE_ID_MAX);
            o.device_id = optarg;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            return CLI_HELP;
        case 'V':
            return CLI_VERSION;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc)
        return usage_error("no URL given (http://HOST[:PORT]/NAME)");
    if (optind + 1 < argc)
        return usage_error("one URL only; '%s' is extra", argv[optind + 1]);
    if (parse_url(argv[optind], &o) < 0)
        return -EINVAL;
    *ret = o;
    return 0;
}
