/* The STM32F401 flash map that the STM32F4 port drives and the host and
 * QEMU ports emulate: 4 x 16 KiB, 64 KiB, 3 x 128 KiB. The bootloader takes
 * sectors 0-1, the boot state 2-3, the application 4-7. Only the base
 * address differs between the ports. */
#ifndef OTA_F401_LAYOUT_H
#define OTA_F401_LAYOUT_H

#include "ota_port.h"

#define F401_NSECTORS 8u

static const uint32_t f401_sector_size[F401_NSECTORS] = {
    16u * 1024u, 16u * 1024u, 16u * 1024u, 16u * 1024u,
    64u * 1024u, 128u * 1024u, 128u * 1024u, 128u * 1024u,
};

/* An initialiser for the layout of an F401 map at @base. */
#define F401_LAYOUT(base_)                                                    \
    {                                                                         \
        .base = (base_), .sector_size = f401_sector_size,                     \
        .nsectors = F401_NSECTORS, .state_sector = {2, 3},                    \
        .app_first_sector = 4, .app_last_sector = 7,                          \
    }

#endif
