/* ditgen bench: micro-benchmarks. `bench attention` times the dense CPU flash
 * attention and, in the same run and with the same threads, OpenBLAS sgemm on
 * a 2048^3 square product as the machine's practical FLOP ceiling. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention/attention.h"
#include "cli/commands.h"
#include "core/error.h"

/* OpenBLAS extension; declared here too since not every cblas.h has it. */
void openblas_set_num_threads(int);

#define SGEMM_N 2048

typedef struct {
    long seq, kv_seq, heads, head_dim, threads, reps, warmup;
    int json;
} bench_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen bench attention --seq N [--kv-seq M] --heads H --head-dim D\n"
            "                              [--threads T] [--reps R] [--warmup W] [--format text|json]\n"
            "\n"
            "Times dense CPU attention on random inputs (median of R runs after W warm-up runs)\n"
            "and OpenBLAS sgemm %dx%dx%d with the same threads; reports GFLOP/s of both and\n"
            "their ratio. Attention FLOPs = 4 * seq * kv-seq * heads * head-dim.\n"
            "\n"
            "  --seq N         query tokens (required)\n"
            "  --kv-seq M      key/value tokens (default: N; e.g. 512 for text cross-attention)\n"
            "  --heads H       attention heads (required)\n"
            "  --head-dim D    channels per head (required)\n"
            "  --threads T     OpenMP and OpenBLAS threads (default: all cores)\n"
            "  --reps R        timed repetitions (default 5)\n"
            "  --warmup W      untimed warm-up runs (default 1)\n"
            "  --format F      text (default) or json\n",
            SGEMM_N, SGEMM_N, SGEMM_N);
}

/* Strict integer in [lo, hi]; prints one line and returns -1 otherwise. */
static int parse_long(const char *flag, const char *val, long lo, long hi, long *out) {
    if (!val) {
        fprintf(stderr, "ditgen bench attention: %s needs a value\n", flag);
        return -1;
    }
    char *end;
    errno = 0;
    long x = strtol(val, &end, 10);
    if (errno || end == val || *end || x < lo || x > hi) {
        fprintf(stderr, "ditgen bench attention: %s must be an integer in [%ld, %ld] (got '%s')\n", flag, lo, hi, val);
        return -1;
    }
    *out = x;
    return 0;
}

/* Returns 0 to run, 1 when help was printed, -1 on a bad command line. */
static int parse_opts(int argc, char **argv, bench_opts *o) {
    *o = (bench_opts){.reps = 5, .warmup = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long *dst = NULL, lo = 1, hi = 1L << 20;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--seq")) {
            dst = &o->seq;
        } else if (!strcmp(a, "--kv-seq")) {
            dst = &o->kv_seq;
        } else if (!strcmp(a, "--heads")) {
            dst = &o->heads, hi = 1024;
        } else if (!strcmp(a, "--head-dim")) {
            dst = &o->head_dim, hi = 1024;
        } else if (!strcmp(a, "--threads")) {
            dst = &o->threads, hi = 1024;
        } else if (!strcmp(a, "--reps")) {
            dst = &o->reps, hi = 10000;
        } else if (!strcmp(a, "--warmup")) {
            dst = &o->warmup, lo = 0, hi = 10000;
        } else if (!strcmp(a, "--format")) {
            if (!val || (strcmp(val, "text") && strcmp(val, "json"))) {
                fprintf(stderr, "ditgen bench attention: --format must be text or json\n");
                return -1;
            }
            o->json = !strcmp(val, "json");
            i++;
            continue;
        } else {
            fprintf(stderr, "ditgen bench attention: unknown option '%s' (try --help)\n", a);
            return -1;
        }
        if (parse_long(a, val, lo, hi, dst)) return -1;
        i++;
    }
    const char *missing = !o->seq ? "--seq" : !o->heads ? "--heads" : !o->head_dim ? "--head-dim" : NULL;
    if (missing) {
        fprintf(stderr, "ditgen bench attention: %s is required (try --help)\n", missing);
        return -1;
    }
    if (!o->kv_seq) o->kv_seq = o->seq;
    return 0;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, long n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Uniform [-1, 1) from a fixed-seed LCG: inputs are the same every run. */
static void fill_random(float *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 40) / (double)(1 << 23) - 1.0);
    }
}

