/* SPDX-License-Identifier: MIT */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "version.h"

static struct image *image_new(const char *name, const char *bin_file)
{
    struct image *img = calloc(1, sizeof(*img));

    if (img == NULL)
        return NULL;
    atomic_init(&img->refs, 1);
    img->name = strdup(name);
    img->bin_file = strdup(bin_file);
    if (img->name == NULL || img->bin_file == NULL ||
        asprintf(&img->version_file, "%s.txt", name) < 0) {
        img->version_file = NULL;
        image_unref(img);
        return NULL;
    }
    return img;
}

/* Reads the version and builds the header; gen must be set. */
static void set_version(struct image *img, int dirfd)
{
    int r = version_read(dirfd, img->version_file, &img->version);

    img->version_error = r;
    if (r == 0) {
        img->version_source = VERSION_FROM_FILE;
    } else {
        img->version = VERSION_DEFAULT;
        img->version_source = r == -ENOENT ? VERSION_FILE_MISSING : VERSION_FILE_INVALID;
    }
    if (file_id_read(dirfd, img->version_file, &img->version_id) < 0)
        memset(&img->version_id, 0, sizeof(img->version_id));
    ota_header_encode(&(struct ota_header){
                          .version = img->version,
                          .checksum = img->gen->crc,
                          .blocknum = img->gen->nblocks,
                          .blocksize = OTA_BLOCK_DATA,
                          .binsize = img->gen->size,
                      },
                      img->header);
}

int image_make(const char *name, const char *bin_file, struct generation *gen,
               const struct file_id *bin_id, const struct file_id *sig_id, int dirfd,
               struct image **ret)
{
    struct image *img = image_new(name, bin_file);

    if (img == NULL)
        return -ENOMEM;
    img->gen = generation_ref(gen);
    img->bin_id = *bin_id;
    img->sig_id = *sig_id;
    set_version(img, dirfd);
    *ret = img;
    return 0;
}

int image_load(int dirfd, const char *bin_file, const char *name, struct image **ret)
{
    struct generation *gen = NULL;
    int r;

    r = generation_load(dirfd, bin_file, NULL, &gen);
    if (r < 0)
        return r;
    r = image_make(name, bin_file, gen, &gen->file, &gen->sig_file, dirfd, ret);
    generation_unref(gen);
    return r;
}

int image_version_changed(const struct image *img, int dirfd)
{
    struct file_id now;

    if (file_id_read(dirfd, img->version_file, &now) < 0)
        memset(&now, 0, sizeof(now));
    return !file_id_equal(&now, &img->version_id);
}

struct image *image_ref(struct image *img)
{
    ref_take(&img->refs);
    return img;
}

void image_unref(struct image *img)
{
    if (img == NULL || !ref_drop(&img->refs))
        return;
    generation_unref(img->gen);
    free(img->name);
    free(img->bin_file);
    free(img->version_file);
    free(img);
}
