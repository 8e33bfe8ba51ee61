/*
 * The limit probe: the fastest plain single pass over the weight bytes of a checkpoint pair.
 *
 *   cc -O2 -o probe tools/bench/probe.c -lm
 *   ./probe BASE TUNED OFFSETS       OFFSETS: lines "base_offset tuned_offset count"
 *                                    (float32 little-endian datasets; make_pair.py writes them)
 *
 * Maps both files and computes, in one pass per dataset pair, the same fused sums as
 * weightdrift compare: over the elements finite in both files, Σa², Σb², Σab and Σ(b−a)²
 * in double (each block of 4096 elements into fresh accumulators, then added to the
 * totals), max|b−a|; over all elements, the count whose stored bits differ; NaN and Inf
 * counts per file. No HDF5, no Keras, no copies into buffers, one thread (as weightdrift):
 * it shows what the machine can do, the yardstick for weightdrift's time. On x86-64 the
 * inner loop uses SSE2 (part of the x86-64 baseline, so plain `cc -O2`); elsewhere plain C.
 * Prints the totals as one JSON line.
 */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define EXPONENT 0x7f800000u

struct totals {
    long long count, finite, changed, base_nan, base_inf, tuned_nan, tuned_inf;
    double sum_aa, sum_bb, sum_ab, sum_dd, max_abs;
};

static const unsigned char *map_file(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        exit(2);
    }
    *size = (size_t)st.st_size;
    void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror(path);
        exit(2);
    }
    madvise(p, *size, MADV_SEQUENTIAL);
    close(fd);
    return p;
}

static void count_non_finite(uint32_t bits, long long *nan, long long *inf) {
    if ((bits & EXPONENT) != EXPONENT) return;
    if (bits & 0x007fffffu) ++*nan; else ++*inf;
}

/* Per block: the sums of the pairs finite in both files (a non-finite pair contributes
 * zeros), the number of non-finite pairs, the number of differing bit patterns. */
struct block_sums {
    double aa, bb, ab, dd, max_abs;
    long long non_finite, changed;
};

#if defined(__SSE2__)
#include <emmintrin.h>
/* SSE2 is part of every x86-64 CPU, so this needs no -march flag: 4 floats per step,
 * widened to two pairs of doubles, 8 independent accumulators. */
static size_t block_sums(const unsigned char *a, const unsigned char *b, size_t n, struct block_sums *s) {
    __m128d aa0 = _mm_setzero_pd(), aa1 = aa0, bb0 = aa0, bb1 = aa0, ab0 = aa0, ab1 = aa0, dd0 = aa0, dd1 = aa0;
    __m128d mx = aa0;
    __m128i non_finite = _mm_setzero_si128(), changed = non_finite;
    const __m128i exponent = _mm_set1_epi32((int)EXPONENT), ones = _mm_set1_epi32(-1);
    const __m128d abs_mask = _mm_castsi128_pd(_mm_set1_epi64x(0x7fffffffffffffffLL));
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128i ua = _mm_loadu_si128((const __m128i *)(a + 4 * i));
        __m128i ub = _mm_loadu_si128((const __m128i *)(b + 4 * i));
        __m128i bad = _mm_or_si128(_mm_cmpeq_epi32(_mm_and_si128(ua, exponent), exponent),
                                   _mm_cmpeq_epi32(_mm_and_si128(ub, exponent), exponent));
        non_finite = _mm_sub_epi32(non_finite, bad);
        changed = _mm_sub_epi32(changed, _mm_xor_si128(_mm_cmpeq_epi32(ua, ub), ones));
        __m128 fa = _mm_castsi128_ps(_mm_andnot_si128(bad, ua)), fb = _mm_castsi128_ps(_mm_andnot_si128(bad, ub));
        __m128d x0 = _mm_cvtps_pd(fa), x1 = _mm_cvtps_pd(_mm_movehl_ps(fa, fa));
        __m128d y0 = _mm_cvtps_pd(fb), y1 = _mm_cvtps_pd(_mm_movehl_ps(fb, fb));
        __m128d d0 = _mm_sub_pd(y0, x0), d1 = _mm_sub_pd(y1, x1);
        aa0 = _mm_add_pd(aa0, _mm_mul_pd(x0, x0));
        aa1 = _mm_add_pd(aa1, _mm_mul_pd(x1, x1));
        bb0 = _mm_add_pd(bb0, _mm_mul_pd(y0, y0));
        bb1 = _mm_add_pd(bb1, _mm_mul_pd(y1, y1));
        ab0 = _mm_add_pd(ab0, _mm_mul_pd(x0, y0));
        ab1 = _mm_add_pd(ab1, _mm_mul_pd(x1, y1));
        dd0 = _mm_add_pd(dd0, _mm_mul_pd(d0, d0));
        dd1 = _mm_add_pd(dd1, _mm_mul_pd(d1, d1));
        mx = _mm_max_pd(mx, _mm_max_pd(_mm_and_pd(d0, abs_mask), _mm_and_pd(d1, abs_mask)));
    }
    double lane[2];
    int32_t count[4];
