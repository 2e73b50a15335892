/* SPDX-License-Identifier: MIT */
#include "crc.h"

#include <stdatomic.h>
#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_CLMUL 1
#include <immintrin.h>
#endif

#ifdef CRC_CLMUL
/* Folding with carry-less multiplication over GF(2), for the bit-reflected
 * polynomial 0xEDB88320 (Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction", Intel, 2009). Each constant is
 * x^n mod P(x) for the distance n it folds over, bit-reflected and shifted
 * as the paper's reflected variant requires:
 *   K1, K2: 4 x 128 bits forward (x^(4*128+32), x^(4*128-32))
 *   K3, K4: 128 bits forward (x^(128+32), x^(128-32))
 *   K5:     64 bits forward (x^64)
 *   P, MU:  the polynomial and floor(x^64 / P(x)), for the Barrett reduction. */
#define K1 0x0154442bd4ull
#define K2 0x01c6e41596ull
#define K3 0x01751997d0ull
#define K4 0x00ccaa009eull
#define K5 0x0163cd6124ull
#define P_X 0x01db710641ull
#define MU 0x01f7011641ull

__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i x, __m128i k,
                                                                 __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The CRC register, not inverted, over @len bytes: @len >= 64, a multiple
 * of 16. */
__attribute__((target("pclmul,sse2"))) static uint32_t clmul_run(uint32_t reg,
                                                                const uint8_t *p, size_t len)
{
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i k = _mm_set_epi64x((long long)K2, (long long)K1);
    __m128i x0 = _mm_loadu_si128((const __m128i *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    __m128i t;

    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)reg));
    p += 64;
    len -= 64;
    for (; len >= 64; p += 64, len -= 64) {
        x0 = fold(x0, k, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    /* Four lanes into one, then the remaining 16-byte steps. */
    k = _mm_set_epi64x((long long)K4, (long long)K3);
    x0 = fold(x0, k, x1);
    x0 = fold(x0, k, x2);
    x0 = fold(x0, k, x3);
    for (; len >= 16; p += 16, len -= 16)
        x0 = fold(x0, k, _mm_loadu_si128((const __m128i *)p));

    /* 128 bits to 64 (appending the 32 zero bits of the CRC's shift)... */
    t = _mm_clmulepi64_si128(k, x0, 0x01);
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
    /* ... to 64 again, folding the low 32 bits ... */
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32),
                              _mm_set_epi64x(0, (long long)K5), 0x00);
    x0 = _mm_xor_si128(x0, t);
    /* ... and Barrett's reduction to 32. */
    k = _mm_set_epi64x((long long)MU, (long long)P_X);
    t = x0;
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), k, 0x10);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), k, 0x00);
    x0 = _mm_xor_si128(x0, t);
    return (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(x0, 4));
}

static int have_clmul(void)
{
    static _Atomic int known = -1; /* every thread that races here finds the same */
    int k = atomic_load_explicit(&known, memory_order_relaxed);

    if (k < 0) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
}
#endif

int crc_accelerated(void)
{
#ifdef CRC_CLMUL
    return have_clmul();
#else
    return 0;
#endif
}

uint32_t crc_update(uint32_t crc, const uint8_t *data, size_t len)
{
#ifdef CRC_CLMUL
    if (len >= 64 && have_clmul()) {
        size_t bulk = len & ~(size_t)15;

        /* zlib's CRC is the register inverted before and after. */
        crc = ~clmul_run(~crc, data, bulk);
        data += bulk;
        len -= bulk;
    }
#endif
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;

        crc = (uint32_t)crc32(crc, data, n);
        data += n;
        len -= n;
    }
    return crc;
}
