/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
          "\n"
          "Exit status: 0 installed or up to date, 1 failure, 2 usage error.\n",
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

/* http://HOST[:PORT]/NAME, HOST an IPv4 address, a name or [IPv6]. */
static int parse_url(const char *url, struct cli_options *o)
{
    const char *p = url, *host, *host_end, *name;
    uint64_t port = 80;
    size_t hlen;

    if (strncasecmp(p, "http://", 7) != 0)
        return usage_error("%s: not an http:// URL", url);
    p += 7;
    if (*p == '[') {
        host = ++p;
        host_end = strchr(p, ']');
        if (host_end == NULL)
            return usage_error("%s: missing ']' after the IPv6 address", url);
        p = host_end + 1;
    } else {
        host = p;
        p += strcspn(p, ":/");
        host_end = p;
    }
    hlen = (size_t)(host_end - host);
    if (hlen == 0)
        return usage_error("%s: no host", url);
    if (hlen > CLI_HOST_MAX)
        return usage_error("%s: host longer than %u characters", url, CLI_HOST_MAX);
    if (*p == ':') {
        char digits[8];
        size_t dlen = strcspn(++p, "/");

        if (dlen == 0 || dlen >= sizeof(digits))
            return usage_error("%s: bad port", url);
        memcpy(digits, p, dlen);
        digits[dlen] = '\0';
        if (parse_number(digits, 1, 65535, &port) < 0)
            return usage_error("%s: bad port '%s'", url, digits);
        p += dlen;
    }
    if (*p != '/' || p[1] == '\0')
        return usage_error("%s: no firmware name (http://HOST[:PORT]/NAME)", url);
    name = p + 1;
    if (strlen(name) > CLI_NAME_MAX)
        return usage_error("%s: name longer than %u characters", url, CLI_NAME_MAX);
    for (p = name; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 127 || strchr("/?#%", *p) != NULL)
            return usage_error("%s: the name may not contain '%c'", url,
                               *p > ' ' && *p < 127 ? *p : '?');
    memcpy(o->host, host, hlen);
    o->host[hlen] = '\0';
    o->port = (uint16_t)port;
    snprintf(o->name, sizeof(o->name), "%s", name);
    return 0;
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
        {NULL, 0, NULL, 0},
    };
    struct cli_options o;
    uint64_t v;
    int c;

    o = (struct cli_options){.retries = 10, .timeout_ms = 5000};
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:o:f:r:t:p:d:vqh", longopts, NULL)) != -1) {
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
            return 1;
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
