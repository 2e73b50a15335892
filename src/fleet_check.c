/* SPDX-License-Identifier: MIT */
/* fleet_check: the checks of the Arduino ESP updaters (espota.h), made of
 * the registry's public calls. They ask for the whole image at every check
 * and say which sketch they run, never how the install went: a check
 * answered 304 for the version a download of theirs was of is the only
 * sign that it was installed. */
#include "fleet.h"

#include <stdio.h>
#include <string.h>

#include "scalar.h"

/* True when @d's last download was of version @offered of firmware @name
 * and no check since said it runs it. */
static bool after_download(const struct fleet_device *d, const char *name, size_t len,
                           uint32_t offered)
{
    return (d->state == FLEET_DOWNLOADING || d->state == FLEET_DOWNLOADED ||
            d->state == FLEET_STALLED) &&
           d->offered == offered && strlen(d->firmware) == len &&
           memcmp(d->firmware, name, len) == 0;
}

int fleet_check(struct fleet *f, struct fleet_tag **tag, const char *id, const char *address,
                const char *name, size_t len, uint32_t offered, bool up_to_date,
                const char *runs, uint32_t blocks, int64_t now_ms)
{
    struct fleet_report_result ignored;
    struct fleet_device d;
    uint64_t installed = 0;
    bool has_installed, installs = false;
    size_t nevents;
    char body[48];
    int r;

    has_installed = runs != NULL && scalar_uint(runs, &installed) == 0 && installed <= UINT32_MAX;
    if (up_to_date) {
        has_installed = true;
        installed = offered;
        installs = fleet_get(f, id != NULL ? id : address, &d, NULL, 0, &nevents) == 0 &&
                   after_download(&d, name, len, offered);
    }
    r = fleet_header(f, tag, id, address, name, len, offered, has_installed,
                     (uint32_t)installed, blocks, now_ms);
    if (installs) {
        /* As the device would report it: in its history, counted, with the
         * report's budget for its address. */
        snprintf(body, sizeof(body), "status=installed&version=%u", offered);
        fleet_report(f, tag, id, address, name, len, true, body, strlen(body), now_ms,
                     &ignored);
    }
    return r;
}
