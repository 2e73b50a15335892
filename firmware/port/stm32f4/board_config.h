/* SPDX-License-Identifier: MIT */
/* What this board joins and downloads: the only file to edit for a device.
 *
 * To keep a real password out of the tree, copy this file to a directory of
 * your own and build with `make CONFIG_DIR=that/dir`: that directory is
 * searched first. */
#ifndef BOARD_CONFIG_H
#define BOARD_CONFIG_H

/* The Wi-Fi network the ESP8266 joins (WPA2-PSK or open: empty password). */
#define BOARD_WIFI_SSID "otad-demo"
#define BOARD_WIFI_PASSWORD "change-me"

/* The otad server: an IPv4 address or a host name the ESP8266 can resolve. */
#define BOARD_SERVER_HOST "192.168.1.10"
#define BOARD_SERVER_PORT 8000

/* The firmware NAME on the server: the device downloads NAME.bin. */
#define BOARD_FIRMWARE_NAME "app"

/* The device's X-Device-Id, 1 to 64 of [A-Za-z0-9._:-]. Left undefined (the
 * default), it is the chip's 96-bit unique ID as 24 hex digits. */
/* #define BOARD_DEVICE_ID "kitchen-1" */

#endif
