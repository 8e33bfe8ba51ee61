/*
 * The limit probe: the fastest plain pass over the weight bytes of a checkpoint pair.
 *
 *   cc -O3 -march=native -ffast-math -pthread -o probe tools/bench/probe.c -lm
 *   ./probe BASE TUNED OFFSETS [THREADS]   OFFSETS: lines "base_offset tuned_offset count width"
 *                                          (little-endian float32, float16 or bfloat16 datasets,
 *                                          width 4 or 2 bytes; make_pair.py writes them)
 *
 * Maps both files and computes, in one pass, the same fused sums as weightdrift compare: over
 * the elements finite in both files, Σa², Σb², Σab and Σ(b−a)² in double (each block of 4096
 * elements into fresh accumulators, then added to the totals), max|b−a|; over all elements,
 * the count whose stored bits differ; NaN and Inf counts per file. No HDF5, no Keras, no copies
 * into buffers; THREADS threads (default 1) each take an equal run of the blocks. Built for
 * this machine's widest vector unit with the sums reassociated (-march=native -ffast-math):
 * it shows what the machine can do, the yardstick for weightdrift's time (a portable build
 * without fast-math). Prints the totals as one JSON line.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
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

/* Element loads that make no alignment promise (a .keras member may start at any byte). */
typedef uint32_t u32 __attribute__((aligned(1)));
typedef uint16_t u16 __attribute__((aligned(1)));

struct totals {
    long long count, finite, changed, base_nan, base_inf, tuned_nan, tuned_inf;
    double sum_aa, sum_bb, sum_ab, sum_dd, max_abs;
};

