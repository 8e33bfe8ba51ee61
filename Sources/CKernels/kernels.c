// AVX2 + F16C kernels (x86-64-v3), and AVX-512 ones, behind run-time CPU checks; see
// include/CKernels.h.
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

// Eight halves (bfloat16: high halves of float32) widened exactly to float32 bits: an IEEE half
// by the F16C unit, exact for every finite half; halves with the all-ones exponent (Inf, NaN)
// get the float32 all-ones exponent with the payload moved into place and kept (F16C would set
// the quiet bit).
WD_V3 static inline __m256 widen8(__m128i h, int bfloat16) {
    __m256i wide = _mm256_cvtepu16_epi32(h);
    if (bfloat16) return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
    // The common case, no Inf or NaN among the eight: the F16C conversion as it is.
    __m128i allOnes = _mm_cmpeq_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7C00)), _mm_set1_epi16(0x7C00));
    if (_mm_testz_si128(allOnes, allOnes)) return _mm256_cvtph_ps(h);
    const __m256i exponent = _mm256_set1_epi32(0x7C00);
    __m256i converted = _mm256_castps_si256(_mm256_cvtph_ps(h));
    __m256i special = _mm256_or_si256(
        _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(wide, _mm256_set1_epi32(0x8000)), 16),
                        _mm256_set1_epi32(0x7F800000)),
        _mm256_slli_epi32(_mm256_and_si256(wide, _mm256_set1_epi32(0x03FF)), 13));
    __m256i isSpecial = _mm256_cmpeq_epi32(_mm256_and_si256(wide, exponent), exponent);
    return _mm256_castsi256_ps(_mm256_blendv_epi8(converted, special, isSpecial));
}

WD_V3 static inline uint32_t widen1(uint16_t half, int bfloat16) {
    uint32_t h = half;
    if (bfloat16) return h << 16;
    if ((h & 0x7C00) == 0x7C00) return ((h & 0x8000) << 16) | 0x7F800000 | ((h & 0x03FF) << 13);
    float f = _cvtsh_ss((unsigned short)h);
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    return u;
}

// The accumulators of one block: lane j sums the elements i ≡ j (mod 8) in order.
typedef struct {
    __m256d bb0, bb1, tt0, tt1, bt0, bt1, dd0, dd1, largest;
} lanes8;

WD_V3 static inline void step8(lanes8 *l, __m256 x, __m256 y) {
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    __m256d p0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), p1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    __m256d q0 = _mm256_cvtps_pd(_mm256_castps256_ps128(y)), q1 = _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1));
    __m256d d0 = _mm256_sub_pd(q0, p0), d1 = _mm256_sub_pd(q1, p1);
    l->bb0 = _mm256_add_pd(l->bb0, _mm256_mul_pd(p0, p0));
    l->bb1 = _mm256_add_pd(l->bb1, _mm256_mul_pd(p1, p1));
    l->tt0 = _mm256_add_pd(l->tt0, _mm256_mul_pd(q0, q0));
    l->tt1 = _mm256_add_pd(l->tt1, _mm256_mul_pd(q1, q1));
    l->bt0 = _mm256_add_pd(l->bt0, _mm256_mul_pd(p0, q0));
    l->bt1 = _mm256_add_pd(l->bt1, _mm256_mul_pd(p1, q1));
    l->dd0 = _mm256_add_pd(l->dd0, _mm256_mul_pd(d0, d0));
    l->dd1 = _mm256_add_pd(l->dd1, _mm256_mul_pd(d1, d1));
    // max(m, largest) is m where m > largest, else largest: a NaN never replaces a value
    // (a block with NaN has sums that are not finite and is redone element by element).
    l->largest = _mm256_max_pd(_mm256_and_pd(d0, magnitude), l->largest);
    l->largest = _mm256_max_pd(_mm256_and_pd(d1, magnitude), l->largest);
}

// The lanes added as ((L0+L4)+(L2+L6)) + ((L1+L5)+(L3+L7)) — the order of the portable kernel's
// four 2-double accumulators.
WD_V3 static inline wd_partial total8(const lanes8 *l, int64_t changed) {
    double lanes[5][4];
    _mm256_storeu_pd(lanes[0], _mm256_add_pd(l->bb0, l->bb1));
    _mm256_storeu_pd(lanes[1], _mm256_add_pd(l->tt0, l->tt1));
    _mm256_storeu_pd(lanes[2], _mm256_add_pd(l->bt0, l->bt1));
    _mm256_storeu_pd(lanes[3], _mm256_add_pd(l->dd0, l->dd1));
    _mm256_storeu_pd(lanes[4], l->largest);
    // Lanes 0..3 now hold L0+L4, L1+L5, L2+L6, L3+L7.
    double sum[4];
    for (int k = 0; k < 4; k++) sum[k] = (lanes[k][0] + lanes[k][2]) + (lanes[k][1] + lanes[k][3]);
    double m = lanes[4][0];
    for (int k = 1; k < 4; k++) m = lanes[4][k] > m ? lanes[4][k] : m;
    wd_partial part = {sum[0], sum[1], sum[2], sum[3], m, changed};
    return part;
}

