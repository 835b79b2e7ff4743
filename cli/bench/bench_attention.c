/* ditgen bench attention: times the dense CPU flash attention and, in the same
 * run and with the same threads, OpenBLAS sgemm on a 2048^3 square product as
 * the machine's practical FLOP ceiling. With --method: bench_attn_methods.c. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/ops_cpu.h"
#include "cli/args.h"
#include "cli/bench/bench_commands.h"
#include "cli/bench/bench_opts.h"
#include "cli/param_flags.h"
#include "cli/timing.h"
#include "core/cpu/blas_tune.h"
#include "core/error.h"

/* OpenBLAS extensions; declared here too since not every cblas.h has them. */
void openblas_set_num_threads(int);

#define SGEMM_N 2048

typedef struct {
    int64_t seq, kv_seq, heads, head_dim, threads, reps, warmup;
    int json;
} attention_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen bench attention --seq N [--kv-seq M] --heads H --head-dim D\n"
            "                              [--threads T] [--reps R] [--warmup W] [--format text|json]\n"
            "\n"
            "Times dense CPU attention on random inputs (median and best of R runs after W\n"
            "warm-up runs) and OpenBLAS sgemm %dx%dx%d with the same threads; reports GFLOP/s\n"
            "of both and their ratio. Attention FLOPs = 4 * seq * kv-seq * heads * head-dim.\n"
            "\n"
            "  --seq N         query tokens (required)\n"
            "  --kv-seq M      key/value tokens (default: N; e.g. 512 for text cross-attention)\n"
            "  --heads H       attention heads (required)\n"
            "  --head-dim D    channels per head (required)\n"
            "  -t, --threads T OpenMP and OpenBLAS threads (default: all cores)\n"
            "  --reps R        timed repetitions (default 5)\n"
            "  --warmup W      untimed warm-up runs (default 1)\n"
            "  --format F      text (default) or json\n"
            "\n"
            "With --method NAME|all: sparse methods vs dense on video geometries\n"
            "(see 'ditgen bench attention --method all --help').\n",
            SGEMM_N, SGEMM_N, SGEMM_N);
}

/* Returns 0 to run, 1 when help was printed, -1 on a bad command line (one line on stderr). */
static int parse_opts(int argc, char **argv, attention_opts *o) {
    static const char *const formats[] = {"text", "json", NULL};
    *o = (attention_opts){.reps = 5, .warmup = 1};
    const bench_opt opts[] = {
        BENCH_INT64("seq", 0, &o->seq, 1, BENCH_MAX_TOKENS, .required = 1),
        BENCH_INT64("kv-seq", 0, &o->kv_seq, 1, BENCH_MAX_TOKENS),
        BENCH_INT64("heads", 0, &o->heads, 1, 1024, .required = 1),
        BENCH_INT64("head-dim", 0, &o->head_dim, 1, 1024, .required = 1),
        BENCH_INT64("threads", 't', &o->threads, 1, 1024),
        BENCH_INT64("reps", 0, &o->reps, 1, 10000),
        BENCH_INT64("warmup", 0, &o->warmup, 0, 10000),
        BENCH_CHOICE("format", 0, &o->json, formats),
        BENCH_END};
    int rc = bench_opts_parse(argc, argv, opts, usage);
    if (rc == 0 && !o->kv_seq) o->kv_seq = o->seq;
    return rc;
}

/* Median and best of n run times (seconds). The best is the least disturbed
 * by other load on the machine; the median is the typical run. */
typedef struct {
    double median, best;
} timing;

static timing summarize(double *t, int64_t n) {
    double med = cli_median(t, n);
    return (timing){med, t[0]};
}

/* Uniform [-1, 1) from a fixed-seed LCG: inputs are the same every run. */
static void fill_random(float *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 40) / (double)(1 << 23) - 1.0);
    }
}

/* DG_ERR on failure (message in dg_last_error). */
static int time_attention(const attention_opts *o, double *times, timing *tm) {
    int64_t width = o->heads * o->head_dim;
    dg_attn_shape s = {.nq = o->seq, .nk = o->kv_seq, .heads = (int)o->heads, .head_dim = (int)o->head_dim,
                       .q_stride = width, .kv_stride = width, .scale = 1.0f / sqrtf((float)o->head_dim)};
    size_t nqf = (size_t)(o->seq * width), nkf = (size_t)(o->kv_seq * width);
    float *q = malloc(nqf * sizeof(float)), *out = malloc(nqf * sizeof(float));
    float *k = malloc(nkf * sizeof(float)), *v = malloc(nkf * sizeof(float));
    int result = DG_ERR;
    if (!q || !out || !k || !v) {
        dg_error("out of memory allocating attention inputs");
        goto done;
    }
    fill_random(q, nqf, 1), fill_random(k, nkf, 2), fill_random(v, nkf, 3);
    for (int64_t r = 0; r < o->warmup + o->reps; r++) {
        double t0 = cli_now_s();
        if (dg_attention_dense_cpu(out, q, k, v, &s, NULL, 0) != DG_OK) goto done;
        if (r >= o->warmup) times[r - o->warmup] = cli_now_s() - t0;
    }
    *tm = summarize(times, o->reps);
    result = DG_OK;
done:
    free(q), free(out), free(k), free(v);
    return result;
}

