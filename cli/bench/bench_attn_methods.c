/* ditgen bench attention --method NAME|all [--geometry TxHxW ...]: every
 * attention method against dense on video token geometries, in one run with
 * the same inputs and threads. Per method and geometry: median time after
 * warm-up, effective GFLOP/s (4 * allowed pairs * head_dim * heads / time),
 * density, speedup over dense, and speedup * density, the fraction of the
 * ideal 1/density speedup that is realised. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/method.h"
#include "cli/args.h"
#include "cli/bench/bench_commands.h"
#include "cli/bench/bench_opts.h"
#include "cli/param_flags.h"
#include "cli/timing.h"
#include "core/backend.h"
#include "core/cpu/ops_cpu.h"
#include "core/error.h"

#define MAX_GEOMS 16

/* Parameters used when --params is not given: the method's own defaults
 * where those suit any video; otherwise a representative setting. */
static const struct {
    const char *name, *params;
} methods[] = {
    {"sta", "{\"tile\": [6, 8, 8], \"window\": [3, 3, 3], \"partial_tiles\": true}"},
    {"vdit_tile", "{\"global_frames\": 2}"},
    {"natten", "{\"kernel_size\": [7, 15, 25]}"},
    {"grat", "{\"partial_groups\": true}"},
    {"radial", NULL},
    {"agent", NULL},
};

typedef struct {
    int64_t heads, head_dim, threads, reps, warmup;
    int ngeom, format; /* 0 text, 1 csv, 2 json */
    int bf16;          /* --dtype bf16 */
    int geom[MAX_GEOMS][3];
    const char *method, *params, *device;
} sweep_opts;

static void usage(FILE *f) {
    fprintf(f, "usage: ditgen bench attention --method NAME|all [--params JSON] [--geometry TxHxW]...\n"
               "                              --heads H --head-dim D [--threads T] [--reps R] [--warmup W]\n"
               "                              [--format text|csv|json] [--device cpu|cuda[:N]] [--dtype f32|bf16]\n"
               "\n"
               "Times attention methods against dense on video geometries (default 7x30x52,\n"
               "14x30x52, 21x30x52 = Wan 480p's 32760 tokens, 1x96x96): median of R runs after W\n"
               "warm-ups, effective GFLOP/s = 4 * allowed pairs * head-dim * heads / time,\n"
               "density, speedup over dense, and efficiency = speedup * density (1 = ideal).\n"
               "  --method M      dense, sta, vdit_tile, natten, grat, radial, agent, or all\n"
               "  --params JSON   method parameters (only with one method; default: a preset)\n"
               "  --geometry G    latent frames x rows x columns, repeatable (at most %d)\n"
               "  --reps R        timed runs (default 3); --warmup W (default 1)\n"
               "  --dtype T       f32 (default) or bf16: the attentions of a model that runs in bf16\n"
               "                  (CPU: needs AVX512-BF16; agent attention stays f32)\n"
               "  --device D      cpu (default) or cuda[:N]: the CUDA dense and block-sparse kernels\n"
               "                  with the same layouts (agent attention is CPU-only)\n",
            MAX_GEOMS);
}

/* --geometry TxHxW, repeatable. */
static int parse_geometry(const char *flag, const char *val, void *out) {
    sweep_opts *o = out;
    int t, h, w, len = 0;
    if (o->ngeom == MAX_GEOMS) {
        cli_error("at most %d %s", MAX_GEOMS, flag);
        return -1;
    }
    if (sscanf(val, "%dx%dx%d%n", &t, &h, &w, &len) != 3 || val[len] || t < 1 || h < 1 || w < 1 ||
        (int64_t)t * h * w > BENCH_MAX_TOKENS) {
        cli_error("%s expects TxHxW (positive, <= %d tokens), got '%s'", flag, BENCH_MAX_TOKENS, val);
        return -1;
    }
    o->geom[o->ngeom][0] = t, o->geom[o->ngeom][1] = h, o->geom[o->ngeom][2] = w, o->ngeom++;
    return 0;
}

static int parse(int argc, char **argv, sweep_opts *o) {
    static const char *const formats[] = {"text", "csv", "json", NULL}, *const dtypes[] = {"f32", "bf16", NULL};
    *o = (sweep_opts){.reps = 3, .warmup = 1, .device = "cpu"};
    const bench_opt opts[] = {
        BENCH_STRING("method", 0, &o->method, .required = 1),
        BENCH_STRING("params", 0, &o->params),
        BENCH_CUSTOM("geometry", 0, o, parse_geometry),
        BENCH_INT64("heads", 0, &o->heads, 1, 1024, .required = 1),
        BENCH_INT64("head-dim", 0, &o->head_dim, 1, 1024, .required = 1),
        BENCH_INT64("threads", 't', &o->threads, 1, 1024),
        BENCH_INT64("reps", 0, &o->reps, 1, 10000),
        BENCH_INT64("warmup", 0, &o->warmup, 0, 10000),
        BENCH_CHOICE("format", 0, &o->format, formats),
        BENCH_STRING("device", 0, &o->device),
        BENCH_CHOICE("dtype", 0, &o->bf16, dtypes),
        BENCH_END};
    int rc = bench_opts_parse(argc, argv, opts, usage);
    if (rc) return rc;
    int known = !strcmp(o->method, "all") || !strcmp(o->method, "dense");
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) known |= !strcmp(o->method, methods[i].name);
    if (!known) {
        cli_error("unknown --method '%s'", o->method);
        return -1;
    }
    if (o->params && !strcmp(o->method, "all")) {
        cli_error("--params needs a single --method");
        return -1;
    }
    if (!o->ngeom) {
        static const int def[][3] = {{7, 30, 52}, {14, 30, 52}, {21, 30, 52}, {1, 96, 96}};
        for (int i = 0; i < 4; i++) memcpy(o->geom[i], def[i], sizeof def[i]);
        o->ngeom = 4;
    }
    return 0;
}

