/* otaget: downloads a firmware from otad exactly as a device does.
 *
 * The portable core's update engine runs on the host port's simulated
 * STM32F401 flash: header sanity checks, per-block CRC with bounded retries
 * and reconnects, write and read-back, download bitmap, whole-image CRC and
 * commit. An interrupted download resumes from the flash state, within one
 * run (otad restarted) or on the next run with the same --flash file.
 *
 * The transport is otaget's own TCP client plugged in with host_net_use():
 * it connects to an IPv6 literal while the Host header carries it in
 * brackets, bounds the connect time, and watches the responses go by so
 * that a failure can be named (the engine says "a status other than 200",
 * not which one, and "the connection failed", not why). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "ota_boot.h"
#include "ota_err.h"
#include "ota_http.h"
#include "ota_port.h"
#include "ota_state.h"
#include "ota_update.h"

#define EXIT_USAGE 2

/* The engine builds "/NAME/block/N" in 96 bytes (a longer name is cut) and
 * the request, Host header included, in 192: both fit with these. */
#define NAME_MAX_LEN 64u
#define HOST_MAX_LEN 64u

#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 3000u

struct options {
    char host[HOST_MAX_LEN + 1];     /* to connect to: "::1", "localhost" */
    char host_hdr[HOST_MAX_LEN + 3]; /* for the Host header: "[::1]" */
    uint16_t port;
    char name[NAME_MAX_LEN + 1];
    bool have_installed;
    uint32_t installed;
    const char *out;
    const char *flash;
    unsigned retries;
    uint32_t timeout_ms;
    uint32_t delay_ms;
    bool verbose;
    bool quiet;
};

/* ---- Terminal output ---------------------------------------------------- */

static bool bar_on_tty; /* stderr is a terminal: one line redrawn with \r */
static bool bar_shown;  /* that line holds a bar now */

/* Ends the progress bar's line, so that the next message starts clean. */
static void bar_break(void)
{
    if (bar_shown)
        fputs("\r\033[K", stderr);
    bar_shown = false;
}

/* One line on stderr, in one write: it may share a pipe with other output. */
static void msg(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    bar_break();
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "otaget: %s\n", line);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Transport: TCP, watching the responses ----------------------------- */

enum net_fail { NET_FINE, NET_RESOLVE, NET_CONNECT, NET_SEND, NET_RECV, NET_CLOSED };

struct net {
    const struct options *o;
    int fd;
    uint32_t connect_timeout_ms;
    /* What went wrong last, for the message. */
    enum net_fail fail;
    int fail_errno;          /* NET_CONNECT, NET_SEND, NET_RECV */
    int fail_gai;            /* NET_RESOLVE */
    /* A second parser over the received bytes: the status of each response. */
    struct ota_http_parser watch;
    uint8_t watch_body[OTA_BLOCK_WIRE];
    bool watching;
    uint32_t last_status;    /* of the last complete response, 0: none */
};

static void net_failed(struct net *n, enum net_fail what, int err)
{
    n->fail = what;
    n->fail_errno = err;
    bar_break(); /* the engine may log next */
}

static void watch_reset(struct net *n)
{
    ota_http_parser_init(&n->watch, n->watch_body, sizeof(n->watch_body));
    n->watching = true;
}

static void watch_feed(struct net *n, const uint8_t *p, uint32_t len)
{
    while (len > 0 && n->watching) {
        uint32_t used = 0;
        int r = ota_http_parser_feed(&n->watch, p, len, &used);

        if (r < 0) {
            n->watching = false; /* the engine sees the same and reconnects */
            return;
        }
        if (r == 1) {
            n->last_status = n->watch.status;
            if (n->last_status != 200)
                bar_break();
            watch_reset(n);
        } else if (used == 0) {
            return;
        }
        p += used;
        len -= used;
    }
}

