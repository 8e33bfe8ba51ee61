// AVX2 + F16C kernels (x86-64-v3) behind a run-time CPU check; see include/CKernels.h.
//
// Built with the package's portable flags: only the functions marked WD_V3 use the wider
// instructions, and they are called only after wd_kernels_v3_available() said the CPU has them.
// No FMA: a fused multiply-add rounds once where the portable kernel rounds twice, and the two
// kernels must agree to the last bit.
#include "CKernels.h"

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>

#define WD_V3 __attribute__((target("avx2,f16c")))

int wd_kernels_v3_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

// Eight pairs a step in two 4-double halves: lane j of the accumulators sums the elements
// i ≡ j (mod 8) in order, and the lanes are added as ((L0+L4)+(L2+L6)) + ((L1+L5)+(L3+L7)) —
// the order of the portable kernel's four 2-double accumulators. The tail (fewer than eight) is
// added one by one after that, as there.
WD_V3 wd_partial wd_float_block_v3(const float *a, const float *b, size_t n) {
    __m256d bb0 = _mm256_setzero_pd(), bb1 = bb0, tt0 = bb0, tt1 = bb0, bt0 = bb0, bt1 = bb0, dd0 = bb0, dd1 = bb0;
    __m256d largest = bb0;
    __m256i equal = _mm256_setzero_si256();
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
        // Counts equal bits (-1 per lane); changed = steps × 8 − equal.
        equal = _mm256_sub_epi32(equal, _mm256_cmpeq_epi32(_mm256_castps_si256(x), _mm256_castps_si256(y)));
        __m256d p0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), p1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        __m256d q0 = _mm256_cvtps_pd(_mm256_castps256_ps128(y)), q1 = _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1));
        __m256d d0 = _mm256_sub_pd(q0, p0), d1 = _mm256_sub_pd(q1, p1);
        bb0 = _mm256_add_pd(bb0, _mm256_mul_pd(p0, p0));
        bb1 = _mm256_add_pd(bb1, _mm256_mul_pd(p1, p1));
        tt0 = _mm256_add_pd(tt0, _mm256_mul_pd(q0, q0));
        tt1 = _mm256_add_pd(tt1, _mm256_mul_pd(q1, q1));
        bt0 = _mm256_add_pd(bt0, _mm256_mul_pd(p0, q0));
        bt1 = _mm256_add_pd(bt1, _mm256_mul_pd(p1, q1));
        dd0 = _mm256_add_pd(dd0, _mm256_mul_pd(d0, d0));
        dd1 = _mm256_add_pd(dd1, _mm256_mul_pd(d1, d1));
        // max(m, largest) is m where m > largest, else largest: a NaN never replaces a value
        // (a block with NaN has sums that are not finite and is redone element by element).
        largest = _mm256_max_pd(_mm256_and_pd(d0, magnitude), largest);
        largest = _mm256_max_pd(_mm256_and_pd(d1, magnitude), largest);
    }
    double lanes[8][4];
    _mm256_storeu_pd(lanes[0], _mm256_add_pd(bb0, bb1));
    _mm256_storeu_pd(lanes[1], _mm256_add_pd(tt0, tt1));
    _mm256_storeu_pd(lanes[2], _mm256_add_pd(bt0, bt1));
    _mm256_storeu_pd(lanes[3], _mm256_add_pd(dd0, dd1));
    _mm256_storeu_pd(lanes[4], largest);
    // Lanes 0..3 now hold L0+L4, L1+L5, L2+L6, L3+L7.
    double sum[4];
    for (int k = 0; k < 4; k++) sum[k] = (lanes[k][0] + lanes[k][2]) + (lanes[k][1] + lanes[k][3]);
    double m = lanes[4][0];
    for (int k = 1; k < 4; k++) m = lanes[4][k] > m ? lanes[4][k] : m;
    uint32_t eq[8];
    _mm256_storeu_si256((__m256i *)eq, equal);
    int64_t same = 0;
    for (int k = 0; k < 8; k++) same += eq[k];
    wd_partial part = {sum[0], sum[1], sum[2], sum[3], m, (int64_t)i - same};
    for (; i < n; i++) {
        double p = a[i], q = b[i], d = q - p;
        part.bb += p * p;
        part.tt += q * q;
        part.bt += p * q;
        part.dd += d * d;
        double ad = d < 0 ? -d : d;
        part.max_change = ad > part.max_change ? ad : part.max_change;
        uint32_t u, v;
        __builtin_memcpy(&u, a + i, 4);
        __builtin_memcpy(&v, b + i, 4);
        part.changed += u != v;
    }
    return part;
}

// bfloat16 is the high half of a float32. An IEEE half is converted by the F16C unit, exact
// for every finite half; halves with the all-ones exponent (Inf, NaN) get the float32 all-ones
// exponent with the payload moved into place and kept (F16C would set the quiet bit).
WD_V3 void wd_widen16_v3(const uint16_t *halves, uint32_t *out, size_t n, int bfloat16) {
    size_t i = 0;
    const __m256i exponent = _mm256_set1_epi32(0x7C00);
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(halves + i));
        __m256i wide = _mm256_cvtepu16_epi32(h), bits;
        if (bfloat16) {
            bits = _mm256_slli_epi32(wide, 16);
        } else {
            __m256i converted = _mm256_castps_si256(_mm256_cvtph_ps(h));
            __m256i special = _mm256_or_si256(
                _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(wide, _mm256_set1_epi32(0x8000)), 16),
                                _mm256_set1_epi32(0x7F800000)),
                _mm256_slli_epi32(_mm256_and_si256(wide, _mm256_set1_epi32(0x03FF)), 13));
            __m256i isSpecial = _mm256_cmpeq_epi32(_mm256_and_si256(wide, exponent), exponent);
            bits = _mm256_blendv_epi8(converted, special, isSpecial);
        }
        _mm256_storeu_si256((__m256i *)(out + i), bits);
    }
    for (; i < n; i++) {
        uint32_t h = halves[i];
        if (bfloat16) {
            out[i] = h << 16;
        } else if ((h & 0x7C00) == 0x7C00) {
            out[i] = ((h & 0x8000) << 16) | 0x7F800000 | ((h & 0x03FF) << 13);
        } else {
            float f = _cvtsh_ss((unsigned short)h);
            __builtin_memcpy(out + i, &f, 4);
        }
    }
}

#else  // not x86-64: the portable Swift kernels run

int wd_kernels_v3_available(void) { return 0; }

wd_partial wd_float_block_v3(const float *a, const float *b, size_t n) {
    (void)a; (void)b; (void)n;
    __builtin_trap();
}

void wd_widen16_v3(const uint16_t *halves, uint32_t *out, size_t n, int bfloat16) {
    (void)halves; (void)out; (void)n; (void)bfloat16;
    __builtin_trap();
}

#endif
