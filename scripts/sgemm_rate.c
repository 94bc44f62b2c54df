/*
 * sgemm_rate: OpenBLAS's own SGEMM rate, calling cblas_sgemm directly from
 * C, for internal/cpubench to compare gradmesh's binding against. Built at
 * measurement time against the library gradmesh loads:
 *
 *     gcc -O2 -o sgemm_rate scripts/sgemm_rate.c -l:libopenblas.so.0
 *     ./sgemm_rate M N K TRANSA TRANSB THREADS SECONDS   (TRANS: N or T)
 *
 * It computes C = A·B (row-major, op() per TRANSA/TRANSB) on random
 * operands, warms up, then times chunks of about SECONDS/10 each and prints
 * the best chunk's rate in GFLOP/s (2·M·N·K per product): internal/cpubench
 * times the Go side the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* cblas.h's declarations, so that no development package is needed. */
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *random_matrix(long n) {
    float *p = malloc(n * sizeof *p);
    if (!p) {
        perror("sgemm_rate");
        exit(1);
    }
    for (long i = 0; i < n; i++)
        p[i] = (float)rand() / RAND_MAX - 0.5f;
    return p;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s M N K TRANSA TRANSB THREADS SECONDS\n", argv[0]);
        return 2;
    }
    int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]);
    int ta = argv[4][0] == 'T' ? Trans : NoTrans, tb = argv[5][0] == 'T' ? Trans : NoTrans;
    int threads = atoi(argv[6]);
    double seconds = atof(argv[7]);
    if (m < 1 || n < 1 || k < 1 || threads < 1 || seconds <= 0) {
        fprintf(stderr, "sgemm_rate: sizes and threads must be ≥ 1, seconds > 0\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    /* Row-major leading dimensions: the stored matrices' column counts. */
    int lda = ta == NoTrans ? k : m, ldb = tb == NoTrans ? n : k;
    float *a = random_matrix((long)m * k), *b = random_matrix((long)k * n), *c = random_matrix((long)m * n);

    double flops = 2.0 * m * n * k, chunk = seconds / 10, best = 0;
    for (double start = now(); now() - start < chunk;) /* warm up: threads, caches */
        cblas_sgemm(RowMajor, ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n);
    for (double end = now() + seconds; now() < end;) {
        long calls = 0;
        double start = now(), t;
        do {
            cblas_sgemm(RowMajor, ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n);
            calls++;
        } while ((t = now()) - start < chunk);
        double rate = flops * calls / (t - start) / 1e9;
        if (rate > best)
            best = rate;
    }
    printf("%.3f\n", best);
    return 0;
}