static int time_sgemm(const attention_opts *o, double *times, timing *tm) {
    size_t n = (size_t)SGEMM_N * SGEMM_N;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
    int result = DG_ERR;
    if (!a || !b || !c) {
        dg_error("out of memory allocating sgemm inputs");
        goto done;
    }
    fill_random(a, n, 4), fill_random(b, n, 5);
    for (int64_t r = 0; r < o->warmup + o->reps; r++) {
        double t0 = cli_now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, SGEMM_N, SGEMM_N, SGEMM_N, 1.0f, a, SGEMM_N, b,
                    SGEMM_N, 0.0f, c, SGEMM_N);
        if (r >= o->warmup) times[r - o->warmup] = cli_now_s() - t0;
    }
    *tm = summarize(times, o->reps);
    result = DG_OK;
done:
    free(a), free(b), free(c);
    return result;
}

int bench_attention(int argc, char **argv) {
    cli_error_context("bench attention");
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--method") || !strncmp(argv[i], "--method=", 9)) return bench_attn_methods(argc, argv);
    attention_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc > 0 ? 0 : 2;
    int threads = o.threads ? (int)o.threads : omp_get_num_procs();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);

    double *times = malloc((size_t)o.reps * sizeof(double));
    timing attn, gemm;
    int ok = times && time_attention(&o, times, &attn) == DG_OK && time_sgemm(&o, times, &gemm) == DG_OK;
    free(times);
    if (!ok) {
        if (times) cli_library_error();
        else cli_error("out of memory");
        return 1;
    }
    const double attn_flop = 4.0 * o.seq * o.kv_seq * o.heads * o.head_dim;
    const double gemm_flop = 2.0 * SGEMM_N * SGEMM_N * (double)SGEMM_N;
    const double attn_gf = attn_flop / attn.median * 1e-9, gemm_gf = gemm_flop / gemm.median * 1e-9;
    const double ratio_best = (attn_flop / attn.best) / (gemm_flop / gemm.best);
    const char *core = dg_blas_corename(); /* a misdetected CPU (e.g. "Prescott") makes sgemm look slow */
    if (o.json) {
        printf("{\"benchmark\": \"attention\", \"method\": \"dense_cpu\", \"seq\": %lld, \"kv_seq\": %lld, "
               "\"heads\": %lld, \"head_dim\": %lld, \"threads\": %d, \"reps\": %lld, \"warmup\": %lld, "
               "\"attention_ms\": %.3f, \"attention_best_ms\": %.3f, \"attention_gflops\": %.2f, "
               "\"sgemm_mnk\": [%d, %d, %d], \"sgemm_ms\": %.3f, \"sgemm_best_ms\": %.3f, \"sgemm_gflops\": %.2f, "
               "\"openblas_core\": \"%s\", \"ratio\": %.4f, \"ratio_best\": %.4f}\n",
               (long long)o.seq, (long long)o.kv_seq, (long long)o.heads, (long long)o.head_dim, threads,
               (long long)o.reps, (long long)o.warmup, attn.median * 1e3, attn.best * 1e3, attn_gf, SGEMM_N, SGEMM_N,
               SGEMM_N, gemm.median * 1e3, gemm.best * 1e3, gemm_gf, core, attn_gf / gemm_gf, ratio_best);
    } else {
        printf("attention dense_cpu: seq %lld, kv-seq %lld, heads %lld, head-dim %lld; %d threads, %lld runs\n",
               (long long)o.seq, (long long)o.kv_seq, (long long)o.heads, (long long)o.head_dim, threads,
               (long long)o.reps);
        printf("  %-32s median %10.3f ms  %8.2f GFLOP/s  (best %.3f ms)\n", "attention", attn.median * 1e3, attn_gf,
               attn.best * 1e3);
        char name[64];
        snprintf(name, sizeof name, "sgemm %dx%dx%d (%s)", SGEMM_N, SGEMM_N, SGEMM_N, core);
        printf("  %-32s median %10.3f ms  %8.2f GFLOP/s  (best %.3f ms)\n", name, gemm.median * 1e3, gemm_gf,
               gemm.best * 1e3);
        printf("  attention / sgemm: %.1f %% of medians, %.1f %% of bests\n", 100.0 * attn_gf / gemm_gf,
               100.0 * ratio_best);
    }
    return 0;
}