/* connect() bounded by @timeout_ms; returns 0 or a negative errno. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0, flags = fcntl(fd, F_GETFL);
    socklen_t elen = sizeof(err);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    if (connect(fd, sa, len) < 0) {
        int r;

        if (errno != EINPROGRESS)
            return -errno;
        do
            r = poll(&pfd, 1, (int)timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0)
            return -errno;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            return -errno;
        if (err != 0)
            return -err;
    }
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

static int net_open(void *ctx)
{
    struct net *n = ctx;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *ai;
    char port[8];
    int r, err = ECONNREFUSED, one = 1;

    n->fd = -1;
    watch_reset(n);
    snprintf(port, sizeof(port), "%u", n->o->port);
    r = getaddrinfo(n->o->host, port, &hints, &res);
    if (r != 0) {
        n->fail_gai = r;
        net_failed(n, NET_RESOLVE, r == EAI_SYSTEM ? errno : 0);
        return -EHOSTUNREACH;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        n->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (n->fd < 0) {
            err = errno;
            continue;
        }
        r = connect_within(n->fd, ai->ai_addr, ai->ai_addrlen, n->connect_timeout_ms);
        if (r == 0)
            break;
        err = -r;
        close(n->fd);
        n->fd = -1;
    }
    freeaddrinfo(res);
    if (n->fd < 0) {
        net_failed(n, NET_CONNECT, err);
        return -err;
    }
    /* Each small request waits for its answer: no Nagle delay. */
    setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static int net_send(void *ctx, const void *data, uint32_t len)
{
    struct net *n = ctx;
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t k = send(n->fd, p, len, MSG_NOSIGNAL);

        if (k < 0) {
            if (errno == EINTR)
                continue;
            net_failed(n, NET_SEND, errno);
            return -n->fail_errno;
        }
        p += k;
        len -= (uint32_t)k;
    }
    return 0;
}

static int net_recv(void *ctx, void *buf, uint32_t len, uint32_t timeout_ms)
{
    struct net *n = ctx;
    struct pollfd pfd = {.fd = n->fd, .events = POLLIN};
    uint64_t deadline = now_ms() + timeout_ms;
    ssize_t k;
    int r;

    for (;;) {
        uint64_t t = now_ms();

        r = poll(&pfd, 1, t >= deadline ? 0 : (int)(deadline - t));
        if (r >= 0 || errno != EINTR)
            break;
    }
    if (r == 0) {
        bar_break();
        return 0;
    }
    if (r < 0) {
        net_failed(n, NET_RECV, errno);
        return -n->fail_errno;
    }
    do
        k = recv(n->fd, buf, len, 0);
    while (k < 0 && errno == EINTR);
    if (k == 0) {
        net_failed(n, NET_CLOSED, 0);
        return -ECONNRESET;
    }
    if (k < 0) {
        net_failed(n, NET_RECV, errno);
        return -n->fail_errno;
    }
    watch_feed(n, buf, (uint32_t)k);
    return (int)k;
}

static void net_close(void *ctx)
{
    struct net *n = ctx;

    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

/* ---- Progress ----------------------------------------------------------- */

struct run {
    const struct options *o;
    struct ota_update *u;
    uint64_t attempt_start_ms;
    uint64_t last_draw_ms;
    bool announced;          /* this attempt's "downloading"/"resuming" line */
    int last_decile;         /* of the plain progress lines */
};

static void draw_bar(struct run *run, uint32_t done, uint32_t total)
{
    char bar[31];
    uint32_t fill = (uint32_t)((uint64_t)done * (sizeof(bar) - 1) / total);
    uint64_t ms = now_ms() - run->attempt_start_ms;
    uint32_t fetched = run->u->blocks_fetched;

    memset(bar, '#', fill);
    memset(bar + fill, '.', sizeof(bar) - 1 - fill);
    bar[sizeof(bar) - 1] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %3u%% %u/%u blocks", run->o->name, bar,
            (unsigned)((uint64_t)done * 100 / total), done, total);
    if (ms > 0)
        fprintf(stderr, " %.0f KiB/s", fetched * (double)OTA_BLOCK_DATA / 1.024 / (double)ms);
    bar_shown = true;
}

/* Called by the engine after each block written and verified. */
static void on_progress(void *ctx, uint32_t done, uint32_t total)
{
    struct run *run = ctx;
    const struct ota_header *h = &run->u->header;
    uint64_t t = now_ms();

    if (!run->announced) {
        run->announced = true;
        run->last_decile = (int)((uint64_t)(done - 1) * 10 / total);
        if (!run->o->quiet && run->u->first_block == 0)
            msg("%s: downloading version %" PRIu32 ": %" PRIu32 " bytes, %" PRIu32
                " blocks, crc 0x%08" PRIx32,
                run->o->name, h->version, h->binsize, h->blocknum, h->checksum);
        else if (!run->o->quiet)
            msg("%s: resuming version %" PRIu32 " at block %" PRIu32 " of %" PRIu32,
                run->o->name, h->version, run->u->first_block, h->blocknum);
    }
    if (!run->o->quiet && bar_on_tty && (t - run->last_draw_ms >= 100 || done == total)) {
        run->last_draw_ms = t;
        draw_bar(run, done, total);
    } else if (!run->o->quiet && !bar_on_tty) {
        int decile = (int)((uint64_t)done * 10 / total);

        if (decile > run->last_decile) {
            run->last_decile = decile;
            msg("%s: %" PRIu32 "/%" PRIu32 " blocks (%d%%)", run->o->name, done, total,
                decile * 10);
        }
    }
    if (run->o->delay_ms > 0)
        ota_port_sleep_ms(run->o->delay_ms);
}

