/* ditgen bench attention: times the dense CPU flash attention and, in the same
 * run, in turns with it and with the same threads, a 2048^3 square product as
 * the machine's practical FLOP ceiling: OpenBLAS sgemm for the f32 kernel, the
 * linears' bf16 GEMM for the bf16 one. With --method: bench_attn_methods.c. */
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
    int json, bf16;
} attention_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen bench attention --seq N [--kv-seq M] --heads H --head-dim D\n"
            "                              [--dtype f32|bf16] [--threads T] [--reps R] [--warmup W]\n"
            "                              [--format text|json]\n"
            "\n"
            "Times dense CPU attention on random inputs and a %dx%dx%d matrix product with the\n"
            "same threads (OpenBLAS sgemm; with --dtype bf16 the linears' bf16 GEMM), in turns\n"
            "(each attention run is followed by products lasting about as long, so both see the\n"
            "same machine speed); median and best of R runs after W warm-up runs, GFLOP/s of\n"
            "both, and attention / product: the median of the R paired ratios, of the medians\n"
            "and of the bests. Attention FLOPs = 4 * seq * kv-seq * heads * head-dim.\n"
            "\n"
            "  --seq N         query tokens (required)\n"
            "  --kv-seq M      key/value tokens (default: N; e.g. 512 for text cross-attention)\n"
            "  --heads H       attention heads (required)\n"
            "  --head-dim D    channels per head (required)\n"
            "  --dtype T       f32 (default) or bf16: the bf16 kernel (needs AVX512-BF16)\n"
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
    static const char *const formats[] = {"text", "json", NULL}, *const dtypes[] = {"f32", "bf16", NULL};
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
        BENCH_CHOICE("dtype", 0, &o->bf16, dtypes),
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

/* Attention and sgemm timed in turns: each timed attention run is followed by as many sgemm runs as
 * take about as long, so both see the same minutes of a machine whose speed drifts (a shared VM's
 * sgemm moved between 141 and 184 GFLOP/s from run to run), and the ratio of each pair's rates is
 * one sample of attention / sgemm. Times in seconds (sgemm: per product); DG_ERR with the message
 * in dg_last_error. */
typedef struct {
    double *attn, *gemm, *ratio; /* [reps] each */
} paired_times;

/* The square product of the ceiling: OpenBLAS sgemm, or the bf16 GEMM (b's bf16 copy as its weight). */
typedef struct {
    dg_bf16_gemm *bf16;
    const uint16_t *b16;
} square_gemm;

static int run_square_gemm(const square_gemm *g, const float *a, const float *b, float *c) {
    if (g->bf16) return dg_gemm_bf16(g->bf16, c, a, g->b16, NULL, SGEMM_N, SGEMM_N, SGEMM_N, "bench square");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, SGEMM_N, SGEMM_N, SGEMM_N, 1.0f, a, SGEMM_N, b, SGEMM_N,
                0.0f, c, SGEMM_N);
    return DG_OK;
}

static int time_paired(const attention_opts *o, double attn_flop, double gemm_flop, paired_times *pt) {
    const int64_t width = o->heads * o->head_dim;
    const dg_attn_shape s = {.nq = o->seq, .nk = o->kv_seq, .heads = (int)o->heads, .head_dim = (int)o->head_dim,
                             .q_stride = width, .kv_stride = width, .scale = 1.0f / sqrtf((float)o->head_dim)};
    const size_t nqf = (size_t)(o->seq * width), nkf = (size_t)(o->kv_seq * width), ng = (size_t)SGEMM_N * SGEMM_N;
    float *q = malloc(nqf * sizeof(float)), *out = malloc(nqf * sizeof(float));
    float *k = malloc(nkf * sizeof(float)), *v = malloc(nkf * sizeof(float));
    float *a = malloc(ng * sizeof(float)), *b = malloc(ng * sizeof(float)), *c = malloc(ng * sizeof(float));
    uint16_t *b16 = o->bf16 ? malloc(ng * sizeof(uint16_t)) : NULL;
    square_gemm g = {NULL, b16};
    int result = DG_ERR;
    if (!q || !out || !k || !v || !a || !b || !c || (o->bf16 && !b16)) {
        dg_error("out of memory allocating the attention and matrix product inputs");
        goto done;
    }
    fill_random(q, nqf, 1), fill_random(k, nkf, 2), fill_random(v, nkf, 3);
    fill_random(a, ng, 4), fill_random(b, ng, 5);
    if (o->bf16) {
        dg_convert_from_f32(b16, DG_BF16, b, ng);
        if (dg_gemm_bf16_init(&g.bf16) != DG_OK) goto done;
    }
    int64_t per = 1; /* sgemm runs per attention run, set from the last warm-up pair */
    for (int64_t r = 0; r < o->warmup + o->reps; r++) {
        double t0 = cli_now_s();
        if ((o->bf16 ? dg_attention_dense_bf16_cpu(out, q, k, v, &s, NULL, 0)
                     : dg_attention_dense_cpu(out, q, k, v, &s, NULL, NULL, 0)) != DG_OK)
            goto done;
        const double ta = cli_now_s() - t0;
        t0 = cli_now_s();
        for (int64_t i = 0; i < per; i++)
            if (run_square_gemm(&g, a, b, c) != DG_OK) goto done;
        const double tg = (cli_now_s() - t0) / (double)per;
        if (r >= o->warmup) {
            const int64_t i = r - o->warmup;
            pt->attn[i] = ta, pt->gemm[i] = tg, pt->ratio[i] = (attn_flop / ta) / (gemm_flop / tg);
        } else {
            per = (int64_t)lround(ta / tg);
            per = per < 1 ? 1 : per > 1000 ? 1000 : per;
        }
    }
    result = DG_OK;
done:
    if (g.bf16) dg_gemm_bf16_free(g.bf16);
    free(q), free(out), free(k), free(v), free(a), free(b), free(c), free(b16);
    return result;
}

