/* SPDX-License-Identifier: MIT */
/* otasign: makes signing keys, signs firmware images for otad and checks
 * signatures, with the module otad checks them with (sign.c). See
 * otasign(1).
 *
 * A firmware is DIR/NAME.bin with its version in DIR/NAME.txt, read by the
 * rules otad follows (version.c), and its manifest in DIR/NAME.sig. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "config.h"
#include "crc.h"
#include "escape.h"
#include "file.h"
#include "generation.h"
#include "sign.h"
#include "version.h"

/* Exit codes: verify says 1 for a manifest that does not verify; every
 * command says 2 for bad usage or a file it cannot read or write. */
enum { EXIT_BAD = 1, EXIT_USAGE = 2 };

/* Enough trusted keys for any rotation; a bound on the command line too. */
#define MAX_PUBS 16

/* A firmware named by its .bin path, read into memory. */
struct firmware {
    int dirfd;
    char *dir;                       /* "." when the path has no '/' */
    char name[OTA_MANIFEST_NAME_MAX + 1];
    char txt[OTA_MANIFEST_NAME_MAX + 5];
    char sig[OTA_MANIFEST_NAME_MAX + 5];
    uint8_t *image;
    size_t size;
    uint32_t crc;
    uint32_t version;
};

static const char *progname = "otasign";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s keygen KEY\n"
            "       %s sign --key KEY DIR/NAME.bin\n"
            "       %s verify --pub KEY.pub [--pub KEY.pub ...] DIR/NAME.bin\n"
            "       %s --help | --version\n",
            progname, progname, progname, progname);
}

/* An untrusted string (a path) made printable; one static buffer per slot. */
static const char *esc(const char *s, int slot)
{
    static char buf[2][ESCAPE_NAME_SIZE];

    return escape_name(s, buf[slot], sizeof(buf[slot]));
}

/* Fills the names of @fw from the path @bin: NAME is the file name without
 * its ".bin" (any case, as otad matches it), one otad would serve. */
static int firmware_names(struct firmware *fw, const char *bin)
{
    const char *slash = strrchr(bin, '/'), *file = slash ? slash + 1 : bin;
    size_t len = strlen(file);

    if (len <= 4 || strcasecmp(file + len - 4, ".bin") != 0 || file[0] == '.') {
        fprintf(stderr, "%s: %s: not a firmware file NAME.bin\n", progname, esc(bin, 0));
        return -EINVAL;
    }
    if (len - 4 > OTA_MANIFEST_NAME_MAX) {
        fprintf(stderr, "%s: %s: the name is longer than %u bytes\n", progname, esc(bin, 0),
                OTA_MANIFEST_NAME_MAX);
        return -EINVAL;
    }
    memcpy(fw->name, file, len - 4);
    fw->name[len - 4] = 0;
    if (!escape_name_ok(fw->name)) {
        fprintf(stderr, "%s: %s: the name is not UTF-8 without control characters\n",
                progname, esc(bin, 0));
        return -EINVAL;
    }
    snprintf(fw->txt, sizeof(fw->txt), "%s.txt", fw->name);
    snprintf(fw->sig, sizeof(fw->sig), "%s.sig", fw->name);
    fw->dir = slash ? strndup(bin, slash == bin ? 1 : (size_t)(slash - bin)) : strdup(".");
    return fw->dir == NULL ? -ENOMEM : 0;
}

/* Reads the whole image: 1 byte to GENERATION_MAX_SIZE, otad's bounds. */
static int read_image(struct firmware *fw, const char *bin)
{
    struct stat st;
    ssize_t n;
    int fd;

    fd = file_open_regular(AT_FDCWD, bin, &st);
    if (fd < 0)
        return fd;
    if (st.st_size == 0 || (uint64_t)st.st_size > GENERATION_MAX_SIZE) {
        close(fd);
        return st.st_size == 0 ? -ENODATA : -EFBIG;
    }
    fw->size = (size_t)st.st_size;
    /* One byte more tells a file that grows while it is read. */
    fw->image = malloc(fw->size + 1);
    if (fw->image == NULL) {
        close(fd);
        return -ENOMEM;
    }
    n = file_read_upto(fd, fw->image, fw->size + 1);
    close(fd);
    if (n < 0)
        return (int)n;
    if ((size_t)n != fw->size)
        return -ESTALE;
    fw->crc = crc_update(0, fw->image, fw->size);
    return 0;
}

