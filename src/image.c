#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "version.h"
#include "wire.h"

static void id_from_stat(const struct stat *st, struct file_id *id)
{
    memset(id, 0, sizeof(*id));
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
    id->ctime = st->st_ctim;
}

int image_file_id(int dirfd, const char *file, struct file_id *ret)
{
    struct stat st;

    if (fstatat(dirfd, file, &st, 0) < 0)
        return -errno;
    id_from_stat(&st, ret);
    return 0;
}

int file_id_equal(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void load_version(struct image *img, int dirfd)
{
    int r = version_read(dirfd, img->version_file, &img->version);

    img->version_error = r;
    if (r == 0) {
        img->version_source = VERSION_FROM_FILE;
    } else {
        img->version = VERSION_DEFAULT;
        img->version_source = r == -ENOENT ? VERSION_FILE_MISSING : VERSION_FILE_INVALID;
    }
    if (image_file_id(dirfd, img->version_file, &img->version_id) < 0)
        memset(&img->version_id, 0, sizeof(img->version_id));
}

int image_load(int dirfd, const char *bin_file, const char *name, struct image **ret)
{
    struct image *img = NULL;
    struct stat st;
    size_t data_len, blocks_len;
    uint8_t *map;
    ssize_t n;
    int fd = -1, r;

    fd = file_open_regular(dirfd, bin_file, &st);
    if (fd < 0) {
        r = fd;
        goto fail;
    }
    if (st.st_size == 0) {
        r = -ENODATA;
        goto fail;
    }
    if ((uint64_t)st.st_size > IMAGE_MAX_SIZE) {
        r = -EFBIG;
        goto fail;
    }
    img = calloc(1, sizeof(*img));
    if (img == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    atomic_init(&img->refs, 1);
    img->map = MAP_FAILED;
    img->name = strdup(name);
    img->bin_file = strdup(bin_file);
    if (img->name == NULL || img->bin_file == NULL ||
        asprintf(&img->version_file, "%s.txt", name) < 0) {
        img->version_file = NULL;
        r = -ENOMEM;
        goto fail;
    }
    img->size = (uint32_t)st.st_size;
    img->nblocks = ota_block_count(img->size);
    id_from_stat(&st, &img->bin_id);

    /* Raw bytes first, page-aligned, then the block table. */
    data_len = ((size_t)img->size + 4095) & ~(size_t)4095;
    blocks_len = (size_t)img->nblocks * OTA_BLOCK_WIRE;
    img->map_len = data_len + blocks_len;
    img->map = mmap(NULL, img->map_len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (img->map == MAP_FAILED) {
        r = -ENOMEM;
        goto fail;
    }
    map = img->map;
    n = file_read_upto(fd, map, img->size);
    if (n != (ssize_t)img->size) {
        r = n < 0 ? (int)n : -EAGAIN; /* short: truncated under our feet */
        goto fail;
    }
    img->crc = wire_encode_blocks(map, img->size, map + data_len);
    /* From here on the snapshot is immutable; a stray write would fault. */
    if (mprotect(img->map, img->map_len, PROT_READ) < 0) {
        r = -errno;
        goto fail;
    }
    img->data = map;
    img->blocks = map + data_len;

    load_version(img, dirfd);
    ota_header_encode(&(struct ota_header){
                          .version = img->version,
                          .checksum = img->crc,
                          .blocknum = img->nblocks,
                          .blocksize = OTA_BLOCK_DATA,
                          .binsize = img->size,
                      },
                      img->header);
    img->loaded = time(NULL);
    close(fd);
    *ret = img;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    image_unref(img);
    return r;
}

struct image *image_ref(struct image *img)
{
    atomic_fetch_add_explicit(&img->refs, 1, memory_order_relaxed);
    return img;
}

void image_unref(struct image *img)
{
    if (img == NULL)
        return;
    if (atomic_fetch_sub_explicit(&img->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (img->map != MAP_FAILED && img->map != NULL)
        munmap(img->map, img->map_len);
    free(img->name);
    free(img->bin_file);
    free(img->version_file);
    free(img);
}
