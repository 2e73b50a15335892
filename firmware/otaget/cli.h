/* SPDX-License-Identifier: MIT */
/* otaget's command line: the options and the URL, checked and split into
 * what the transport and the engine need. */
#ifndef OTAGET_CLI_H
#define OTAGET_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The engine builds "/NAME/block/N" in 96 bytes (a longer name is cut) and
 * the request, Host and X-Device-* headers included, in 512: both fit with
 * these. */
#define CLI_NAME_MAX 64u
#define CLI_HOST_MAX 64u
/* An X-Device-Id, as otad takes it. */
#define CLI_DEVICE_ID_MAX 64u
/* --pub files: as many as a bootloader's table would reasonably hold. */
#define CLI_PUB_MAX 8u

/* Exit statuses, documented in otaget.1, one per kind of failure so that a
 * script can tell them apart (as curl's and wget's). */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* installed, or up to date */
    CLI_EXIT_FAILURE = 1,     /* anything else: a key file, writing --out */
    CLI_EXIT_USAGE = 2,       /* the command line */
    CLI_EXIT_CONNECT = 3,     /* cannot resolve, connect, or the connection failed or timed out */
    CLI_EXIT_HTTP = 4,        /* an error status, or answers that are not the block protocol */
    CLI_EXIT_VERIFY = 5,      /* a CRC, the signature or the manifest failed */
    CLI_EXIT_FLASH = 6,       /* the simulated flash: opening, writing or its boot state */
};

/* What cli_parse() found besides options to run with. */
enum { CLI_HELP = 1, CLI_VERSION = 2 };

struct cli_options {
    char host[CLI_HOST_MAX + 1];     /* as in the URL, without brackets: "::1", "localhost" */
    uint16_t port;
    char name[CLI_NAME_MAX + 1];
    bool have_installed;
    uint32_t installed;
    const char *out;                 /* borrowed from argv, NULL: none */
    const char *flash;               /* borrowed from argv, NULL: in memory */
    unsigned retries;
    uint32_t timeout_ms;
    uint32_t delay_ms;
    bool verbose;
    bool quiet;
    const char *pub[CLI_PUB_MAX];    /* --pub files, borrowed from argv */
    unsigned npub;
    const char *device_id;           /* --device-id, borrowed from argv; NULL:
                                        a legacy client, no reports */
};

/* Prints the help text to @f. */
void cli_usage(FILE *f);

/* Fills @ret from the command line: 0, CLI_HELP for --help, CLI_VERSION
 * for --version, or -EINVAL after printing what is wrong to stderr. */
int cli_parse(int argc, char **argv, struct cli_options *ret);

#endif