typedef struct {
    const char *method;
    int geom[3];
    int64_t tokens;
    double ms, gflops, density, speedup, efficiency;
    char error[200];
} row;

/* Create, prepare and time one method on be (q, k, v, out in its memory);
 * r->error set on failure. The GPU queue is drained around each timed run. */
static void run_one(const sweep_opts *o, dg_backend *be, const char *name, const char *params,
                    const dg_attn_geometry *g, const float *q, const float *k, const float *v, float *out,
                    double *times, row *r) {
    dg_attn_params ps = {0};
    dg_attn_method *m = NULL;
    r->error[0] = 0;
    if (params && dg_attn_params_parse(&ps, params, "--params") != DG_OK) {
        snprintf(r->error, sizeof r->error, "%s", dg_last_error());
        return;
    }
    const int64_t n = dg_attn_geometry_tokens(g), shape[2] = {n, o->heads * o->head_dim};
    dg_tensor tq, tk, tv, to;
    if (dg_tensor_view(&tq, be, DG_F32, 2, shape, (void *)q) || dg_tensor_view(&tk, be, DG_F32, 2, shape, (void *)k) ||
        dg_tensor_view(&tv, be, DG_F32, 2, shape, (void *)v) || dg_tensor_view(&to, be, DG_F32, 2, shape, out) ||
        dg_attn_method_create(&m, name, params ? &ps : NULL, "--params") != DG_OK || dg_attn_method_prepare(m, g, be) != DG_OK) {
        snprintf(r->error, sizeof r->error, "%s", dg_last_error());
        goto done;
    }
    for (int64_t i = 0; i < o->warmup + o->reps; i++) {
        double t0 = cli_now_s();
        const dg_attn_opts opts = {.dtype = o->bf16 ? DG_BF16 : DG_F32};
        if (dg_attn_method_run(m, &to, &tq, &tk, &tv, g->heads, &opts) != DG_OK || dg_backend_sync(be) != DG_OK) {
            snprintf(r->error, sizeof r->error, "%s", dg_last_error());
            goto done;
        }
        if (i >= o->warmup) times[i - o->warmup] = cli_now_s() - t0;
    }
    const double med = cli_median(times, o->reps);
    r->ms = med * 1e3;
    r->density = m->ops->density(m);
    r->gflops = 4.0 * r->density * (double)n * (double)n * (double)(o->head_dim * o->heads) / med * 1e-9;
done:
    dg_attn_method_free(m);
    dg_attn_params_free(&ps);
}

static void fill_random(float *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 40) / (double)(1 << 23) - 1.0);
    }
}

static void print_row(const sweep_opts *o, const row *r, int first) {
    if (o->format == 0) {
        if (r->error[0])
            printf("  %-10s %3dx%3dx%3d %7lld  skipped: %s\n", r->method, r->geom[0], r->geom[1], r->geom[2],
                   (long long)r->tokens, r->error);
        else
            printf("  %-10s %3dx%3dx%3d %7lld %11.2f %9.2f %8.4f %8.2f %10.3f\n", r->method, r->geom[0], r->geom[1],
                   r->geom[2], (long long)r->tokens, r->ms, r->gflops, r->density, r->speedup, r->efficiency);
    } else if (o->format == 1) {
        printf("%s,%dx%dx%d,%lld,%.3f,%.2f,%.6f,%.4f,%.4f,\"%s\"\n", r->method, r->geom[0], r->geom[1], r->geom[2],
               (long long)r->tokens, r->ms, r->gflops, r->density, r->speedup, r->efficiency, r->error);
    } else {
        printf("%s    {\"method\": \"%s\", \"geometry\": [%d, %d, %d], \"tokens\": %lld", first ? "" : ",\n", r->method,
               r->geom[0], r->geom[1], r->geom[2], (long long)r->tokens);
        if (r->error[0]) {
            printf(", \"error\": \"");
            for (const char *c = r->error; *c; c++) printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
            printf("\"}");
        } else {
            printf(", \"ms\": %.3f, \"gflops\": %.2f, \"density\": %.6f, \"speedup\": %.4f, \"efficiency\": %.4f}", r->ms,
                   r->gflops, r->density, r->speedup, r->efficiency);
        }
    }
}