/* ---- Failures ----------------------------------------------------------- */

static const char *reason_phrase(uint32_t status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

/* Whether another attempt could succeed after @r. */
static bool worth_retrying(int r, const struct net *n)
{
    switch (r) {
    case OTA_ERR_STATUS:
        /* 416: the image shrank under the download; the next header says so.
         * Other 4xx: the name or the request is wrong, and stays wrong. */
        return n->last_status == 416 || n->last_status == 408 || n->last_status == 429 ||
               n->last_status >= 500;
    case OTA_ERR_PROTOCOL:
    case OTA_ERR_FLASH:
    case OTA_ERR_STATE:
        return false;
    case OTA_ERR_NET:
        return !(n->fail == NET_RESOLVE && n->fail_gai == EAI_NONAME);
    default:
        return true; /* timeouts, lost or garbled connections, CRC */
    }
}

/* Says in @buf what went wrong with result @r of the engine. */
static void describe(char *buf, size_t max, int r, const struct options *o, const struct net *n,
                     const struct ota_update *u)
{
    const struct ota_header *h = &u->header;
    const struct ota_flash_layout *fl = ota_port_flash_layout();
    uint32_t area = ota_app_area_size(fl);

    switch (r) {
    case OTA_ERR_NET:
        switch (n->fail) {
        case NET_RESOLVE:
            snprintf(buf, max, "cannot resolve %s: %s", o->host,
                     n->fail_gai == EAI_SYSTEM ? strerror(n->fail_errno)
                                               : gai_strerror(n->fail_gai));
            return;
        case NET_CONNECT:
            snprintf(buf, max, "cannot connect to %s:%u: %s", o->host_hdr, o->port,
                     strerror(n->fail_errno));
            return;
        case NET_CLOSED:
            snprintf(buf, max, "%s:%u closed the connection", o->host_hdr, o->port);
            return;
        case NET_SEND:
        case NET_RECV:
            snprintf(buf, max, "connection to %s:%u lost: %s", o->host_hdr, o->port,
                     strerror(n->fail_errno));
            return;
        default:
            snprintf(buf, max, "network error");
            return;
        }
    case OTA_ERR_TIMEOUT:
        snprintf(buf, max, "no answer from %s:%u within %" PRIu32 " s", o->host_hdr, o->port,
                 o->timeout_ms / 1000);
        return;
    case OTA_ERR_STATUS:
        if (n->last_status == 404)
            snprintf(buf, max, "%s: not found on the server (HTTP 404 Not Found)", o->name);
        else if (n->last_status == 416)
            snprintf(buf, max, "%s: block out of range (HTTP 416): the image changed during "
                     "the download", o->name);
        else
            snprintf(buf, max, "%s: the server answered HTTP %" PRIu32 " %s", o->name,
                     n->last_status, reason_phrase(n->last_status));
        return;
    case OTA_ERR_PROTOCOL:
        if (h->binsize > area)
            snprintf(buf, max, "%s: the image is too large: %" PRIu32 " bytes, the "
                     "application area holds %" PRIu32 " (%" PRIu32 " KiB)", o->name,
                     h->binsize, area, area / 1024);
        else if (h->blocksize != 0 || h->binsize != 0)
            snprintf(buf, max, "%s: unusable header: version %" PRIu32 ", %" PRIu32
                     " bytes, %" PRIu32 " blocks of %" PRIu32, o->name, h->version,
                     h->binsize, h->blocknum, h->blocksize);
        else
            snprintf(buf, max, "%s: the server does not speak the block protocol "
                     "(a response of the wrong size)", o->name);
        return;
    case OTA_ERR_CRC:
        /* The engine gives a download up only when the whole image fails. */
        if (u->store->cur.flags & OTA_STATE_DOWNLOADING)
            snprintf(buf, max, "%s: block %" PRIu32 " failed its CRC %" PRIu32 " times", o->name,
                     ota_state_blocks_done(u->store, h->blocknum), u->cfg->block_retries);
        else
            snprintf(buf, max, "%s: the downloaded image does not match the header's CRC "
                     "0x%08" PRIx32 " (the image changed, or the server is wrong)", o->name,
                     h->checksum);
        return;
    case OTA_ERR_HTTP:
    case OTA_ERR_HEADERS:
    case OTA_ERR_NO_LENGTH:
    case OTA_ERR_TOO_BIG:
        snprintf(buf, max, "malformed HTTP response from %s:%u (error %d)", o->host_hdr,
                 o->port, r);
        return;
    case OTA_ERR_FLASH:
        snprintf(buf, max, "the simulated flash failed (erase, program or read-back)");
        return;
    case OTA_ERR_STATE:
        snprintf(buf, max, "the boot state cannot be written to the simulated flash");
        return;
    default:
        snprintf(buf, max, "error %d", r);
        return;
    }
}

/* ---- Command line ------------------------------------------------------- */

static void usage(FILE *f)
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
static int parse_url(const char *url, struct options *o)
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
    if (hlen > HOST_MAX_LEN)
        return usage_error("%s: host longer than %u characters", url, HOST_MAX_LEN);
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
    if (strlen(name) > NAME_MAX_LEN)
        return usage_error("%s: name longer than %u characters", url, NAME_MAX_LEN);
    for (p = name; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 127 || strchr("/?#%", *p) != NULL)
            return usage_error("%s: the name may not contain '%c'", url,
                               *p > ' ' && *p < 127 ? *p : '?');
    memcpy(o->host, host, hlen);
    o->host[hlen] = '\0';
    snprintf(o->host_hdr, sizeof(o->host_hdr), strchr(o->host, ':') ? "[%s]" : "%s", o->host);
    o->port = (uint16_t)port;
    snprintf(o->name, sizeof(o->name), "%s", name);
    return 0;
}

