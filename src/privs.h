/* SPDX-License-Identifier: MIT */
/* Dropping root. Started as root (by hand, or by an init system that does
 * not set a user), otad binds its ports and loads its TLS key first, then
 * becomes an unprivileged user before it reads a single firmware file, so a
 * symlink in the firmware directory cannot make it serve what only root may
 * read. Started as any other user it changes nothing. */
#ifndef OTAD_PRIVS_H
#define OTAD_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The user and its primary group that privs_drop() would switch to. */
struct privs {
    uid_t uid;
    gid_t gid;
    bool drop;  /* false: not root, or @user is root itself: nothing to do */
};

/* Looks @user up (a name, or a numeric uid) for the current process. Returns
 * 0; or -ENOENT when there is no such user, with a message in @err. Done
 * before anything is opened, so that a wrong name fails at once. */
int privs_lookup(const char *user, struct privs *ret, char *err, size_t errlen);

/* Switches to @p's user: its supplementary groups, then the group, then the
 * user, and checks that root cannot be regained. Returns 0 or a negative
 * errno with a message in @err. Must be called before any thread starts. */
int privs_drop(const struct privs *p, char *err, size_t errlen);

#endif
