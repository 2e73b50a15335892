/* SPDX-License-Identifier: MIT */
/* The flash map the port declares, seen through areas and offsets: sizes,
 * sectors and bounds. The core computes nothing from physical addresses;
 * ports use ota_area_span() to check and translate what the core asks. */
#ifndef OTA_FLASH_H
#define OTA_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_port.h"

/* Bytes of @area (0 if the map has none). */
uint32_t ota_area_size(const struct ota_flash_map *m, enum ota_area area);

/* True if the map is dual-slot: it has a secondary area. */
bool ota_map_dual(const struct ota_flash_map *m);

/* The sector of @area holding offset @off: its start and size. False if
 * @off lies outside the area. */
bool ota_area_sector(const struct ota_flash_map *m, enum ota_area area, uint32_t off,
                     uint32_t *start, uint32_t *size);

/* For ports: the address of [@off, @off + @len) of @area, if that range lies
 * inside the area (false otherwise, and for an unknown area). */
bool ota_area_span(const struct ota_flash_map *m, enum ota_area area, uint32_t off,
                   uint32_t len, uint32_t *addr);

/* The CRC-32 of the first @size bytes of @area, or false if they cannot be
 * read (or do not fit). */
bool ota_area_crc(const struct ota_flash_map *m, enum ota_area area, uint32_t size,
                  uint32_t *crc);

/* Programs @len bytes at @off of @area in runs of at most 256 bytes, each
 * read back and compared. 0 or OTA_ERR_FLASH. */
int ota_flash_write_verified(enum ota_area area, uint32_t off, const uint8_t *data,
                             uint32_t len);

#endif
