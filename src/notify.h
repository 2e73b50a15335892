/* SPDX-License-Identifier: MIT */
/* Readiness and status notifications to the service manager (sd_notify
 * protocol), without linking libsystemd. */
#ifndef OTAD_NOTIFY_H
#define OTAD_NOTIFY_H

/* Sends @state (e.g. "READY=1") to $NOTIFY_SOCKET. Returns 0 when sent or
 * when not running under a service manager; a negative errno otherwise. */
int notify_send(const char *state);

#endif
