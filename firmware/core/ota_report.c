/* SPDX-License-Identifier: MIT */
#include "ota_report.h"

#include "ota_err.h"
#include "ota_fmt.h"
#include "ota_http.h"
#include "ota_log.h"
#include "ota_port.h"
#include "ota_update.h"

/* As on the wire (otad's fleet_status_name and fleet_reason_name). */
static const char *const status_name[] = {
    [OTA_REPORT_INSTALLED] = "installed", [OTA_REPORT_CONFIRMED] = "confirmed",
    [OTA_REPORT_REVERTED] = "reverted",   [OTA_REPORT_FAILED] = "failed",
};
static const char *const reason_name[] = {
    [OTA_REASON_NONE] = "",           [OTA_REASON_CRC] = "crc",
    [OTA_REASON_SIGNATURE] = "signature", [OTA_REASON_DOWNGRADE] = "downgrade",
    [OTA_REASON_TOO_LARGE] = "too-large", [OTA_REASON_FLASH] = "flash",
    [OTA_REASON_TIMEOUT] = "timeout", [OTA_REASON_REJECTED] = "rejected",
};

enum ota_report_reason ota_report_reason(const struct ota_update *u, int r)
{
    /* Without the header the device knows no version to speak of, and the
     * server is most likely not there to hear it. */
    if (!u->have_header)
        return OTA_REASON_NONE;
    switch (r) {
    case OTA_UPDATE_REJECTED:
    case OTA_ERR_REJECTED:
        return OTA_REASON_REJECTED;
    case OTA_ERR_CRC:
        return OTA_REASON_CRC;
    case OTA_ERR_UNSIGNED:
        return OTA_REASON_SIGNATURE;
    case OTA_ERR_UNTRUSTED:
        return u->verdict == OTA_TRUST_DOWNGRADE ? OTA_REASON_DOWNGRADE
               : u->verdict == OTA_TRUST_NO_ROOM ? OTA_REASON_TOO_LARGE
                                                 : OTA_REASON_SIGNATURE;
    case OTA_ERR_FLASH:
    case OTA_ERR_STATE:
        return OTA_REASON_FLASH;
    case OTA_ERR_PROTOCOL:
        return u->too_large ? OTA_REASON_TOO_LARGE : OTA_REASON_NONE;
    case OTA_ERR_TIMEOUT:
    case OTA_ERR_NET:
        return OTA_REASON_TIMEOUT;
    default:
        return OTA_REASON_NONE;
    }
}

static uint32_t put(char *buf, uint32_t pos, uint32_t max, const char *s)
{
    while (*s != '\0' && pos < max - 1)
        buf[pos++] = *s++;
    buf[pos] = '\0';
    return pos;
}

int ota_report_send(const struct ota_config *cfg, enum ota_report_status status,
                    uint32_t version, enum ota_report_reason why)
{
    char path[96], form[64], num[OTA_FMT_DEC_MAX + 1];
    struct ota_http_req rq = {.path = path, .form = form, .identify = true};
    const char *name = ota_port_server()->name;
    struct ota_http c;
    uint32_t len = 0, code = 0, n;
    int r;

    if (cfg->anonymous)
        return 0;
    n = put(path, 0, sizeof(path), "/");
    n = put(path, n, sizeof(path), name);
    if (put(path, n, sizeof(path), "/report") == sizeof(path) - 1)
        return OTA_ERR_PROTOCOL; /* a cut path could name another firmware */
    num[ota_fmt_dec(num, OTA_FMT_DEC_MAX, version)] = '\0';
    n = put(form, 0, sizeof(form), "status=");
    n = put(form, n, sizeof(form), status_name[status]);
    n = put(form, n, sizeof(form), "&version=");
    n = put(form, n, sizeof(form), num);
    if (why != OTA_REASON_NONE) {
        n = put(form, n, sizeof(form), "&reason=");
        put(form, n, sizeof(form), reason_name[why]);
    }
    ota_http_init(&c, cfg);
    if (cfg->report_timeout_ms != 0)
        c.timeout_ms = cfg->report_timeout_ms;
    ota_port_watchdog_feed();
    r = ota_http_request(&c, &rq, NULL, 0, &len, &code);
    ota_http_close(&c);
    if (r == OTA_OK || r == OTA_ERR_STATUS) {
        ota_logf("report: %s version %u%s%s: %u", status_name[status], version,
                 why != OTA_REASON_NONE ? " " : "", reason_name[why], code);
        return (int)code;
    }
    ota_logf("report: %s version %u: no answer (%d)", status_name[status], version, (int32_t)r);
    return r;
}
