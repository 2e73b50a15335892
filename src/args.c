/* SPDX-License-Identifier: MIT */
#include "args.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: otad [OPTIONS]\n"
            "       otad export [-c FILE] [-d DIR] --out OUT\n"
            "Serve firmware images to devices over the block OTA protocol, or export them\n"
            "as a static tree for nginx, an object store or a CDN.\n"
            "\n"
            "  -c, --config FILE        read settings from FILE (default %s, if present)\n"
            "  -d, --firmware-dir DIR   serve NAME.bin + NAME.txt files from DIR\n"
            "  -b, --bind ADDR          listen on the IPv4 or IPv6 address ADDR\n"
            "  -p, --port N             listen on TCP port N\n"
            "      --check-config       validate the configuration and exit\n"
            "  -o, --out OUT            export: write the tree into OUT\n"
            "  -V, --version            print the version and exit\n"
            "  -h, --help               print this help and exit\n"
            "\n"
            "Options override the configuration file. See otad(8) and otad.yaml(5).\n",
            OTAD_DEFAULT_CONFIG);
}

int args_parse(int argc, char **argv, struct args *a)
{
    enum { OPT_CHECK = 256 };
    bool export = argc > 1 && strcmp(argv[1], "export") == 0;
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"firmware-dir", required_argument, NULL, 'd'},
        {"bind", required_argument, NULL, 'b'},
        {"port", required_argument, NULL, 'p'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"out", required_argument, NULL, 'o'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    if (export) {
        /* getopt reads on from the command's name as if it were argv[0]. */
        argc--;
        argv++;
    }
    while ((opt = getopt_long(argc, argv, "c:d:b:p:o:Vh", options, NULL)) != -1) {
        const char *key = NULL;

        switch (opt) {
        case 'c':
            a->config = optarg;
            break;
        case 'd':
            key = "firmware_dir";
            break;
        case 'b':
            key = "bind";
            break;
        case 'p':
            key = "port";
            break;
        case OPT_CHECK:
            a->check_config = true;
            break;
        case 'o':
            a->export_out = optarg;
            break;
        case 'V':
            printf("otad %s\n", OTAD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (key != NULL) {
            size_t i;

            /* A repeated flag replaces the earlier one. */
            for (i = 0; i < a->noverrides && strcmp(a->overrides[i][0], key) != 0; i++)
                ;
            a->overrides[i][0] = key;
            a->overrides[i][1] = optarg;
            if (i == a->noverrides)
                a->noverrides++;
        }
    }
    if (optind < argc || export != (a->export_out != NULL)) {
        if (optind < argc)
            fprintf(stderr, "otad: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "otad: --out %s\n", export ? "is required by export"
                                                        : "is for otad export only");
        usage(stderr);
        return 2;
    }
    return -1;
}
