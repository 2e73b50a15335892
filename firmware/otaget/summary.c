/* SPDX-License-Identifier: MIT */
#include "summary.h"

#include <inttypes.h>
#include <netdb.h>
#include <string.h>

#include "host_tcp.h"
#include "ota_err.h"
#include "ota_flash.h"
#include "ota_port.h"
#include "ota_state.h"
#include "progress.h"

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

bool summary_worth_retrying(int r, const struct watch *w)
{
    switch (r) {
    case OTA_ERR_STATUS:
        /* 416: the image shrank under the download; the next header says so.
         * Other 4xx: the name or the request is wrong, and stays wrong. */
        return w->last_status == 416 || w->last_status == 408 || w->last_status == 429 ||
               w->last_status >= 500;
    case OTA_ERR_PROTOCOL:
    case OTA_ERR_FLASH:
    case OTA_ERR_STATE:
    case OTA_ERR_UNSIGNED:
    case OTA_ERR_UNTRUSTED:
        return false;
    case OTA_ERR_NET:
        return !(w->tcp.fail == HOST_TCP_RESOLVE && w->tcp.fail_gai == EAI_NONAME);
    default:
        return true; /* timeouts, lost or garbled connections, CRC */
    }
}

int summary_exit_status(int r)
{
    switch (r) {
    case OTA_ERR_NET:
    case OTA_ERR_TIMEOUT:
        return CLI_EXIT_CONNECT;
    case OTA_ERR_STATUS:
    case OTA_ERR_HTTP:
    case OTA_ERR_HEADERS:
    case OTA_ERR_NO_LENGTH:
    case OTA_ERR_TOO_BIG:
    case OTA_ERR_PROTOCOL:
        return CLI_EXIT_HTTP;
    case OTA_ERR_CRC:
    case OTA_ERR_UNSIGNED:
    case OTA_ERR_UNTRUSTED:
    case OTA_ERR_REJECTED:
        return CLI_EXIT_VERIFY;
    case OTA_ERR_FLASH:
    case OTA_ERR_STATE:
        return CLI_EXIT_FLASH;
    default:
        return CLI_EXIT_FAILURE;
    }
}

/* The connection failed: how. */
static void describe_net(char *buf, size_t max, const char *host, uint16_t port,
                         const struct host_tcp *t)
{
    switch (t->fail) {
    case HOST_TCP_RESOLVE:
        snprintf(buf, max, "cannot resolve %s: %s", t->host,
                 t->fail_gai == EAI_SYSTEM ? strerror(t->fail_errno)
                                           : gai_strerror(t->fail_gai));
        return;
    case HOST_TCP_CONNECT:
        snprintf(buf, max, "cannot connect to %s:%u: %s", host, port,
                 strerror(t->fail_errno));
        return;
    case HOST_TCP_CLOSED:
        snprintf(buf, max, "%s:%u closed the connection", host, port);
        return;
    case HOST_TCP_SEND:
    case HOST_TCP_RECV:
        snprintf(buf, max, "connection to %s:%u lost: %s", host, port,
                 strerror(t->fail_errno));
        return;
    default:
        snprintf(buf, max, "network error");
        return;
    }
}

/* The server's header was refused: why. */
static void describe_header(char *buf, size_t max, const char *name, const struct ota_header *h)
{
    uint32_t area = ota_area_size(ota_port_flash_map(), OTA_AREA_PRIMARY);

    if (h->binsize > area)
        snprintf(buf, max, "%s: the image is too large: %" PRIu32 " bytes, the "
                 "application area holds %" PRIu32 " (%" PRIu32 " KiB)", name,
                 h->binsize, area, area / 1024);
    else if (h->blocksize != 0 || h->binsize != 0)
        snprintf(buf, max, "%s: unusable header: version %" PRIu32 ", %" PRIu32
                 " bytes, %" PRIu32 " blocks of %" PRIu32, name, h->version,
                 h->binsize, h->blocknum, h->blocksize);
    else
        snprintf(buf, max, "%s: the server does not speak the block protocol "
                 "(a response of the wrong size)", name);
}

