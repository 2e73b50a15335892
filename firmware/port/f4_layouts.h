/* SPDX-License-Identifier: MIT */
/* The two STM32F4 flash maps that the STM32F4 port drives and the host and
 * QEMU ports emulate. Only the base address differs between the ports.
 *
 * f401: the 512 KiB STM32F401 (4 x 16 KiB, 64 KiB, 3 x 128 KiB), single slot.
 *   sectors 0-1   0x00000  bootloader (32 KiB)
 *   sector  2     0x08000  boot state A
 *   sector  3     0x0C000  boot state B
 *   sectors 4-7   0x10000  application (448 KiB), downloaded over in place
 *
 * f405: the 1 MiB STM32F405/F407 (4 x 16 KiB, 64 KiB, 7 x 128 KiB), dual slot.
 *   sectors 0-1   0x00000  bootloader (32 KiB)
 *   sectors 2-3   0x08000  boot state A and B, as on the f401
 *   sector  4     0x10000  the application's own data (64 KiB): never
 *                          touched by the bootloader
 *   sectors 5-7   0x20000  primary slot (384 KiB): the application runs here
 *   sectors 8-10  0x80000  secondary slot (384 KiB): downloads, and the
 *                          previous application after an install
 *   sector  11    0xE0000  scratch (128 KiB): one sector of the swap
 * The swap exchanges equal sectors, so both slots are made of 128 KiB
 * sectors; the 64 KiB sector 4 fits neither and is left to the application.
 * firmware/PORTING.md explains the choice. */
#ifndef OTA_F4_LAYOUTS_H
#define OTA_F4_LAYOUTS_H

#include "ota_port.h"

#define F4_KIB 1024u

static const uint32_t f4_state_sectors[1] = {16u * F4_KIB};
static const uint32_t f401_app_sectors[4] = {64u * F4_KIB, 128u * F4_KIB, 128u * F4_KIB,
                                             128u * F4_KIB};
static const uint32_t f405_slot_sectors[3] = {128u * F4_KIB, 128u * F4_KIB, 128u * F4_KIB};
static const uint32_t f405_scratch_sectors[1] = {128u * F4_KIB};

#define F4_STATE_AREAS(base_)                                                  \
    [OTA_AREA_STATE_A] = {(base_) + 0x8000u, 1, f4_state_sectors},             \
    [OTA_AREA_STATE_B] = {(base_) + 0xC000u, 1, f4_state_sectors}

/* An initialiser for the f401 map at @base. */
#define F401_MAP(base_)                                                        \
    {                                                                          \
        .area = {                                                              \
            [OTA_AREA_PRIMARY] = {(base_) + 0x10000u, 4, f401_app_sectors},    \
            F4_STATE_AREAS(base_),                                             \
        }                                                                      \
    }

/* An initialiser for the f405 map at @base. */
#define F405_MAP(base_)                                                        \
    {                                                                          \
        .area = {                                                              \
            [OTA_AREA_PRIMARY] = {(base_) + 0x20000u, 3, f405_slot_sectors},   \
            [OTA_AREA_SECONDARY] = {(base_) + 0x80000u, 3, f405_slot_sectors}, \
            [OTA_AREA_SCRATCH] = {(base_) + 0xE0000u, 1, f405_scratch_sectors},\
            F4_STATE_AREAS(base_),                                             \
        }                                                                      \
    }

#define F401_FLASH_SIZE (512u * F4_KIB)
#define F405_FLASH_SIZE (1024u * F4_KIB)

/* The physical sector holding byte @off of the flash (from its base), on
 * either chip: 4 x 16 KiB, one 64 KiB, then 128 KiB sectors. */
static inline uint32_t f4_sector_of(uint32_t off)
{
    if (off < 64u * F4_KIB)
        return off / (16u * F4_KIB);
    if (off < 128u * F4_KIB)
        return 4;
    return 4 + off / (128u * F4_KIB);
}

#endif