/* NAME.txt as otad reads it: a missing or invalid file means
 * VERSION_DEFAULT. Signing says so on stderr, since it is rarely meant;
 * verify keeps to its one line. */
static void read_version(struct firmware *fw, bool say)
{
    int r = version_read(fw->dirfd, fw->txt, &fw->version);

    if (r < 0)
        fw->version = VERSION_DEFAULT;
    if (r < 0 && say)
        fprintf(stderr, "%s: %s/%s: %s; version %u, as otad uses\n", progname, esc(fw->dir, 0),
                fw->txt, r == -ENOENT ? "missing" : "not a version", VERSION_DEFAULT);
}

static void firmware_free(struct firmware *fw)
{
    if (fw->dirfd >= 0)
        close(fw->dirfd);
    free(fw->dir);
    free(fw->image);
}

/* Loads the firmware at the path @bin; @say: warn of a default version.
 * Returns 0, or -1 after saying why. */
static int firmware_load(struct firmware *fw, const char *bin, bool say)
{
    int r;

    *fw = (struct firmware){.dirfd = -1};
    if (firmware_names(fw, bin) < 0)
        return -1;
    fw->dirfd = open(fw->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fw->dirfd < 0) {
        fprintf(stderr, "%s: %s: %s\n", progname, esc(fw->dir, 0), strerror(errno));
        return -1;
    }
    r = read_image(fw, bin);
    if (r < 0) {
        fprintf(stderr, "%s: %s: %s\n", progname, esc(bin, 0),
                r == -ENODATA ? "empty image" : r == -EFBIG ? "image larger than 4 GiB - 1"
                : r == -ESTALE ? "changed while read" : strerror(-r));
        return -1;
    }
    read_version(fw, say);
    return 0;
}

/* Writes the manifest @raw to NAME.sig atomically: a new temporary file in
 * the same directory, synced, then renamed over NAME.sig, then the
 * directory synced. On failure nothing is left behind. */
static int write_sig(const struct firmware *fw, const uint8_t raw[OTA_MANIFEST_SIZE])
{
    char tmp[sizeof(fw->sig) + 16];
    uint32_t rnd;
    ssize_t n;
    int fd = -1, r;

    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
            return -errno;
        /* A dot file: otad reads no such name. */
        snprintf(tmp, sizeof(tmp), ".%s.%08x", fw->sig, rnd);
        fd = openat(fw->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    n = write(fd, raw, OTA_MANIFEST_SIZE);
    r = n == (ssize_t)OTA_MANIFEST_SIZE ? 0 : n < 0 ? -errno : -EIO;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(fw->dirfd, tmp, fw->dirfd, fw->sig) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(fw->dirfd, tmp, 0);
        return r;
    }
    return fsync(fw->dirfd) < 0 ? -errno : 0;
}

