/* SPDX-License-Identifier: MIT */
/* Reports to the server how an update ended: POST /NAME/report with
 * status=S&version=V[&reason=R] (otad(8), FLEET), the device named by its
 * X-Device-Id. The version is the one the update was about: the image
 * installed, confirmed, reverted or refused.
 *
 * A report is best effort: one attempt on a fresh connection that waits at
 * most cfg->report_timeout_ms; any answer ends it (204, or 404 from an otad
 * that does not track devices), and nothing is retried, so a report never
 * holds a boot up by more than one short exchange. */
#ifndef OTA_REPORT_H
#define OTA_REPORT_H

#include <stdint.h>

#include "ota_boot.h"

struct ota_update;

enum ota_report_status {
    OTA_REPORT_INSTALLED,
    OTA_REPORT_CONFIRMED,
    OTA_REPORT_REVERTED,
    OTA_REPORT_FAILED,
};

enum ota_report_reason {
    OTA_REASON_NONE,       /* not a refusal worth a report */
    OTA_REASON_CRC,        /* a block or the whole image failed its CRC */
    OTA_REASON_SIGNATURE,  /* no manifest, or one that does not verify */
    OTA_REASON_DOWNGRADE,  /* a signed image below the anti-rollback floor */
    OTA_REASON_TOO_LARGE,  /* the image (with its manifest) does not fit */
    OTA_REASON_FLASH,      /* erase, program, read-back or boot state failed */
    OTA_REASON_TIMEOUT,    /* the server stopped answering after its header */
    OTA_REASON_REJECTED,   /* the image this device reverted before */
};

/* The reason the update attempt @u, which ended with @r, is reported as
 * failed for; OTA_REASON_NONE when there is nothing to report (it did not
 * get the server's header, or @r is no failure). */
enum ota_report_reason ota_report_reason(const struct ota_update *u, int r);

/* Sends one report about @version: returns the status of the answer, a
 * negative ota_err when none came, or 0 without sending (cfg->anonymous). */
int ota_report_send(const struct ota_config *cfg, enum ota_report_status status,
                    uint32_t version, enum ota_report_reason why);

#endif