int bench_attn_methods(int argc, char **argv) {
    cli_error_context("bench attention");
    sweep_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc > 0 ? 0 : 2;
    const int all = !strcmp(o.method, "all");
    dg_backend be;
    if (dg_backend_init_device(&be, o.device, (int)o.threads) != DG_OK) {
        cli_library_error();
        return 2;
    }
    const int threads = be.kind == DG_BACKEND_CPU ? be.threads : 0;
    if (o.bf16 && (be.kind != DG_BACKEND_CPU || !dg_attention_bf16_cpu_supported())) {
        cli_error(be.kind != DG_BACKEND_CPU ? "--dtype bf16: CPU only (the CUDA kernel has its own precision)"
                                            : "--dtype bf16: this build has no AVX512-BF16 attention kernel (needs "
                                              "such a CPU)");
        dg_backend_free(&be);
        return 2;
    }

    int64_t maxn = 0;
    for (int i = 0; i < o.ngeom; i++) {
        int64_t n = (int64_t)o.geom[i][0] * o.geom[i][1] * o.geom[i][2];
        maxn = n > maxn ? n : maxn;
    }
    const int64_t nf = maxn * o.heads * o.head_dim;
    dg_tensor tq = {0}, tk = {0}, tv = {0}, tout = {0};
    float *host = malloc((size_t)nf * sizeof(float));
    double *times = malloc((size_t)o.reps * sizeof(double));
    int ok = host && times && !dg_tensor_alloc(&tq, &be, DG_F32, 1, &nf) && !dg_tensor_alloc(&tk, &be, DG_F32, 1, &nf) &&
             !dg_tensor_alloc(&tv, &be, DG_F32, 1, &nf) && !dg_tensor_alloc(&tout, &be, DG_F32, 1, &nf);
    for (int i = 0; ok && i < 3; i++) {
        fill_random(host, (size_t)nf, (uint64_t)i + 1);
        ok = !dg_tensor_upload(i == 0 ? &tq : i == 1 ? &tk : &tv, host);
    }
    if (!ok) {
        if (host && times) cli_library_error();
        else cli_error("out of memory");
        rc = 1;
        goto done;
    }
    const float *q = tq.data, *k = tk.data, *v = tv.data;
    float *out = tout.data;

    if (o.format == 0)
        printf("attention methods: heads %lld, head-dim %lld, %s; %s, %d threads, median of %lld runs after %lld "
               "warm-up\n"
               "  %-10s %-11s %7s %11s %9s %8s %8s %10s\n",
               (long long)o.heads, (long long)o.head_dim, o.bf16 ? "bf16" : "f32", o.device, threads,
               (long long)o.reps, (long long)o.warmup, "method",
               "geometry", "tokens", "median ms", "GFLOP/s", "density", "speedup", "efficiency");
    else if (o.format == 1)
        printf("method,geometry,tokens,median_ms,gflops,density,speedup,efficiency,error\n");
    else
        printf("{\"benchmark\": \"attention_methods\", \"heads\": %lld, \"head_dim\": %lld, \"dtype\": \"%s\", "
               "\"device\": \"%s\", \"threads\": %d, \"reps\": %lld, \"warmup\": %lld, \"rows\": [\n",
               (long long)o.heads, (long long)o.head_dim, o.bf16 ? "bf16" : "f32", o.device, threads,
               (long long)o.reps, (long long)o.warmup);
    int first = 1, failed = 0;
    for (int gi = 0; gi < o.ngeom; gi++) {
        dg_attn_geometry g = {.T = o.geom[gi][0], .H = o.geom[gi][1], .W = o.geom[gi][2], .heads = (int)o.heads,
                              .head_dim = (int)o.head_dim};
        row dense = {.method = "dense", .tokens = dg_attn_geometry_tokens(&g)};
        memcpy(dense.geom, o.geom[gi], sizeof dense.geom);
        run_one(&o, &be, "dense", NULL, &g, q, k, v, out, times, &dense);
        dense.speedup = dense.efficiency = 1.0;
        print_row(&o, &dense, first), first = 0;
        if (dense.error[0]) {
            failed = 1;
            continue;
        }
        for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++) {
            if (!all && strcmp(o.method, methods[mi].name)) continue;
            row r = dense;
            r.method = methods[mi].name;
            run_one(&o, &be, r.method, o.params ? o.params : methods[mi].params, &g, q, k, v, out, times, &r);
            r.speedup = dense.ms / r.ms;
            r.efficiency = r.speedup * r.density;
            print_row(&o, &r, 0);
            failed |= !all && r.error[0];
        }
        fflush(stdout);
    }
    if (o.format == 2) printf("\n]}\n");
    rc = failed;
done:
    dg_tensor_free(&tq), dg_tensor_free(&tk), dg_tensor_free(&tv), dg_tensor_free(&tout);
    free(host), free(times);
    dg_backend_free(&be);
    return rc;
}
