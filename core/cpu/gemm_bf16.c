#include "core/cpu/gemm_bf16.h"

#include <stdlib.h>

#include "core/error.h"

#ifdef DG_HAVE_DNNL

#include <dnnl.h>
#include <immintrin.h>

/* Linears repeat a handful of shapes per model and size; creating a oneDNN primitive costs far more
 * than looking one up here. */
#define GEMM_CACHE 16

typedef struct gemm_entry {
    int64_t M, N, K;
    int bias;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bia, dst;
} gemm_entry;

struct dg_bf16_gemm {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    gemm_entry cache[GEMM_CACHE];
    int next; /* round-robin slot to replace when the cache is full */
    uint16_t *xb; /* x rounded to bf16, reused across calls */
    size_t xb_len;
};

/* to_bf16's masked 256-bit store needs AVX512-VL/BW beside BF16; every CPU with BF16 has them, but
 * the build machine may have none of them, so the target attribute names each one. */
int dg_gemm_bf16_supported(void) {
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw");
}

static void entry_free(gemm_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->wei) dnnl_memory_destroy(e->wei);
    if (e->bia) dnnl_memory_destroy(e->bia);
    if (e->dst) dnnl_memory_destroy(e->dst);
    *e = (gemm_entry){0};
}

int dg_gemm_bf16_init(dg_bf16_gemm **out) {
    *out = NULL;
    DG_CHECK(dg_gemm_bf16_supported(), "bf16 GEMM: this CPU has no AVX512-BF16");
    dg_bf16_gemm *g = calloc(1, sizeof *g);
    DG_CHECK_ALLOC(g);
    if (dnnl_engine_create(&g->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&g->stream, g->eng, dnnl_stream_default_flags) != dnnl_success) {
        dg_gemm_bf16_free(g);
        return dg_error("bf16 GEMM: oneDNN CPU engine could not be created");
    }
    *out = g;
    return DG_OK;
}

void dg_gemm_bf16_free(dg_bf16_gemm *g) {
    if (!g) return;
    for (int i = 0; i < GEMM_CACHE; i++) entry_free(&g->cache[i]);
    if (g->stream) dnnl_stream_destroy(g->stream);
    if (g->eng) dnnl_engine_destroy(g->eng);
    free(g->xb);
    free(g);
}

/* Round to nearest even like dg_f32_to_bf16, 16 floats per instruction. The OpenMP loop is outside
 * the target-attributed function: compilers outline its body into a function without the target. */
__attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16"))) static void to_bf16_range(uint16_t *dst,
                                                                                          const float *src,
                                                                                          int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, (__m256i)h);
    }
}

static void to_bf16(uint16_t *dst, const float *src, int64_t n) {
    enum { CHUNK = 4096 }; /* a multiple of 16: only the last chunk is partial */
    #pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < n; c += CHUNK) to_bf16_range(dst + c, src + c, n - c < CHUNK ? n - c : CHUNK);
}

#define DNNL_TRY(call)                                                                                   \
    do {                                                                                                 \
        if ((call) != dnnl_success) goto fail;                                                           \
    } while (0)