void summary_describe(char *buf, size_t max, int r, const struct cli_options *o,
                      const struct watch *w, const struct ota_update *u)
{
    const struct ota_header *h = &u->header;
    const char *host = ota_port_server()->host; /* IPv6 in brackets */

    switch (r) {
    case OTA_ERR_NET:
        describe_net(buf, max, host, o->port, &w->tcp);
        return;
    case OTA_ERR_TIMEOUT:
        snprintf(buf, max, "no answer from %s:%u within %" PRIu32 " s", host, o->port,
                 o->timeout_ms / 1000);
        return;
    case OTA_ERR_STATUS:
        if (w->last_status == 404)
            snprintf(buf, max, "%s: not found on the server (HTTP 404 Not Found)", o->name);
        else if (w->last_status == 416)
            snprintf(buf, max, "%s: block out of range (HTTP 416): the image changed during "
                     "the download", o->name);
        else
            snprintf(buf, max, "%s: the server answered HTTP %" PRIu32 " %s", o->name,
                     w->last_status, reason_phrase(w->last_status));
        return;
    case OTA_ERR_PROTOCOL:
        describe_header(buf, max, o->name, h);
        return;
    case OTA_ERR_CRC:
        /* The engine gives a download up only when the whole image fails. */
        if (u->store->cur.flags & OTA_STATE_DOWNLOADING)
            snprintf(buf, max, "%s: block %" PRIu32 " failed its CRC %" PRIu32 " times", o->name,
                     ota_state_blocks_done(u->store, h->blocknum), u->cfg->block_retries);
        else
            snprintf(buf, max, "%s: the downloaded image does not match the header's CRC "
                     "0x%08" PRIX32 " (the image changed, or the server is wrong)", o->name,
                     h->checksum);
        return;
    case OTA_ERR_HTTP:
    case OTA_ERR_HEADERS:
    case OTA_ERR_NO_LENGTH:
    case OTA_ERR_TOO_BIG:
        snprintf(buf, max, "malformed HTTP response from %s:%u (error %d)", host,
                 o->port, r);
        return;
    case OTA_ERR_FLASH:
        snprintf(buf, max, "the simulated flash failed (erase, program or read-back)");
        return;
    case OTA_ERR_STATE:
        snprintf(buf, max, "the boot state cannot be written to the simulated flash");
        return;
    case OTA_ERR_UNSIGNED:
        snprintf(buf, max, "%s version %" PRIu32 ": no manifest on the server (not signed)",
                 o->name, h->version);
        return;
    case OTA_ERR_UNTRUSTED:
        snprintf(buf, max, "%s version %" PRIu32 " refused: %s", o->name, h->version,
                 ota_trust_str(u->verdict));
        return;
    default:
        snprintf(buf, max, "error %d", r);
        return;
    }
}

void summary_up_to_date(FILE *f, const struct cli_options *o, const struct ota_update *u,
                        const struct summary *s)
{
    if (!o->quiet)
        progress_msg("%s: up to date: the server has version %" PRIu32 ", version %" PRIu32
                     " is installed", o->name, u->header.version, o->installed);
    if (o->out != NULL && !o->quiet)
        progress_msg("nothing downloaded; %s not written", o->out);
    fprintf(f, "otaget: %s version %" PRIu32 " up to date (installed %" PRIu32 "): %" PRIu32
            " bytes, crc 0x%08" PRIX32 ", %" PRIu32 " blocks fetched, %u attempt%s, %.2f s\n",
            o->name, u->header.version, o->installed, u->header.binsize, u->header.checksum,
            s->fetched, s->attempts, s->attempts == 1 ? "" : "s",
            (progress_now_ms() - s->start_ms) / 1000.0);
}

void summary_installed(FILE *f, const struct cli_options *o, const struct ota_update *u,
                       const struct summary *s)
{
    fprintf(f, "otaget: %s version %" PRIu32 " installed: %" PRIu32 " bytes, crc 0x%08" PRIX32
            ", %" PRIu32 " blocks fetched from block %" PRIu32, o->name, u->header.version,
            u->header.binsize, u->header.checksum, s->fetched, s->first);
    if (s->resumed_at > 0)
        fprintf(f, " (resumed at block %" PRIu32 ")", s->resumed_at);
    fprintf(f, ", %u attempt%s, %.2f s\n", s->attempts, s->attempts == 1 ? "" : "s",
            (progress_now_ms() - s->start_ms) / 1000.0);
}