/* Fills @o from the command line: 0, 1 for --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_DELAY = 256 };
    static const struct option longopts[] = {
        {"installed-version", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"flash", required_argument, NULL, 'f'},
        {"retries", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int c;

    *o = (struct options){.retries = 10, .timeout_ms = 5000};
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:o:f:r:t:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (parse_number(optarg, 0, UINT32_MAX, &v) < 0)
                return usage_error("--installed-version: '%s' is not a version (0..%" PRIu32
                                   ")", optarg, UINT32_MAX);
            o->have_installed = true;
            o->installed = (uint32_t)v;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'f':
            o->flash = optarg;
            break;
        case 'r':
            if (parse_number(optarg, 1, 1000, &v) < 0)
                return usage_error("--retries: '%s' is not a number of attempts (1..1000)",
                                   optarg);
            o->retries = (unsigned)v;
            break;
        case 't':
            if (parse_number(optarg, 1, 3600, &v) < 0)
                return usage_error("--timeout: '%s' is not a number of seconds (1..3600)",
                                   optarg);
            o->timeout_ms = (uint32_t)v * 1000;
            break;
        case OPT_DELAY:
            if (parse_number(optarg, 0, 60000, &v) < 0)
                return usage_error("--delay: '%s' is not a number of milliseconds", optarg);
            o->delay_ms = (uint32_t)v;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'q':
            o->quiet = true;
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
    return parse_url(argv[optind], o);
}

/* ---- Main --------------------------------------------------------------- */

/* Whether the last ota_update_run() left more blocks verified in flash than
 * it started with. */
static bool made_progress(const struct ota_update *u)
{
    const struct ota_state_store *s = u->store;

    return u->blocks_fetched > 0 && (s->cur.flags & OTA_STATE_DOWNLOADING) &&
           ota_state_blocks_done(s, u->header.blocknum) > u->first_block;
}

/* Writes the @size bytes of the installed image to @path ("-": stdout). */
static int write_image(const char *path, uint32_t size)
{
    const struct ota_flash_layout *fl = ota_port_flash_layout();
    uint8_t *buf = malloc(size);
    FILE *f = NULL;
    int r = -EIO;

    if (buf == NULL)
        return -ENOMEM;
    if (ota_port_flash_read(ota_app_addr(fl), buf, size) < 0)
        goto fail;
    f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (f == NULL) {
        r = -errno;
        goto fail;
    }
    if (fwrite(buf, 1, size, f) != size || fflush(f) != 0) {
        r = -errno;
        goto fail;
    }
    r = 0;
fail:
    if (f != NULL && f != stdout && fclose(f) != 0 && r == 0)
        r = -errno;
    free(buf);
    return r;
}