#define HSUM(v0, v1) (_mm_storeu_pd(lane, _mm_add_pd(v0, v1)), lane[0] + lane[1])
    s->aa = HSUM(aa0, aa1);
    s->bb = HSUM(bb0, bb1);
    s->ab = HSUM(ab0, ab1);
    s->dd = HSUM(dd0, dd1);
    _mm_storeu_pd(lane, mx);
    s->max_abs = fmax(lane[0], lane[1]);
    _mm_storeu_si128((__m128i *)count, non_finite);
    s->non_finite = (long long)count[0] + count[1] + count[2] + count[3];
    _mm_storeu_si128((__m128i *)count, changed);
    s->changed = (long long)count[0] + count[1] + count[2] + count[3];
    return i;
}
#else
/* Plain C elsewhere: four independent lanes so the adds overlap. */
static size_t block_sums(const unsigned char *a, const unsigned char *b, size_t n, struct block_sums *s) {
    double aa[4] = {0}, bb[4] = {0}, ab[4] = {0}, dd[4] = {0}, mx[4] = {0};
    long long non_finite = 0, changed = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int k = 0; k < 4; k++) {
            uint32_t ua, ub;
            float fa, fb;
            memcpy(&ua, a + 4 * (i + k), 4);
            memcpy(&ub, b + 4 * (i + k), 4);
            memcpy(&fa, &ua, 4);
            memcpy(&fb, &ub, 4);
            int bad = ((ua & EXPONENT) == EXPONENT) | ((ub & EXPONENT) == EXPONENT);
            double x = bad ? 0.0 : fa, y = bad ? 0.0 : fb, d = y - x, ad = fabs(d);
            aa[k] += x * x;
            bb[k] += y * y;
            ab[k] += x * y;
            dd[k] += d * d;
            mx[k] = ad > mx[k] ? ad : mx[k];
            non_finite += bad;
            changed += ua != ub;
        }
    }
    s->aa = (aa[0] + aa[1]) + (aa[2] + aa[3]);
    s->bb = (bb[0] + bb[1]) + (bb[2] + bb[3]);
    s->ab = (ab[0] + ab[1]) + (ab[2] + ab[3]);
    s->dd = (dd[0] + dd[1]) + (dd[2] + dd[3]);
    s->max_abs = fmax(fmax(mx[0], mx[1]), fmax(mx[2], mx[3]));
    s->non_finite = non_finite;
    s->changed = changed;
    return i;
}
#endif

/* One block (n ≤ BLOCK): the vector part, the tail element by element, into the totals. */
static void block(const unsigned char *a, const unsigned char *b, size_t n, struct totals *t) {
    struct block_sums s;
    size_t i = block_sums(a, b, n, &s);
    for (; i < n; i++) {
        uint32_t ua, ub;
        float fa, fb;
        memcpy(&ua, a + 4 * i, 4);
        memcpy(&ub, b + 4 * i, 4);
        memcpy(&fa, &ua, 4);
        memcpy(&fb, &ub, 4);
        s.changed += ua != ub;
        if ((ua & EXPONENT) == EXPONENT || (ub & EXPONENT) == EXPONENT) {
            s.non_finite++;
            continue;
        }
        double x = fa, y = fb, d = y - x;
        s.aa += x * x;
        s.bb += y * y;
        s.ab += x * y;
        s.dd += d * d;
        s.max_abs = fmax(s.max_abs, fabs(d));
    }
    if (s.non_finite > 0) {
        /* Rare: say which file holds NaN or Inf. */
        for (size_t j = 0; j < n; j++) {
            uint32_t ua, ub;
            memcpy(&ua, a + 4 * j, 4);
            memcpy(&ub, b + 4 * j, 4);
            count_non_finite(ua, &t->base_nan, &t->base_inf);
            count_non_finite(ub, &t->tuned_nan, &t->tuned_inf);
        }
    }
    t->sum_aa += s.aa;
    t->sum_bb += s.bb;
    t->sum_ab += s.ab;
    t->sum_dd += s.dd;
    t->max_abs = fmax(t->max_abs, s.max_abs);
    t->changed += s.changed;
    t->finite += (long long)n - s.non_finite;
    t->count += (long long)n;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE TUNED OFFSETS\n", argv[0]);
        return 2;
    }
    size_t size_a, size_b;
    double start = now();
    const unsigned char *file_a = map_file(argv[1], &size_a);
    const unsigned char *file_b = map_file(argv[2], &size_b);
    FILE *list = fopen(argv[3], "r");
    if (!list) {
        perror(argv[3]);
        return 2;
    }
    struct totals t;
    memset(&t, 0, sizeof t);
    unsigned long long off_a, off_b, count;
    long datasets = 0;
    while (fscanf(list, "%llu %llu %llu", &off_a, &off_b, &count) == 3) {
        if (off_a + 4 * count > size_a || off_b + 4 * count > size_b) {
            fprintf(stderr, "probe: dataset %ld (offsets %llu, %llu, %llu values) is outside the files\n",
                    datasets, off_a, off_b, count);
            return 2;
        }
        for (unsigned long long i = 0; i < count; i += BLOCK) {
            size_t n = count - i < BLOCK ? (size_t)(count - i) : BLOCK;
            block(file_a + off_a + 4 * i, file_b + off_b + 4 * i, n, &t);
        }
        datasets++;
    }
    fclose(list);
    double seconds = now() - start;
    double bytes = (double)size_a + (double)size_b;
    printf("{\"datasets\": %ld, \"count\": %lld, \"finiteCount\": %lld, \"changedCount\": %lld, "
           "\"baseNaN\": %lld, \"baseInf\": %lld, \"tunedNaN\": %lld, \"tunedInf\": %lld, "
           "\"sumBaseSq\": %.17g, \"sumTunedSq\": %.17g, \"sumDot\": %.17g, \"sumDiffSq\": %.17g, "
           "\"maxAbsChange\": %.17g, \"relativeChange\": %.17g, \"fileBytes\": %.0f, "
           "\"seconds\": %.4f, \"GBps\": %.3f}\n",
           datasets, t.count, t.finite, t.changed, t.base_nan, t.base_inf, t.tuned_nan, t.tuned_inf,
           t.sum_aa, t.sum_bb, t.sum_ab, t.sum_dd, t.max_abs, sqrt(t.sum_dd / t.sum_aa), bytes, seconds,
           bytes / seconds / 1e9);
    return 0;
}