/* One block of a dataset pair: where it starts in each file, its elements, their width. */
struct job {
    const unsigned char *a, *b;
    unsigned n, width;
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

/* The stored bits of element i as float32 bits (float16 widened exactly, branch-free so the
 * loop vectorises; bfloat16 is the high half of a float32). */
static inline uint32_t bits(const unsigned char *p, size_t i, unsigned width) {
    if (width == 4) return ((const u32 *)p)[i];
    uint32_t h = ((const u16 *)p)[i];
    if (width == 3) return h << 16;
    uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    uint32_t normal = ((e + 112) << 23) | (m << 13), special = EXPONENT | (m << 13);
    float tiny = (float)m * 0x1p-24f; /* a subnormal half, exact (and a normal float) */
    uint32_t sub;
    memcpy(&sub, &tiny, 4);
    return sign | (e == 0 ? sub : e == 0x1f ? special : normal);
}

static inline float as_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void count_non_finite(uint32_t u, long long *nan, long long *inf) {
    if ((u & EXPONENT) != EXPONENT) return;
    if (u & 0x007fffffu) ++*nan; else ++*inf;
}

/* One block into the totals: a loop the compiler vectorises (a pair with NaN or Inf adds
 * zeros), then, only when the block held one, which file holds what. Inlined once per width,
 * so each loop knows its element type. */
static inline __attribute__((always_inline)) void block_of(const struct job *j, struct totals *t, unsigned width) {
    double aa = 0, bb = 0, ab = 0, dd = 0, mx = 0;
    long long non_finite = 0, changed = 0;
    for (size_t i = 0; i < j->n; i++) {
        uint32_t ua = bits(j->a, i, width), ub = bits(j->b, i, width);
        int bad = ((ua & EXPONENT) == EXPONENT) | ((ub & EXPONENT) == EXPONENT);
        double x = bad ? 0.0 : as_float(ua), y = bad ? 0.0 : as_float(ub), d = y - x;
        aa += x * x;
        bb += y * y;
        ab += x * y;
        dd += d * d;
        mx = fmax(mx, fabs(d));
        non_finite += bad;
        changed += ua != ub;
    }
    if (non_finite > 0) {
        for (size_t i = 0; i < j->n; i++) {
            count_non_finite(bits(j->a, i, width), &t->base_nan, &t->base_inf);
            count_non_finite(bits(j->b, i, width), &t->tuned_nan, &t->tuned_inf);
        }
    }
    t->sum_aa += aa;
    t->sum_bb += bb;
    t->sum_ab += ab;
    t->sum_dd += dd;
    t->max_abs = fmax(t->max_abs, mx);
    t->changed += changed;
    t->finite += (long long)j->n - non_finite;
    t->count += (long long)j->n;
}

static void block(const struct job *j, struct totals *t) {
    switch (j->width) {
    case 4: block_of(j, t, 4); break;
    case 3: block_of(j, t, 3); break;
    default: block_of(j, t, 2); break;
    }
}

struct share {
    const struct job *jobs;
    size_t first, end;
    struct totals totals;
};

static void *run(void *arg) {
    struct share *s = arg;
    for (size_t k = s->first; k < s->end; k++) block(&s->jobs[k], &s->totals);
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s BASE TUNED OFFSETS [THREADS]\n", argv[0]);
        return 2;
    }
    int threads = argc == 5 ? atoi(argv[4]) : 1;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "probe: THREADS must be 1 to 64\n");
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
    size_t jobs_count = 0, capacity = 1024;
    struct job *jobs = malloc(capacity * sizeof *jobs);
    unsigned long long off_a, off_b, count;
    char type[16];
    long datasets = 0;
    while (fscanf(list, "%llu %llu %llu %15s", &off_a, &off_b, &count, type) == 4) {
        /* width: 4 float32, 2 float16, 3 bfloat16 (2 bytes) */
        unsigned width = strcmp(type, "float32") == 0 ? 4 : strcmp(type, "float16") == 0 ? 2
                       : strcmp(type, "bfloat16") == 0 ? 3 : 0;
        unsigned bytes = width == 4 ? 4 : 2;
        if (width == 0 || off_a + bytes * count > size_a || off_b + bytes * count > size_b) {
            fprintf(stderr, "probe: dataset %ld (offsets %llu, %llu, %llu values of %s) is outside the files\n",
                    datasets, off_a, off_b, count, type);
            return 2;
        }
        for (unsigned long long i = 0; i < count; i += BLOCK) {
            if (jobs_count == capacity) jobs = realloc(jobs, (capacity *= 2) * sizeof *jobs);
            jobs[jobs_count++] = (struct job){file_a + off_a + bytes * i, file_b + off_b + bytes * i,
                                              (unsigned)(count - i < BLOCK ? count - i : BLOCK), width};
        }
        datasets++;
    }
    fclose(list);
    struct share shares[64];
    pthread_t ids[64];
    for (int k = 0; k < threads; k++) {
        shares[k] = (struct share){jobs, jobs_count * k / threads, jobs_count * (k + 1) / threads, {0}};
        if (k > 0) pthread_create(&ids[k], NULL, run, &shares[k]);
    }
    run(&shares[0]);
    struct totals t = shares[0].totals;
    for (int k = 1; k < threads; k++) {
        pthread_join(ids[k], NULL);
        const struct totals *o = &shares[k].totals;
        t.count += o->count, t.finite += o->finite, t.changed += o->changed;
        t.base_nan += o->base_nan, t.base_inf += o->base_inf, t.tuned_nan += o->tuned_nan, t.tuned_inf += o->tuned_inf;
        t.sum_aa += o->sum_aa, t.sum_bb += o->sum_bb, t.sum_ab += o->sum_ab, t.sum_dd += o->sum_dd;
        t.max_abs = fmax(t.max_abs, o->max_abs);
    }
    double seconds = now() - start;
    double bytes = (double)size_a + (double)size_b;
    printf("{\"datasets\": %ld, \"threads\": %d, \"count\": %lld, \"finiteCount\": %lld, \"changedCount\": %lld, "
           "\"baseNaN\": %lld, \"baseInf\": %lld, \"tunedNaN\": %lld, \"tunedInf\": %lld, "
           "\"sumBaseSq\": %.17g, \"sumTunedSq\": %.17g, \"sumDot\": %.17g, \"sumDiffSq\": %.17g, "
           "\"maxAbsChange\": %.17g, \"relativeChange\": %.17g, \"fileBytes\": %.0f, "
           "\"seconds\": %.4f, \"GBps\": %.3f}\n",
           datasets, threads, t.count, t.finite, t.changed, t.base_nan, t.base_inf, t.tuned_nan, t.tuned_inf,
           t.sum_aa, t.sum_bb, t.sum_ab, t.sum_dd, t.max_abs, sqrt(t.sum_dd / t.sum_aa), bytes, seconds,
           bytes / seconds / 1e9);
    free(jobs);
    return 0;
}