int main(int argc, char **argv)
{
    struct options o;
    struct ota_config cfg = OTA_CONFIG_DEFAULT;
    struct ota_state_store store;
    struct ota_update u;
    struct net net = {.fd = -1};
    struct host_net_ops ops = {net_open, net_send, net_recv, net_close, &net};
    struct run run = {.u = &u};
    uint64_t start = now_ms();
    uint32_t fetched = 0, first = 0, resumed_at = 0, backoff = BACKOFF_FIRST_MS;
    unsigned attempts = 0, failures = 0;
    bool any_block = false;
    char why[256];
    FILE *report;
    int r;

    r = parse_args(argc, argv, &o);
    if (r == 1) {
        usage(stdout);
        return EXIT_SUCCESS;
    }
    if (r < 0)
        return EXIT_USAGE;
    report = o.out != NULL && strcmp(o.out, "-") == 0 ? stderr : stdout;
    bar_on_tty = isatty(STDERR_FILENO);
    run.o = &o;
    net.o = &o;
    net.connect_timeout_ms = o.timeout_ms;
    cfg.recv_timeout_ms = o.timeout_ms;

    host_set_server(o.host_hdr, o.port, o.name);
    host_set_quiet(!o.verbose);
    host_net_use(&ops);
    r = host_flash_open(o.flash);
    if (r < 0) {
        msg("cannot open the flash image %s: %s", o.flash,
            r == -EINVAL ? "not a 512 KiB flash image" : strerror(-r));
        return EXIT_FAILURE;
    }

    for (;;) {
        attempts++;
        net.fail = NET_FINE;
        net.last_status = 0;
        r = ota_state_load(&store, ota_port_flash_layout());
        if (r < 0) {
            msg("cannot read the boot state from the simulated flash");
            goto fail;
        }
        ota_update_init(&u, &cfg, &store);
        u.progress = on_progress;
        u.progress_ctx = &run;
        run.attempt_start_ms = now_ms();
        run.announced = false;
        r = ota_update_run(&u, o.have_installed, o.installed);
        if (bar_shown && r == OTA_UPDATE_INSTALLED) {
            fputc('\n', stderr); /* the full bar stays */
            bar_shown = false;
        }
        bar_break();
        if (u.blocks_fetched > 0 && any_block)
            resumed_at = u.first_block; /* after an earlier attempt of this run */
        if (u.blocks_fetched > 0 && !any_block) {
            any_block = true;
            first = u.first_block;
        }
        fetched += u.blocks_fetched;
        if (r == OTA_UPDATE_INSTALLED || r == OTA_UPDATE_CURRENT)
            break;
        describe(why, sizeof(why), r, &o, &net, &u);
        /* A run that stored blocks for good got somewhere: the count starts
         * again. (A download given up for a bad whole-image CRC did not.) */
        if (made_progress(&u)) {
            failures = 0;
            backoff = BACKOFF_FIRST_MS;
        }
        if (!worth_retrying(r, &net) || ++failures >= o.retries) {
            if (worth_retrying(r, &net))
                msg("%s (gave up after %u attempt%s)", why, attempts, attempts == 1 ? "" : "s");
            else
                msg("%s", why);
            goto fail;
        }
        if (!o.quiet)
            msg("attempt %u failed: %s; retrying in %.2f s", attempts, why, backoff / 1000.0);
        ota_port_sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }

    if (r == OTA_UPDATE_CURRENT) {
        if (!o.quiet)
            msg("%s: up to date: the server has version %" PRIu32 ", version %" PRIu32
                " is installed", o.name, u.header.version, o.installed);
        if (o.out != NULL && !o.quiet)
            msg("nothing downloaded; %s not written", o.out);
        fprintf(report, "otaget: %s version %" PRIu32 " up to date (installed %" PRIu32
                "): %" PRIu32 " bytes, crc 0x%08" PRIx32 ", %" PRIu32 " blocks fetched, "
                "%u attempt%s, %.2f s\n", o.name, u.header.version, o.installed,
                u.header.binsize, u.header.checksum, fetched, attempts,
                attempts == 1 ? "" : "s", (now_ms() - start) / 1000.0);
    } else {
        if (!any_block)
            first = u.first_block; /* a resume with every block already stored */
        if (o.out != NULL) {
            r = write_image(o.out, u.header.binsize);
            if (r < 0) {
                msg("cannot write %s: %s", o.out, strerror(-r));
                goto fail;
            }
        }
        fprintf(report, "otaget: %s version %" PRIu32 " installed: %" PRIu32 " bytes, crc 0x%08"
                PRIx32 ", %" PRIu32 " blocks fetched from block %" PRIu32, o.name,
                u.header.version, u.header.binsize, u.header.checksum, fetched, first);
        if (resumed_at > 0)
            fprintf(report, " (resumed at block %" PRIu32 ")", resumed_at);
        fprintf(report, ", %u attempt%s, %.2f s\n", attempts, attempts == 1 ? "" : "s",
                (now_ms() - start) / 1000.0);
    }
    fflush(report);
    host_flash_close();
    return EXIT_SUCCESS;

fail:
    host_flash_close();
    return EXIT_FAILURE;
}
