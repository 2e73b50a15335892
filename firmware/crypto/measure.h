/* SPDX-License-Identifier: MIT */
/* What the measurement program (measure.c) needs from where it runs:
 * measure_qemu.c on QEMU's mps2-an386, measure_host.c on the build host. */
#ifndef MEASURE_H
#define MEASURE_H

#include <stdbool.h>
#include <stdint.h>

/* A clock: guest instructions on QEMU with -icount shift=0 (SysTick, in
 * steps of 40), nanoseconds on the host. */
uint64_t measure_now(void);

/* What measure_now() counts, for the output: "instructions" or "ns". */
extern const char measure_unit[];

/* Writes @s to the run's output. */
void measure_print(const char *s);

/* @size bytes of writable memory for the slot measurement. */
uint8_t *measure_slot(uint32_t size);

/* Fills the unused stack with a marker, then tells how many bytes below
 * the caller's frame were used since (256 at least); 0 where it is not
 * measured. */
void measure_stack_paint(void);
uint32_t measure_stack_used(void);

/* Prints "@what: @v @unit" on a line. */
void measure_figure(const char *what, uint64_t v, const char *unit);

/* The known-answer tests and measurements, with @all_flips_too also one
 * verification for every single bit of signature, hash and key flipped
 * (1280: for the host, they would take minutes on QEMU). Returns 0 if
 * every check passed. */
int measure_run(bool all_flips_too);

#endif
