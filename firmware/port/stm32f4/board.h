/* SPDX-License-Identifier: MIT */
/* Bring-up and hand-over of the board, shared by the bootloader and by
 * applications built with this port. */
#ifndef STM32F4_BOARD_H
#define STM32F4_BOARD_H

/* Clock, millisecond tick, log port and ESP8266 port: everything the
 * ota_port.h functions need. Call first in main(). */
void board_init(void);

#endif
