// Vector kernels for x86-64 CPUs with AVX2 and F16C (x86-64-v3), and with AVX-512, chosen at
// run time.
//
// Plain functions over caller-owned buffers: no I/O, no allocation, no state. Each computes
// exactly what its portable Swift twin computes (Sources/Drift/Sums.swift `floatBlock`,
// Sources/Checkpoint/Widening.swift), with the same association of every sum, so a report is
// byte-identical whichever kernel ran.
#ifndef WD_KERNELS_H
#define WD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The sums of one block of float32 pairs.
typedef struct {
    double bb, tt, bt, dd, max_change;
    int64_t changed;
} wd_partial;

/// 1 when this CPU (and its operating system) runs the AVX2 + F16C kernels, else 0.
int wd_kernels_v3_available(void);

/// One fused pass over n float32 pairs (see `floatBlock` in Sums.swift). Only call when
/// wd_kernels_v3_available() is 1.
wd_partial wd_float_block_v3(const float *a, const float *b, size_t n);

/// The same over n pairs of 2-byte floats (IEEE halves, or bfloat16 when `bfloat16` is
/// non-zero), widened in registers exactly as wd_widen16_v3 widens them: the sums are those of
/// the widened float32 pairs to the last bit; the changed count compares the stored 16-bit words
/// (the widening is one-to-one, so this is the count of changed float32 bits too). Callers pass
/// blocks of at most 4096 pairs (the sums are then those of one float32 block).
wd_partial wd_half_block_v3(const uint16_t *a, const uint16_t *b, size_t n, int bfloat16);

/// n IEEE halves (bfloat16 when `bfloat16` is non-zero) widened exactly to float32 bits, NaN
/// payloads kept. Only call when wd_kernels_v3_available() is 1.
void wd_widen16_v3(const uint16_t *halves, uint32_t *out, size_t n, int bfloat16);

/// 1 when this CPU also runs the AVX-512 kernels (AVX-512 F and VL, besides AVX2 + F16C), else 0.
int wd_kernels_v4_available(void);

/// wd_float_block_v3 with AVX-512: the same sums to the last bit. Only call when
/// wd_kernels_v4_available() is 1.
wd_partial wd_float_block_v4(const float *a, const float *b, size_t n);

/// wd_half_block_v3 with AVX-512, each eight halves widened in registers (no buffers): the same
/// sums to the last bit. Only call when wd_kernels_v4_available() is 1.
wd_partial wd_half_block_v4(const uint16_t *a, const uint16_t *b, size_t n, int bfloat16);

#endif