/* Median seconds of the dense attention; -1 on failure (message in dg_last_error). */
static double time_attention(const bench_opts *o, double *times) {
    int64_t width = o->heads * o->head_dim;
    dg_attn_shape s = {.nq = o->seq, .nk = o->kv_seq, .heads = (int)o->heads, .head_dim = (int)o->head_dim,
                       .q_stride = width, .kv_stride = width, .scale = 1.0f / sqrtf((float)o->head_dim)};
    size_t nqf = (size_t)(o->seq * width), nkf = (size_t)(o->kv_seq * width);
    float *q = malloc(nqf * sizeof(float)), *out = malloc(nqf * sizeof(float));
    float *k = malloc(nkf * sizeof(float)), *v = malloc(nkf * sizeof(float));
    double result = -1;
    if (!q || !out || !k || !v) {
        dg_error("out of memory allocating attention inputs");
        goto done;
    }
    fill_random(q, nqf, 1), fill_random(k, nkf, 2), fill_random(v, nkf, 3);
    for (long r = 0; r < o->warmup + o->reps; r++) {
        double t0 = now_s();
        if (dg_attention_dense_cpu(out, q, k, v, &s) != DG_OK) goto done;
        if (r >= o->warmup) times[r - o->warmup] = now_s() - t0;
    }
    result = median(times, o->reps);
done:
    free(q), free(out), free(k), free(v);
    return result;
}

static double time_sgemm(const bench_opts *o, double *times) {
    size_t n = (size_t)SGEMM_N * SGEMM_N;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
    double result = -1;
    if (!a || !b || !c) {
        dg_error("out of memory allocating sgemm inputs");
        goto done;
    }
    fill_random(a, n, 4), fill_random(b, n, 5);
    for (long r = 0; r < o->warmup + o->reps; r++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, SGEMM_N, SGEMM_N, SGEMM_N, 1.0f, a, SGEMM_N, b,
                    SGEMM_N, 0.0f, c, SGEMM_N);
        if (r >= o->warmup) times[r - o->warmup] = now_s() - t0;
    }
    result = median(times, o->reps);
done:
    free(a), free(b), free(c);
    return result;
}

static int bench_attention(int argc, char **argv) {
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc > 0 ? 0 : 2;
    int threads = o.threads ? (int)o.threads : omp_get_num_procs();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);

    double *times = malloc((size_t)o.reps * sizeof(double));
    double t_attn = times ? time_attention(&o, times) : -1;
    double t_gemm = t_attn > 0 ? time_sgemm(&o, times) : -1;
    free(times);
    if (!times || t_attn < 0 || t_gemm < 0) {
        fprintf(stderr, "ditgen bench attention: %s\n", times ? dg_last_error() : "out of memory");
        return 1;
    }
    double attn_gf = 4.0 * o.seq * o.kv_seq * o.heads * o.head_dim / t_attn * 1e-9;
    double gemm_gf = 2.0 * SGEMM_N * SGEMM_N * (double)SGEMM_N / t_gemm * 1e-9;
    if (o.json) {
        printf("{\"benchmark\": \"attention\", \"method\": \"dense_cpu\", \"seq\": %ld, \"kv_seq\": %ld, "
               "\"heads\": %ld, \"head_dim\": %ld, \"threads\": %d, \"reps\": %ld, \"warmup\": %ld, "
               "\"attention_ms\": %.3f, \"attention_gflops\": %.2f, \"sgemm_mnk\": [%d, %d, %d], "
               "\"sgemm_ms\": %.3f, \"sgemm_gflops\": %.2f, \"ratio\": %.4f}\n",
               o.seq, o.kv_seq, o.heads, o.head_dim, threads, o.reps, o.warmup, t_attn * 1e3, attn_gf, SGEMM_N,
               SGEMM_N, SGEMM_N, t_gemm * 1e3, gemm_gf, attn_gf / gemm_gf);
    } else {
        printf("attention dense_cpu: seq %ld, kv-seq %ld, heads %ld, head-dim %ld; %d threads, median of %ld\n",
               o.seq, o.kv_seq, o.heads, o.head_dim, threads, o.reps);
        printf("  attention              %10.3f ms  %8.2f GFLOP/s\n", t_attn * 1e3, attn_gf);
        printf("  sgemm %dx%dx%d     %10.3f ms  %8.2f GFLOP/s\n", SGEMM_N, SGEMM_N, SGEMM_N, t_gemm * 1e3, gemm_gf);
        printf("  attention / sgemm      %10.1f %%\n", 100.0 * attn_gf / gemm_gf);
    }
    return 0;
}

static void bench_usage(FILE *f) {
    fprintf(f, "usage: ditgen bench <benchmark> [options]\n"
               "\n"
               "benchmarks:\n"
               "  attention   dense CPU flash attention vs OpenBLAS sgemm\n"
               "\n"
               "Run 'ditgen bench <benchmark> --help' for its options.\n");
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "attention")) return bench_attention(argc - 1, argv + 1);
    fprintf(stderr, "ditgen bench: unknown benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}
