/* SPDX-License-Identifier: MIT */
/* What differs between the chips this port builds for: the flash map, the
 * size of the flash and the RAM, and the sectors the flash driver must never
 * touch. One of layout_f401.c and layout_f405.c defines them; the Makefile's
 * LAYOUT picks which (see README.md). The same layout file also implements
 * ota_port_flash_map() and ota_port_ram(). */
#ifndef STM32F4_LAYOUT_H
#define STM32F4_LAYOUT_H

#include <stdint.h>

struct layout {
    const char *name;     /* "f401", "f405": for the start-up log line */
    uint32_t flash_size;  /* bytes from FLASH_BASE_ADDR */
    /* Bit n set: physical sector n is never erased or programmed, whatever
     * the core asks (the bootloader itself, an application's own data). */
    uint32_t keep_out;
};

extern const struct layout layout;

#endif
