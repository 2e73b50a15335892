/* SPDX-License-Identifier: MIT */
/* ARM semihosting: the host's files for the emulated flash, the command
 * line for test switches, and the exit code that reports a result. */
#ifndef QEMU_SEMIHOST_H
#define QEMU_SEMIHOST_H

#include <stdint.h>

/* Opens @path for reading and writing (binary, existing file). Returns a
 * handle or -1. */
int semihost_open_rw(const char *path);

/* Writes @len bytes at @offset of file @fd. Returns 0 or -1. */
int semihost_pwrite(int fd, uint32_t offset, const void *data, uint32_t len);

/* Reads @len bytes at @offset of file @fd. Returns 0 or -1. */
int semihost_pread(int fd, uint32_t offset, void *buf, uint32_t len);

/* The command line given with -semihosting-config arg=... (space-separated);
 * an empty string if there is none. */
const char *semihost_cmdline(void);

/* Looks up "KEY" or "KEY=VALUE" in the command line: returns the value (""
 * for a bare KEY, terminated by a space or the end) or 0 if absent. */
const char *semihost_arg(const char *key);

/* Milliseconds since QEMU started (0 if the host cannot tell). */
uint32_t semihost_elapsed_ms(void);

/* Ends the QEMU run with exit status @code. */
void semihost_exit(uint32_t code) __attribute__((noreturn));

#endif
