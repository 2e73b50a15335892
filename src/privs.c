/* SPDX-License-Identifier: MIT */
#include "privs.h"

#include <errno.h>
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int privs_lookup(const char *user, struct privs *ret, char *err, size_t errlen)
{
    struct passwd *pw;
    char *end;
    unsigned long n;

    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL && user[0] >= '0' && user[0] <= '9') {
        n = strtoul(user, &end, 10);
        if (*end == '\0' && n < (unsigned long)(uid_t)-1)
            pw = getpwuid((uid_t)n);
    }
    if (pw == NULL) {
        /* "Not found" comes as one of these, or as none; others are real
         * errors of the lookup (getpwnam(3)). */
        bool missing = errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF ||
                       errno == EPERM;

        snprintf(err, errlen, "user: no user '%s'%s%s", user, missing ? "" : ": ",
                 missing ? "" : strerror(errno));
        return -ENOENT;
    }
    *ret = (struct privs){
        .uid = pw->pw_uid,
        .gid = pw->pw_gid,
        .drop = geteuid() == 0 && pw->pw_uid != 0,
    };
    return 0;
}

int privs_drop(const struct privs *p, char *err, size_t errlen)
{
    if (!p->drop)
        return 0;
    /* Groups first: once the uid is not 0, they can no longer be changed. */
    if (setgroups(0, NULL) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
        setresuid(p->uid, p->uid, p->uid) < 0) {
        int e = errno;

        snprintf(err, errlen, "cannot become uid %u gid %u: %s", (unsigned)p->uid,
                 (unsigned)p->gid, strerror(e));
        return -e;
    }
    if (setuid(0) == 0 || geteuid() == 0) {
        snprintf(err, errlen, "root could be regained after dropping it");
        return -EPERM;
    }
    return 0;
}