// The tail (fewer than eight pairs), one by one after the lanes, as in the portable kernel.
WD_V3 static inline void tail1(wd_partial *part, float fa, float fb, int changed) {
    double p = fa, q = fb, d = q - p;
    part->bb += p * p;
    part->tt += q * q;
    part->bt += p * q;
    part->dd += d * d;
    double ad = d < 0 ? -d : d;
    part->max_change = ad > part->max_change ? ad : part->max_change;
    part->changed += changed;
}

// Pairs i..<n, one by one (tail1), from float32 buffers.
WD_V3 static inline void tail_floats(wd_partial *part, const float *a, const float *b, size_t i, size_t n) {
    for (; i < n; i++) {
        uint32_t u, v;
        __builtin_memcpy(&u, a + i, 4);
        __builtin_memcpy(&v, b + i, 4);
        tail1(part, a[i], b[i], u != v);
    }
}

WD_V3 static inline int32_t horizontal8(__m256i v) {
    int32_t e[8];
    _mm256_storeu_si256((__m256i *)e, v);
    int32_t s = 0;
    for (int k = 0; k < 8; k++) s += e[k];
    return s;
}

// Eight pairs a step in two 4-double halves (see step8 and total8).
WD_V3 wd_partial wd_float_block_v3(const float *a, const float *b, size_t n) {
    lanes8 l;
    l.bb0 = l.bb1 = l.tt0 = l.tt1 = l.bt0 = l.bt1 = l.dd0 = l.dd1 = l.largest = _mm256_setzero_pd();
    __m256i equal = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
        // Counts equal bits (-1 per lane); changed = elements − equal.
        equal = _mm256_sub_epi32(equal, _mm256_cmpeq_epi32(_mm256_castps_si256(x), _mm256_castps_si256(y)));
        step8(&l, x, y);
    }
    wd_partial part = total8(&l, (int64_t)i - horizontal8(equal));
    tail_floats(&part, a, b, i, n);
    return part;
}

// A block at a time: both sides widened into float32 buffers on the stack (32 KiB, in L1) and
// summed by the float32 kernel. The changed count of the widened bits is that of the stored
// words: the widening is one-to-one.
WD_V3 wd_partial wd_half_block_v3(const uint16_t *a, const uint16_t *b, size_t n, int bfloat16) {
    enum { STEP = 4096 };
    float x[STEP], y[STEP];
    wd_partial total = {0, 0, 0, 0, 0, 0};
    for (size_t start = 0; start < n; start += STEP) {
        size_t m = n - start < STEP ? n - start : STEP;
        wd_widen16_v3(a + start, (uint32_t *)x, m, bfloat16);
        wd_widen16_v3(b + start, (uint32_t *)y, m, bfloat16);
        wd_partial part = wd_float_block_v3(x, y, m);
        if (start == 0) {
            total = part;
        } else {  // not reached for the blocks of 4096 Swift passes
            total.bb += part.bb;
            total.tt += part.tt;
            total.bt += part.bt;
            total.dd += part.dd;
            total.max_change = part.max_change > total.max_change ? part.max_change : total.max_change;
            total.changed += part.changed;
        }
    }
    return total;
}

// n 2-byte floats widened exactly (see widen8).
WD_V3 void wd_widen16_v3(const uint16_t *halves, uint32_t *out, size_t n, int bfloat16) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 bits = widen8(_mm_loadu_si128((const __m128i *)(halves + i)), bfloat16);
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_castps_si256(bits));
    }
    for (; i < n; i++) out[i] = widen1(halves[i], bfloat16);
}

// AVX-512 (x86-64-v4 subset: F and VL): eight pairs a step in one 8-double register per sum, so
// lane j holds exactly what step8's two 4-double halves hold in their lane j mod 4 (elements
// i ≡ j mod 8, in order), and the lanes are added in total8's order: the same bits, with half the
// instructions (CPUs with 512-bit units run it about 1.6× faster on data in cache).
#define WD_V4 __attribute__((target("avx512f,avx512vl,avx2,f16c")))

