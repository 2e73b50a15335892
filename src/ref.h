/* SPDX-License-Identifier: MIT */
/* Reference counts shared across threads: one copy of the memory orders
 * that make the last owner's release see every write of the others. */
#ifndef OTAD_REF_H
#define OTAD_REF_H

#include <stdatomic.h>
#include <stdbool.h>

/* Takes one more reference. Relaxed: the taker already holds one. */
static inline void ref_take(atomic_uint *refs)
{
    atomic_fetch_add_explicit(refs, 1, memory_order_relaxed);
}

/* Gives one back. True for the last one: the caller then frees. */
static inline bool ref_drop(atomic_uint *refs)
{
    return atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel) == 1;
}

#endif
