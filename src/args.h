/* SPDX-License-Identifier: MIT */
/* The command line: options that stand for configuration keys (they
 * override the file), and those that print and exit. */
#ifndef OTAD_ARGS_H
#define OTAD_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct args {
    const char *config;      /* NULL: the default file, if it exists */
    const char *overrides[3][2];  /* key, value pairs from flags */
    size_t noverrides;
    bool check_config;
    const char *export_out;  /* otad export --out DIR: write the tree and exit */
};

/* Parses @argv into @a (after "export", the command's: --out is required
 * there and only there) (which starts zeroed; its strings point into @argv).
 * Returns -1 to go on, or the exit status after printing the version, the
 * help, or a usage error. */
int args_parse(int argc, char **argv, struct args *a);

#endif