int wd_kernels_v4_available(void) {
    __builtin_cpu_init();
    return wd_kernels_v3_available() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

// The accumulators of the AVX-512 kernels: lane j sums the elements i ≡ j (mod 8) in order.
typedef struct {
    __m512d bb, tt, bt, dd, largest;
    int64_t equal;
} lanes_v4;

WD_V4 static inline void step_v4(lanes_v4 *l, __m256 x, __m256 y) {
    l->equal += __builtin_popcount(_mm256_cmpeq_epi32_mask(_mm256_castps_si256(x), _mm256_castps_si256(y)));
    __m512d p = _mm512_cvtps_pd(x), q = _mm512_cvtps_pd(y), d = _mm512_sub_pd(q, p);
    l->bb = _mm512_add_pd(l->bb, _mm512_mul_pd(p, p));
    l->tt = _mm512_add_pd(l->tt, _mm512_mul_pd(q, q));
    l->bt = _mm512_add_pd(l->bt, _mm512_mul_pd(p, q));
    l->dd = _mm512_add_pd(l->dd, _mm512_mul_pd(d, d));
    // As in step8: a NaN never replaces a value (such a block is redone element by element).
    l->largest = _mm512_max_pd(_mm512_abs_pd(d), l->largest);
}

// total8's order: ((L0+L4)+(L2+L6)) + ((L1+L5)+(L3+L7)); `done` pairs were stepped.
WD_V4 static inline wd_partial total_v4(const lanes_v4 *l, size_t done) {
    double lanes[5][8];
    _mm512_storeu_pd(lanes[0], l->bb);
    _mm512_storeu_pd(lanes[1], l->tt);
    _mm512_storeu_pd(lanes[2], l->bt);
    _mm512_storeu_pd(lanes[3], l->dd);
    _mm512_storeu_pd(lanes[4], l->largest);
    double sum[4];
    for (int k = 0; k < 4; k++) {
        sum[k] = ((lanes[k][0] + lanes[k][4]) + (lanes[k][2] + lanes[k][6])) + ((lanes[k][1] + lanes[k][5]) + (lanes[k][3] + lanes[k][7]));
    }
    double m = lanes[4][0];
    for (int k = 1; k < 8; k++) m = lanes[4][k] > m ? lanes[4][k] : m;
    wd_partial part = {sum[0], sum[1], sum[2], sum[3], m, (int64_t)done - l->equal};
    return part;
}

WD_V4 wd_partial wd_float_block_v4(const float *a, const float *b, size_t n) {
    lanes_v4 l = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) step_v4(&l, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    wd_partial part = total_v4(&l, i);
    tail_floats(&part, a, b, i, n);
    return part;
}

// wd_float_block_v4 of the halves widened by widen8/widen1 — in registers, eight at a time,
// not through buffers: the same bits.
WD_V4 wd_partial wd_half_block_v4(const uint16_t *a, const uint16_t *b, size_t n, int bfloat16) {
    lanes_v4 l = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        step_v4(&l, widen8(_mm_loadu_si128((const __m128i *)(a + i)), bfloat16),
                widen8(_mm_loadu_si128((const __m128i *)(b + i)), bfloat16));
    }
    wd_partial part = total_v4(&l, i);
    for (; i < n; i++) {
        uint32_t u = widen1(a[i], bfloat16), v = widen1(b[i], bfloat16);
        float fa, fb;
        __builtin_memcpy(&fa, &u, 4);
        __builtin_memcpy(&fb, &v, 4);
        tail1(&part, fa, fb, u != v);
    }
    return part;
}

#else  // not x86-64: the portable Swift kernels run

int wd_kernels_v3_available(void) { return 0; }

int wd_kernels_v4_available(void) { return 0; }

wd_partial wd_float_block_v4(const float *a, const float *b, size_t n) {
    (void)a; (void)b; (void)n;
    __builtin_trap();
}

wd_partial wd_half_block_v4(const uint16_t *a, const uint16_t *b, size_t n, int bfloat16) {
    (void)a; (void)b; (void)n; (void)bfloat16;
    __builtin_trap();
}

wd_partial wd_float_block_v3(const float *a, const float *b, size_t n) {
    (void)a; (void)b; (void)n;
    __builtin_trap();
}

void wd_widen16_v3(const uint16_t *halves, uint32_t *out, size_t n, int bfloat16) {
    (void)halves; (void)out; (void)n; (void)bfloat16;
    __builtin_trap();
}

wd_partial wd_half_block_v3(const uint16_t *a, const uint16_t *b, size_t n, int bfloat16) {
    (void)a; (void)b; (void)n; (void)bfloat16;
    __builtin_trap();
}

#endif
