/* SPDX-License-Identifier: MIT */
/* Error codes of the OTA core: negative values, 0 is success. */
#ifndef OTA_ERR_H
#define OTA_ERR_H

enum ota_err {
    OTA_OK = 0,
    OTA_ERR_NET = -1,          /* the connection failed or closed */
    OTA_ERR_TIMEOUT = -2,      /* no byte within the receive timeout */
    OTA_ERR_HTTP = -3,         /* malformed response */
    OTA_ERR_HEADERS = -4,      /* response headers too long */
    OTA_ERR_NO_LENGTH = -5,    /* response without Content-Length */
    OTA_ERR_TOO_BIG = -6,      /* body larger than expected */
    OTA_ERR_STATUS = -7,       /* a status other than 200 */
    OTA_ERR_CRC = -8,          /* a block or the image failed its CRC */
    OTA_ERR_FLASH = -9,        /* erase, program or read-back failed */
    OTA_ERR_PROTOCOL = -10,    /* the server's header makes no sense for this device */
    OTA_ERR_STATE = -11,       /* the boot state cannot be written */
    OTA_ERR_REJECTED = -12,    /* the server offers only the image last reverted */
    OTA_ERR_UNSIGNED = -13,    /* no manifest, and this build requires one */
    OTA_ERR_UNTRUSTED = -14,   /* the manifest or the image does not verify */
};

#endif