static int entry_make(dg_bf16_gemm *g, gemm_entry *e, int64_t M, int64_t N, int64_t K, int bias) {
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_dims_t ds = {M, K}, dw = {K, N}, db = {1, N}, dd = {M, N};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    *e = (gemm_entry){.M = M, .N = N, .K = K, .bias = bias};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src, 2, ds, dnnl_bf16, dnnl_ab));
    /* w is [N, K] row-major: the K x N operand in column-major ("ba") order, read in place */
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei, 2, dw, dnnl_bf16, dnnl_ba));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bia, 2, db, dnnl_f32, dnnl_ab));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab));
    DNNL_TRY(dnnl_matmul_desc_init(&md, &src, &wei, bias ? &bia : NULL, &dst));
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &md, NULL, g->eng, NULL));
    DNNL_TRY(dnnl_primitive_create(&e->prim, pd));
    DNNL_TRY(dnnl_memory_create(&e->src, &src, g->eng, DNNL_MEMORY_NONE));
    DNNL_TRY(dnnl_memory_create(&e->wei, &wei, g->eng, DNNL_MEMORY_NONE));
    DNNL_TRY(dnnl_memory_create(&e->dst, &dst, g->eng, DNNL_MEMORY_NONE));
    if (bias) DNNL_TRY(dnnl_memory_create(&e->bia, &bia, g->eng, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_destroy(pd);
    return DG_OK;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    entry_free(e);
    return DG_ERR;
}

static int entry_get(dg_bf16_gemm *g, int64_t M, int64_t N, int64_t K, int bias, gemm_entry **out, const char *name) {
    for (int i = 0; i < GEMM_CACHE; i++) {
        gemm_entry *e = &g->cache[i];
        if (e->prim && e->M == M && e->N == N && e->K == K && e->bias == bias) {
            *out = e;
            return DG_OK;
        }
    }
    gemm_entry *e = &g->cache[g->next];
    g->next = (g->next + 1) % GEMM_CACHE;
    entry_free(e);
    DG_CHECK(entry_make(g, e, M, N, K, bias) == DG_OK, "bf16 GEMM for %s: oneDNN has no matmul for %lldx%lldx%lld",
             name, (long long)M, (long long)N, (long long)K);
    *out = e;
    return DG_OK;
}

int dg_gemm_bf16(dg_bf16_gemm *g, float *y, const float *x, const uint16_t *w, const float *b, int64_t M,
                 int64_t N, int64_t K, const char *name) {
    if (M == 0 || N == 0) return DG_OK;
    size_t n = (size_t)M * (size_t)K;
    if (g->xb_len < n) {
        free(g->xb);
        g->xb_len = 0;
        g->xb = malloc(n * sizeof(uint16_t));
        DG_CHECK(g->xb != NULL, "out of memory rounding the input of %s to bf16", name);
        g->xb_len = n;
    }
    to_bf16(g->xb, x, (int64_t)n);
    gemm_entry *e;
    DG_TRY(entry_get(g, M, N, K, b != NULL, &e, name));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst},
                               {DNNL_ARG_BIAS, e->bia}};
    /* oneDNN only reads src, weights and bias; its handles are not const */
    int ok = dnnl_memory_set_data_handle(e->src, g->xb) == dnnl_success &&
             dnnl_memory_set_data_handle(e->wei, (void *)w) == dnnl_success &&
             dnnl_memory_set_data_handle(e->dst, y) == dnnl_success &&
             (!b || dnnl_memory_set_data_handle(e->bia, (void *)b) == dnnl_success) &&
             dnnl_primitive_execute(e->prim, g->stream, b ? 4 : 3, args) == dnnl_success &&
             dnnl_stream_wait(g->stream) == dnnl_success;
    DG_CHECK(ok, "bf16 GEMM for %s (%lldx%lldx%lld): oneDNN matmul failed", name, (long long)M, (long long)N,
             (long long)K);
    return DG_OK;
}

#else /* no oneDNN in this build: the CPU linear stays on its f32 path */

int dg_gemm_bf16_supported(void) { return 0; }

int dg_gemm_bf16_init(dg_bf16_gemm **g) {
    *g = NULL;
    return dg_error("bf16 GEMM: this build has no oneDNN (install libdnnl-dev and rebuild)");
}

void dg_gemm_bf16_free(dg_bf16_gemm *g) { (void)g; }

int dg_gemm_bf16(dg_bf16_gemm *g, float *y, const float *x, const uint16_t *w, const float *b, int64_t M,
                 int64_t N, int64_t K, const char *name) {
    (void)g, (void)y, (void)x, (void)w, (void)b, (void)M, (void)N, (void)K;
    return dg_error("bf16 GEMM for %s: this build has no oneDNN", name);
}

#endif