int bench_attention(int argc, char **argv) {
    cli_error_context("bench attention");
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--method") || !strncmp(argv[i], "--method=", 9)) return bench_attn_methods(argc, argv);
    attention_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc > 0 ? 0 : 2;
    if (o.bf16 && !(dg_attention_bf16_cpu_supported() && dg_gemm_bf16_supported())) {
        cli_error("--dtype bf16: needs a CPU with AVX512-BF16 and a build for it with oneDNN");
        return 2;
    }
    int threads = o.threads ? (int)o.threads : omp_get_num_procs();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);

    const double attn_flop = 4.0 * o.seq * o.kv_seq * o.heads * o.head_dim;
    const double gemm_flop = 2.0 * SGEMM_N * SGEMM_N * (double)SGEMM_N;
    double *times = malloc(3 * (size_t)o.reps * sizeof(double));
    paired_times pt = {times, times ? times + o.reps : NULL, times ? times + 2 * o.reps : NULL};
    if (!times || time_paired(&o, attn_flop, gemm_flop, &pt) != DG_OK) {
        if (times) cli_library_error();
        else cli_error("out of memory");
        free(times);
        return 1;
    }
    const double ratio_paired = cli_median(pt.ratio, o.reps); /* before the summaries sort the times */
    const timing attn = summarize(pt.attn, o.reps), gemm = summarize(pt.gemm, o.reps);
    free(times);
    const double attn_gf = attn_flop / attn.median * 1e-9, gemm_gf = gemm_flop / gemm.median * 1e-9;
    const double ratio_best = (attn_flop / attn.best) / (gemm_flop / gemm.best);
    /* a misdetected CPU (e.g. "Prescott") makes sgemm look slow */
    const char *core = o.bf16 ? "bf16 GEMM" : dg_blas_corename(), *dtype = o.bf16 ? "bf16" : "f32";
    if (o.json) {
        printf("{\"benchmark\": \"attention\", \"method\": \"dense_cpu\", \"dtype\": \"%s\", \"seq\": %lld, "
               "\"kv_seq\": %lld, "
               "\"heads\": %lld, \"head_dim\": %lld, \"threads\": %d, \"reps\": %lld, \"warmup\": %lld, "
               "\"attention_ms\": %.3f, \"attention_best_ms\": %.3f, \"attention_gflops\": %.2f, "
               "\"sgemm_mnk\": [%d, %d, %d], \"sgemm_ms\": %.3f, \"sgemm_best_ms\": %.3f, \"sgemm_gflops\": %.2f, "
               "\"openblas_core\": \"%s\", \"ratio\": %.4f, \"ratio_best\": %.4f, \"ratio_paired\": %.4f}\n",
               dtype, (long long)o.seq, (long long)o.kv_seq, (long long)o.heads, (long long)o.head_dim, threads,
               (long long)o.reps, (long long)o.warmup, attn.median * 1e3, attn.best * 1e3, attn_gf, SGEMM_N, SGEMM_N,
               SGEMM_N, gemm.median * 1e3, gemm.best * 1e3, gemm_gf, core, attn_gf / gemm_gf, ratio_best,
               ratio_paired);
    } else {
        printf("attention dense_cpu %s: seq %lld, kv-seq %lld, heads %lld, head-dim %lld; %d threads, %lld runs\n",
               dtype, (long long)o.seq, (long long)o.kv_seq, (long long)o.heads, (long long)o.head_dim, threads,
               (long long)o.reps);
        printf("  %-32s median %10.3f ms  %8.2f GFLOP/s  (best %.3f ms)\n", "attention", attn.median * 1e3, attn_gf,
               attn.best * 1e3);
        char name[64];
        snprintf(name, sizeof name, "%s %dx%dx%d (%s)", o.bf16 ? "gemm" : "sgemm", SGEMM_N, SGEMM_N, SGEMM_N, core);
        printf("  %-32s median %10.3f ms  %8.2f GFLOP/s  (best %.3f ms)\n", name, gemm.median * 1e3, gemm_gf,
               gemm.best * 1e3);
        printf("  attention / %s: %.1f %% paired (median of the runs' ratios), %.1f %% of medians, %.1f %% of "
               "bests\n",
               o.bf16 ? "gemm" : "sgemm", 100.0 * ratio_paired, 100.0 * attn_gf / gemm_gf, 100.0 * ratio_best);
    }
    return 0;
}