static int cmd_keygen(int argc, char **argv)
{
    int r;

    if (argc != 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    r = sign_keygen(argv[1]);
    if (r < 0) {
        fprintf(stderr, "%s: %s: %s\n", progname, esc(argv[1], 0),
                r == -EEXIST ? "the key or its .pub exists already; nothing written"
                             : strerror(-r));
        return EXIT_USAGE;
    }
    printf("wrote %s (private, mode 0600) and %s.pub\n", esc(argv[1], 0), esc(argv[1], 1));
    return 0;
}

/* Parses [--key KEY | --pub KEY.pub ...] DIR/NAME.bin. Returns the .bin
 * path, or NULL after printing the usage. */
static const char *parse(int argc, char **argv, const char *opt, const char **vals, size_t *nvals,
                         size_t max)
{
    const struct option longopts[] = {{opt, required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    int c;

    *nvals = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (c != 'o' || *nvals == max) {
            if (c == 'o')
                fprintf(stderr, "%s: at most %zu --%s\n", progname, max, opt);
            usage(stderr);
            return NULL;
        }
        vals[(*nvals)++] = optarg;
    }
    if (*nvals == 0 || optind != argc - 1) {
        usage(stderr);
        return NULL;
    }
    return argv[optind];
}

static int cmd_sign(int argc, char **argv)
{
    uint8_t raw[OTA_MANIFEST_SIZE];
    const char *key, *bin;
    struct ota_manifest m;
    struct firmware fw;
    char hex[2 * OTA_MANIFEST_KEY_ID + 1];
    size_t nkeys;
    int r;

    bin = parse(argc, argv, "key", &key, &nkeys, 1);
    if (bin == NULL)
        return EXIT_USAGE;
    if (firmware_load(&fw, bin, true) < 0) {
        firmware_free(&fw);
        return EXIT_USAGE;
    }
    r = sign_make(key, fw.name, fw.version, fw.image, fw.size, fw.crc, raw);
    if (r < 0) {
        fprintf(stderr, "%s: %s: %s\n", progname, esc(key, 0),
                r == -EINVAL ? "not a P-256 private key (PKCS#8 PEM)" : strerror(-r));
        firmware_free(&fw);
        return EXIT_USAGE;
    }
    r = write_sig(&fw, raw);
    if (r < 0) {
        fprintf(stderr, "%s: %s/%s: %s\n", progname, esc(fw.dir, 0), fw.sig, strerror(-r));
        firmware_free(&fw);
        return EXIT_USAGE;
    }
    ota_manifest_decode(raw, sizeof(raw), &m);
    sign_key_id_hex(m.key_id, hex);
    printf("%s/%s: %s version %u, %zu bytes, key %s\n", esc(fw.dir, 0), fw.sig, fw.name,
           fw.version, fw.size, hex);
    firmware_free(&fw);
    return 0;
}

/* Reads NAME.sig: up to one byte more than a manifest, so that sign_check()
 * sees an oversized one as it is. */
static ssize_t read_sig(const struct firmware *fw, uint8_t buf[OTA_MANIFEST_SIZE + 1])
{
    struct stat st;
    ssize_t n;
    int fd = file_open_regular(fw->dirfd, fw->sig, &st);

    if (fd < 0)
        return fd;
    n = file_read_upto(fd, buf, OTA_MANIFEST_SIZE + 1);
    close(fd);
    return n;
}

static int verify(const struct firmware *fw, const struct sign_key *keys, size_t nkeys,
                  const char **paths)
{
    uint8_t raw[OTA_MANIFEST_SIZE + 1];
    char hex[2 * OTA_MANIFEST_KEY_ID + 1];
    enum sign_verdict v;
    ssize_t len;
    size_t by;

    len = read_sig(fw, raw);
    if (len < 0) {
        fprintf(stderr, "%s: %s/%s: %s\n", progname, esc(fw->dir, 0), fw->sig,
                strerror((int)-len));
        return EXIT_USAGE;
    }
    v = sign_check(raw, (size_t)len, keys, nkeys, fw->name, fw->version, fw->image, fw->size,
                   fw->crc, &by);
    if (v != SIGN_OK) {
        fprintf(stderr, "%s: %s/%s: %s\n", progname, esc(fw->dir, 0), fw->sig,
                sign_verdict_str(v));
        return EXIT_BAD;
    }
    sign_key_id_hex(keys[by].id, hex);
    printf("%s/%s: %s version %u, %zu bytes, signed by key %s (%s)\n", esc(fw->dir, 0), fw->sig,
           fw->name, fw->version, fw->size, hex, esc(paths[by], 1));
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    struct sign_key keys[MAX_PUBS] = {0};
    const char *paths[MAX_PUBS], *bin;
    struct firmware fw = {.dirfd = -1};
    size_t npaths, nkeys = 0;
    int ret = EXIT_USAGE, r;

    bin = parse(argc, argv, "pub", paths, &npaths, MAX_PUBS);
    if (bin == NULL)
        return EXIT_USAGE;
    for (; nkeys < npaths; nkeys++) {
        r = sign_key_load(&keys[nkeys], paths[nkeys]);
        if (r < 0) {
            fprintf(stderr, "%s: %s: %s\n", progname, esc(paths[nkeys], 0),
                    r == -EINVAL ? "not a P-256 public key (SubjectPublicKeyInfo PEM)"
                                 : strerror(-r));
            goto out;
        }
    }
    if (firmware_load(&fw, bin, false) == 0)
        ret = verify(&fw, keys, nkeys, paths);
out:
    firmware_free(&fw);
    for (size_t i = 0; i < nkeys; i++)
        sign_key_free(&keys[i]);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("otasign %s\n", OTAD_VERSION);
        return 0;
    }
    usage(stderr);
    return EXIT_USAGE;
}
