/* The Wan2.1 transformer's forward pass, and what it keeps per latent size. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "dit/wan.h"

/* The activations of one forward, all f32 in the arena: the arena's size is
 * the sum over this list, so the two cannot disagree. Rows: ROWS_TOKENS every
 * token (the patches and the final projection, gathered from all ranks when
 * split), ROWS_LOCAL this rank's tokens, ROWS_KV self-attention's keys and
 * values (every token under exact sequence parallelism by all-gather, this
 * rank's under Ulysses; the local scope under clip parallelism), ROWS_GLOBAL
 * the global scope of clip parallelism, ROWS_PART a second partial attention
 * and both parts' log-sum-exp (when attention runs in merged parts), ROWS_ULY
 * Ulysses' whole-sequence Q/K/V/O of this rank's heads (no rows otherwise). */
typedef enum { ROWS_TOKENS, ROWS_LOCAL, ROWS_KV, ROWS_GLOBAL, ROWS_PART, ROWS_ULY, ROWS_TEXT, ROWS_ONE, N_ROWS } act_rows;
typedef enum { COLS_DIM, COLS_DIM2, COLS_DIM6, COLS_FFN, COLS_FREQ, COLS_PATCH_IN, COLS_PATCH_OUT, COLS_HEADS } act_cols;
enum {
    PATCHES, HIDDEN, NORMED, Q, K, V, ATTN_OUT, FFN_HIDDEN, T_SINUSOID, TEMB, TEMB_SILU, TPROJ, MODULATION,
    HEAD_MODULATION, CTX_HIDDEN, CTX, CROSS_K, CROSS_V, PROJ_OUT, GLOBAL_K, GLOBAL_V, ATTN_OUT2, LSE, LSE2, U_Q, U_K,
    U_V, U_O, N_ACTS
};
static const struct {
    const char *name;
    act_rows rows;
    act_cols cols;
} acts[N_ACTS] = {
    [PATCHES] = {"patches", ROWS_TOKENS, COLS_PATCH_IN},
    [HIDDEN] = {"hidden", ROWS_LOCAL, COLS_DIM},
    [NORMED] = {"normed", ROWS_LOCAL, COLS_DIM},
    [Q] = {"q", ROWS_LOCAL, COLS_DIM},
    [K] = {"k", ROWS_KV, COLS_DIM},
    [V] = {"v", ROWS_KV, COLS_DIM},
    [ATTN_OUT] = {"attn_out", ROWS_LOCAL, COLS_DIM},
    [FFN_HIDDEN] = {"ffn_hidden", ROWS_LOCAL, COLS_FFN},
    [T_SINUSOID] = {"t_sinusoid", ROWS_ONE, COLS_FREQ},
    [TEMB] = {"temb", ROWS_ONE, COLS_DIM},
    [TEMB_SILU] = {"temb_silu", ROWS_ONE, COLS_DIM},
    [TPROJ] = {"tproj", ROWS_ONE, COLS_DIM6},
    [MODULATION] = {"modulation", ROWS_ONE, COLS_DIM6},
    [HEAD_MODULATION] = {"head_modulation", ROWS_ONE, COLS_DIM2},
    [CTX_HIDDEN] = {"ctx_hidden", ROWS_TEXT, COLS_DIM},
    [CTX] = {"ctx", ROWS_TEXT, COLS_DIM},
    [CROSS_K] = {"cross_k", ROWS_TEXT, COLS_DIM},
    [CROSS_V] = {"cross_v", ROWS_TEXT, COLS_DIM},
    [PROJ_OUT] = {"proj_out", ROWS_TOKENS, COLS_PATCH_OUT},
    [GLOBAL_K] = {"global_k", ROWS_GLOBAL, COLS_DIM},
    [GLOBAL_V] = {"global_v", ROWS_GLOBAL, COLS_DIM},
    [ATTN_OUT2] = {"attn_out_part", ROWS_PART, COLS_DIM},
    [LSE] = {"lse", ROWS_PART, COLS_HEADS},
    [LSE2] = {"lse_part", ROWS_PART, COLS_HEADS},
    [U_Q] = {"ulysses_q", ROWS_ULY, COLS_DIM},
    [U_K] = {"ulysses_k", ROWS_ULY, COLS_DIM},
    [U_V] = {"ulysses_v", ROWS_ULY, COLS_DIM},
    [U_O] = {"ulysses_o", ROWS_ULY, COLS_DIM},
};

static int64_t patch_volume(const dg_wan_config *c) { return (int64_t)c->patch[0] * c->patch[1] * c->patch[2]; }

/* rows[kind]: the row count of each kind for a size and split. */
static int64_t act_shape(const dg_wan_config *c, int id, const int64_t rows[N_ROWS], int64_t shape[2]) {
    const int64_t D = c->dim;
    const int64_t cols[] = {[COLS_DIM] = D,         [COLS_DIM2] = 2 * D,
                            [COLS_DIM6] = 6 * D,    [COLS_FFN] = c->ffn_dim,
                            [COLS_FREQ] = c->freq_dim, [COLS_PATCH_IN] = patch_volume(c) * c->in_channels,
                            [COLS_PATCH_OUT] = patch_volume(c) * c->out_channels, [COLS_HEADS] = c->heads};
    shape[0] = rows[acts[id].rows];
    shape[1] = cols[acts[id].cols];
    return shape[0] * shape[1];
}

static size_t arena_bytes(const dg_wan_config *c, const int64_t rows[N_ROWS]) {
    size_t total = 0;
    int64_t shape[2];
    for (int id = 0; id < N_ACTS; id++)
        total += ((size_t)act_shape(c, id, rows, shape) * sizeof(float) + 63) & ~(size_t)63; /* as dg_arena_tensor */
    return total;
}

/* The row counts of a prepared size; L text tokens. */
static void sized_rows(const dg_wan_sized *s, int64_t N, int64_t L, int64_t rows[N_ROWS]) {
    const int64_t G = s->global_rows;
    rows[ROWS_TOKENS] = N, rows[ROWS_LOCAL] = s->ntok, rows[ROWS_KV] = s->kv_rows, rows[ROWS_GLOBAL] = G;
    rows[ROWS_PART] = s->partial ? s->ntok : 0, rows[ROWS_ULY] = s->uly_rows, rows[ROWS_TEXT] = L, rows[ROWS_ONE] = 1;
}

size_t dg_wan_tokens(const dg_wan_config *c, int64_t F, int64_t H, int64_t W) {
    return (size_t)(F / c->patch[0]) * (size_t)(H / c->patch[1]) * (size_t)(W / c->patch[2]);
}

dg_attn_geometry dg_wan_attn_geometry(const dg_wan_config *c, int F, int H, int W) {
    return (dg_attn_geometry){.T = F / c->patch[0], .H = H / c->patch[1], .W = W / c->patch[2],
                              .heads = c->heads, .head_dim = c->head_dim};
}

size_t dg_wan_sized_bytes(const dg_wan_config *c, int F, int H, int W, int L, int with_fork) {
    const size_t N = dg_wan_tokens(c, F, H, W);
    const int64_t rows[N_ROWS] = {[ROWS_TOKENS] = (int64_t)N, [ROWS_LOCAL] = (int64_t)N, [ROWS_KV] = (int64_t)N,
                                  [ROWS_TEXT] = L, [ROWS_ONE] = 1};
    return arena_bytes(c, rows) + 2 * N * (size_t)c->head_dim * sizeof(float) +
           (with_fork ? N * (size_t)c->dim * sizeof(float) : 0);
}

/* Clip parallelism: frame j of rank r's share of the global scope (the frames 0, stride, ... of its
 * clip) in the whole video's latent frames. */
static int64_t global_frame(const dg_wan_sized *s, int r, int j) {
    int64_t f0 = 0;
    for (int q = 0; q < r; q++) f0 += s->part_rows[q] / s->frame_tokens;
    return f0 + j * (s->part_rows[r] / s->frame_tokens / s->split.global);
}

/* The temporal position this rank gives global frame f (see dg_wan_global_rope). */
static int64_t global_position(const dg_wan_sized *s, int64_t f) {
    const int64_t lo = s->tok0 / s->frame_tokens - s->split.halo - 1, hi = (s->tok0 + s->ntok) / s->frame_tokens + s->split.halo;
    switch (s->split.global_rope) {
    case DG_WAN_ROPE_CLAMPED: return f < lo ? lo : f > hi ? hi : f;
    case DG_WAN_ROPE_NONE: return 0;
    default: return f;
    }
}

/* RoPE cos/sin over the patch grid (and, for clip parallelism, of the global keys), computed on the
 * host once per size. */
static int rope_tables(dg_wan_sized *s, const dg_wan_config *c, int Fp, int Hp, int Wp) {
    const int64_t N = (int64_t)Fp * Hp * Wp, hd = c->head_dim, shape[2] = {N, hd};
    const int hw = 2 * (c->head_dim / 6), dims[3] = {c->head_dim - 2 * hw, hw, hw};
    const int64_t G = s->global_rows;
    const int clip_globals = G > 0;
    const int64_t gshape[2] = {G, hd};
    DG_TRY(dg_tensor_alloc(&s->rope_cos, s->arena.backend, DG_F32, 2, shape));
    DG_TRY(dg_tensor_alloc(&s->rope_sin, s->arena.backend, DG_F32, 2, shape));
    if (clip_globals) {
        DG_TRY(dg_tensor_alloc(&s->global_cos, s->arena.backend, DG_F32, 2, gshape));
        DG_TRY(dg_tensor_alloc(&s->global_sin, s->arena.backend, DG_F32, 2, gshape));
    }
    float *cs = malloc((size_t)(2 * (N + G) * hd) * sizeof(float));
    DG_CHECK(cs != NULL, "out of memory building RoPE tables for %lld tokens", (long long)N);
    int rc = dg_rope3d_tables(cs, cs + N * hd, Fp, Hp, Wp, dims, 10000.0);
    if (rc == DG_OK) rc = dg_tensor_upload(&s->rope_cos, cs);
    if (rc == DG_OK) rc = dg_tensor_upload(&s->rope_sin, cs + N * hd);
    if (rc == DG_OK && clip_globals) {
        float *gc = cs + 2 * N * hd, *gs = gc + G * hd;
        int64_t row = 0;
        for (int r = 0; r < s->comm->size; r++)
            for (int j = 0; j < s->split.global; j++) {
                const int64_t t = global_position(s, global_frame(s, r, j));
                for (int64_t i = 0; i < Hp; i++)
                    for (int64_t w = 0; w < Wp; w++, row++) {
                        const int64_t pos[3] = {t, i, w};
                        dg_rope3d_row(gc + row * hd, gs + row * hd, pos, dims, 10000.0);
                    }
            }
        rc = dg_tensor_upload(&s->global_cos, gc);
        if (rc == DG_OK) rc = dg_tensor_upload(&s->global_sin, gs);
    }
    free(cs);
    return rc;
}

/* This rank's share: tokens for exact sequence parallelism, whole latent frames (with their halos)
 * for clip parallelism. */
static int split_tokens(dg_wan_sized *s, const dg_wan_config *c, int64_t Fp) {
    const dg_wan_split *sp = &s->split;
    dg_comm *comm = sp->comm;
    const int64_t N = Fp * s->frame_tokens;
    s->part_rows = malloc((size_t)comm->size * sizeof(int64_t));
    s->part_floats = malloc(2 * (size_t)comm->size * sizeof(int64_t));
    DG_CHECK(s->part_rows && s->part_floats, "%s:%d: out of memory", __FILE__, __LINE__);
    if (!sp->clip) {
        dg_comm_split(comm, N, 1, &s->tok0, &s->ntok, s->part_rows);
        s->ulysses = sp->kv_mode == DG_WAN_KV_ULYSSES || (sp->kv_mode == DG_WAN_KV_AUTO && c->heads % comm->size == 0);
        if (s->ulysses) { /* own rows only; whole sequences of heads/N heads after the all-to-all */
            s->kv_rows = s->ntok, s->kv_local = 0;
            s->uly_rows = (N * (c->heads / comm->size) + c->heads - 1) / c->heads;
        } else { /* every row; the own rows are attended while the others arrive */
            s->kv_rows = N, s->kv_local = s->tok0, s->partial = comm->size > 1;
        }
        return DG_OK;
    }
    int64_t f0, nf;
    dg_comm_split(comm, Fp, s->frame_tokens, &f0, &nf, s->part_rows);
    s->tok0 = f0 * s->frame_tokens, s->ntok = nf * s->frame_tokens;
    s->halo_prev = comm->rank > 0 ? sp->halo * s->frame_tokens : 0;
    s->halo_next = comm->rank + 1 < comm->size ? sp->halo * s->frame_tokens : 0;
    s->kv_rows = s->halo_prev + s->ntok + s->halo_next, s->kv_local = s->halo_prev;
    s->global_rows = (int64_t)sp->global * comm->size * s->frame_tokens;
    s->partial = sp->global || s->halo_prev || s->halo_next;
    return DG_OK;
}

int dg_wan_split_check(const dg_wan_split *sp, const dg_wan_config *c, int F, int H, int W, int perturbed) {
    if (!sp || !sp->comm) return DG_OK;
    const int64_t Fp = F / c->patch[0], N = Fp * (H / c->patch[1]) * (W / c->patch[2]);
    const int size = sp->comm->size;
    if (!sp->clip) {
        DG_CHECK(N >= size, "%lld tokens cannot be split over %d ranks", (long long)N, size);
        DG_CHECK(sp->kv_mode != DG_WAN_KV_ULYSSES || c->heads % size == 0,
                 "Ulysses attention needs the rank count (%d) to divide the model's %d heads: use the all-gather",
                 size, c->heads);
        return DG_OK;
    }
    DG_CHECK(!perturbed, "clip parallelism does not combine with perturbation guidance yet");
    DG_CHECK(sp->halo >= 0 && sp->global >= 0 && isfinite(sp->phase_t) && isfinite(sp->phase_bias),
             "clip parallelism: halo %d and global %d frames must be >= 0, the phase finite", sp->halo, sp->global);
    const int64_t need = sp->halo > sp->global ? (sp->halo > 1 ? sp->halo : 1) : (sp->global > 1 ? sp->global : 1);
    DG_CHECK(Fp / size >= need,
             "clip parallelism: %lld latent frames over %d ranks leave fewer than the %lld each rank needs "
             "(halo %d, global %d): use fewer ranks or more frames",
             (long long)Fp, size, (long long)need, sp->halo, sp->global);
    return DG_OK;
}

int dg_wan_sized_init(dg_wan_sized *s, dg_wan_model *m, int F, int H, int W, int max_text, dg_attn_plan *plan,
                      int with_fork, const dg_wan_split *split) {
    const dg_wan_config *c = &m->cfg;
    memset(s, 0, sizeof *s);
    DG_CHECK(F >= 1 && H >= 1 && W >= 1 && F % c->patch[0] == 0 && H % c->patch[1] == 0 && W % c->patch[2] == 0,
             "latent %dx%dx%d is not a positive multiple of the patch size %dx%dx%d", F, H, W, c->patch[0],
             c->patch[1], c->patch[2]);
    const int Fp = F / c->patch[0], Hp = H / c->patch[1], Wp = W / c->patch[2];
    DG_CHECK(Fp <= c->rope_max_seq_len && Hp <= c->rope_max_seq_len && Wp <= c->rope_max_seq_len,
             "latent grid %dx%dx%d exceeds rope_max_seq_len %d", Fp, Hp, Wp, c->rope_max_seq_len);
    DG_CHECK(max_text >= 1, "text context length %d must be >= 1", max_text);
    const int parallel = split && split->comm;
    DG_CHECK(!parallel || !plan, "parallel generation runs dense attention: attention plans are not split across "
                                 "ranks yet");
    DG_TRY(dg_wan_split_check(split, c, F, H, W, 0));
    s->F = F, s->H = H, s->W = W, s->max_text = max_text, s->plan = plan;
    if (parallel) s->split = *split, s->comm = split->comm;
    s->frame_tokens = (int64_t)Hp * Wp;
    const int64_t N = (int64_t)Fp * Hp * Wp;
    s->tok0 = 0, s->ntok = N, s->kv_rows = N;
    if (parallel && split_tokens(s, c, Fp) != DG_OK) {
        dg_wan_sized_free(s);
        return DG_ERR;
    }
    const int64_t fork_shape[2] = {s->ntok, c->dim};
    int64_t rows[N_ROWS];
    sized_rows(s, N, max_text, rows);
    if (dg_arena_init(&s->arena, m->be, arena_bytes(c, rows)) != DG_OK) {
        dg_wan_sized_free(s);
        return DG_ERR;
    }
    dg_attn_geometry g = dg_wan_attn_geometry(c, F, H, W);
    if (rope_tables(s, c, Fp, Hp, Wp) != DG_OK ||
        (with_fork && dg_tensor_alloc(&s->fork_hidden, m->be, DG_F32, 2, fork_shape) != DG_OK) ||
        (plan && dg_attn_plan_prepare(plan, &g, m->be) != DG_OK)) {
        dg_wan_sized_free(s);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_wan_sized_free(dg_wan_sized *s) {
    if (s->arena.base) dg_arena_free(&s->arena);
    dg_tensor_free(&s->rope_cos);
    dg_tensor_free(&s->rope_sin);
    dg_tensor_free(&s->global_cos);
    dg_tensor_free(&s->global_sin);
    dg_tensor_free(&s->fork_hidden);
    free(s->part_rows), free(s->part_floats);
    memset(s, 0, sizeof *s);
}

/* Rows [r0, r0 + n) of a 2-D tensor. */
static dg_tensor rows_view(const dg_tensor *t, int64_t r0, int64_t n) {
    dg_tensor v = *t;
    v.shape[0] = n;
    v.data = (char *)t->data + (size_t)(r0 * t->shape[1]) * dg_dtype_size(t->dtype);
    return v;
}

/* An exchange's time and the floats this rank receives in it, for the pipeline's report. */
static void count_comm(dg_wan_sized *s, double t0, double floats) {
    s->comm_seconds += omp_get_wtime() - t0;
    s->comm_bytes += floats * sizeof(float);
}

/* Complete the started exchanges among req[0..n) (not started ones are empty): all of them, even
 * after a failure, so no request outlives its buffers. */
static int comm_wait(dg_wan_sized *s, dg_comm_req *req, int n) {
    const double t0 = omp_get_wtime();
    int rc = DG_OK;
    for (int i = 0; i < n; i++)
        if (s->comm->ops->wait(s->comm, &req[i]) != DG_OK) rc = DG_ERR;
    count_comm(s, t0, 0);
    return rc;
}

/* Every rank's rows of t (this rank's already in place) on every rank; started only with req. */
static int start_gather_rows(dg_wan_sized *s, dg_tensor *t, dg_comm_req *req) {
    if (!s->comm) return DG_OK;
    double got = 0;
    for (int r = 0; r < s->comm->size; r++) {
        s->part_floats[r] = s->part_rows[r] * t->shape[1];
        if (r != s->comm->rank) got += (double)s->part_floats[r];
    }
    DG_TRY(dg_backend_sync(t->backend)); /* the rows must be computed before they are sent */
    const double t0 = omp_get_wtime();
    const int rc = s->comm->ops->allgather_f32(s->comm, t->data, s->part_floats, req);
    count_comm(s, t0, got);
    return rc;
}

static int gather_rows(dg_wan_sized *s, dg_tensor *t) { return start_gather_rows(s, t, NULL); }

static void tap(const dg_wan_call *call, const char *name, const dg_tensor *x) {
    if (call && call->tap) call->tap(call->user, name, x);
}

/* Clip parallelism: this rank's share of the global scope, its frames 0, stride, 2 stride, ... of
 * kv (taken before RoPE: each rank rotates the gathered global keys with its own positions). */
static int sample_globals(dg_wan_sized *s, const dg_tensor *kv, dg_tensor *global) {
    const int64_t ft = s->frame_tokens, stride = s->ntok / ft / s->split.global;
    for (int j = 0; j < s->split.global; j++) {
        dg_tensor src = rows_view(kv, s->kv_local + j * stride * ft, ft);
        dg_tensor dst = rows_view(global, ((int64_t)s->comm->rank * s->split.global + j) * ft, ft);
        DG_TRY(dg_tensor_copy(&dst, &src));
    }
    return DG_OK;
}

/* Clip parallelism's exchange for one of K, V (this rank's rows and global share in place): the halo
 * frames of each neighbour into the local scope's ends (req[0]), every rank's share of the global
 * scope (req[1]). req NULL: both complete before the return. */
static int share_clip(dg_wan_sized *s, dg_tensor *kv, dg_tensor *global, dg_comm_req *req) {
    const dg_wan_split *sp = &s->split;
    dg_comm *comm = sp->comm;
    const int64_t C = kv->shape[1], ft = s->frame_tokens, halo = sp->halo * ft * C;
    float *d = kv->data, *own = d + s->kv_local * C;
    DG_TRY(dg_backend_sync(kv->backend)); /* the rows must be computed before they are sent */
    double t0 = omp_get_wtime();
    if (halo)
        DG_TRY(comm->ops->exchange_f32(comm, own, own + s->ntok * C - halo, d, own + s->ntok * C, halo,
                                       req ? &req[0] : NULL));
    count_comm(s, t0, (double)(s->halo_prev + s->halo_next) * C);
    if (!sp->global) return DG_OK;
    for (int r = 0; r < comm->size; r++) s->part_floats[r] = sp->global * ft * C;
    t0 = omp_get_wtime();
    const int rc = comm->ops->allgather_f32(comm, global->data, s->part_floats, req ? &req[1] : NULL);
    count_comm(s, t0, (double)(comm->size - 1) * sp->global * ft * C);
    return rc;
}

/* Query rows per piece of the attention that overlaps exchanges: between pieces MPI advances them. */
#define OVERLAP_PIECES 8

/* This rank's queries against key rows [k0, k0 + n) of k and v: the first part writes the output
 * (and, when there are more parts, its log-sum-exp); later ones are merged in without bias, which
 * equals one softmax over all the parts' keys. While the exchanges in pending[0..npending) run, the
 * part goes in pieces of query rows (rows are independent: the same result), each followed by a
 * progress call. */
static int attend_part(dg_wan_sized *s, dg_tensor *a, const dg_tensor *k, const dg_tensor *v, int64_t k0, int64_t n,
                       int heads, int *first, dg_comm_req *pending, int npending) {
    if (!n) return DG_OK;
    const dg_tensor kp = rows_view(k, k0, n), vp = rows_view(v, k0, n);
    dg_tensor *o = *first ? &a[ATTN_OUT] : &a[ATTN_OUT2], *lse = *first ? &a[LSE] : &a[LSE2];
    const int with_lse = !*first || s->partial;
    const int64_t nq = a[Q].shape[0], piece = npending ? (nq + OVERLAP_PIECES - 1) / OVERLAP_PIECES : nq;
    for (int64_t r0 = 0; r0 < nq; r0 += piece) {
        const int64_t m = nq - r0 < piece ? nq - r0 : piece;
        dg_tensor qr = rows_view(&a[Q], r0, m), orow = rows_view(o, r0, m), lrow = with_lse ? rows_view(lse, r0, m) : *lse;
        const dg_attn_opts opts = {.lse = with_lse ? &lrow : NULL, .dtype = s->attn_dtype};
        DG_TRY(dg_attention(&orow, &qr, &kp, &vp, heads, &opts));
        for (int i = 0; i < npending; i++) DG_TRY(s->comm->ops->progress(s->comm, &pending[i]));
    }
    if (*first) {
        *first = 0;
        return DG_OK;
    }
    return dg_attention_merge(&a[ATTN_OUT], &a[LSE], &a[ATTN_OUT2], &a[LSE2], 0.0f, 0.0f);
}

/* Clip parallelism's dual-scope attention (t: the step's timestep). The halo swaps and the global
 * gather run while the queries attend to this rank's own frames; then the halos are merged in (the
 * local scope), and the global scope, merged by log-sum-exp with the phase bias on one side. */
static int dual_scope(dg_wan_sized *s, dg_tensor *a, int heads, float t) {
    const dg_wan_split *sp = &s->split;
    dg_comm_req req[4] = {{0}};
    dg_comm_req *started = sp->blocking ? NULL : req;
    int first = 1;
    int rc = share_clip(s, &a[K], &a[GLOBAL_K], started);
    if (rc == DG_OK) rc = share_clip(s, &a[V], &a[GLOBAL_V], started ? started + 2 : NULL);
    if (rc == DG_OK) rc = attend_part(s, a, &a[K], &a[V], s->kv_local, s->ntok, heads, &first, started, started ? 4 : 0);
    if (comm_wait(s, req, 4) != DG_OK) rc = DG_ERR;
    DG_TRY(rc);
    DG_TRY(attend_part(s, a, &a[K], &a[V], 0, s->halo_prev, heads, &first, NULL, 0));
    DG_TRY(attend_part(s, a, &a[K], &a[V], s->kv_local + s->ntok, s->halo_next, heads, &first, NULL, 0));
    if (!sp->global) return DG_OK; /* the local scope alone */
    dg_tensor g3 = a[GLOBAL_K];
    const int64_t s3[3] = {g3.shape[0], heads, g3.shape[1] / heads};
    DG_TRY(dg_tensor_reshape(&g3, 3, s3));
    DG_TRY(dg_rope(&g3, &s->global_cos, &s->global_sin));
    const dg_attn_opts global = {.lse = &a[LSE2], .dtype = s->attn_dtype};
    DG_TRY(dg_attention(&a[ATTN_OUT2], &a[Q], &a[GLOBAL_K], &a[GLOBAL_V], heads, &global));
    const int early = t >= sp->phase_t;
    return dg_attention_merge(&a[ATTN_OUT], &a[LSE], &a[ATTN_OUT2], &a[LSE2], early ? 0.0f : sp->phase_bias,
                              early ? sp->phase_bias : 0.0f);
}

/* Exact sequence parallelism by all-gather: every rank's K/V rows gathered while the queries attend
 * to this rank's own rows, then the rows before and after merged in. SoftPAG's blend needs the
 * whole attention first, so a perturbed layer gathers, then attends once. */
static int gathered_attention(dg_wan_sized *s, dg_tensor *a, int heads, const dg_attn_opts *opts) {
    if (opts->perturb || !s->partial) {
        DG_TRY(gather_rows(s, &a[K]));
        DG_TRY(gather_rows(s, &a[V]));
        return dg_attention(&a[ATTN_OUT], &a[Q], &a[K], &a[V], heads, opts);
    }
    dg_comm_req req[2] = {{0}};
    const int blocking = s->split.blocking;
    int first = 1;
    int rc = start_gather_rows(s, &a[K], blocking ? NULL : &req[0]);
    if (rc == DG_OK) rc = start_gather_rows(s, &a[V], blocking ? NULL : &req[1]);
    if (rc == DG_OK) rc = attend_part(s, a, &a[K], &a[V], s->tok0, s->ntok, heads, &first, req, blocking ? 0 : 2);
    if (comm_wait(s, req, 2) != DG_OK) rc = DG_ERR;
    DG_TRY(rc);
    DG_TRY(attend_part(s, a, &a[K], &a[V], 0, s->tok0, heads, &first, NULL, 0));
    return attend_part(s, a, &a[K], &a[V], s->tok0 + s->ntok, a[K].shape[0] - s->tok0 - s->ntok, heads, &first,
                       NULL, 0);
}

/* [rows, cols] floats at offset `at` of t's storage as a 4-D box [1, rows, parts, cols / parts]. */
static dg_tensor box4(const dg_tensor *t, int64_t at, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    dg_tensor v = *t;
    v.ndim = 4;
    v.shape[0] = d0, v.shape[1] = d1, v.shape[2] = d2, v.shape[3] = d3;
    v.data = (float *)t->data + at;
    return v;
}

/* Ulysses: x [ntok, heads x hd] on this rank <-> u [N, heads/P x hd] of rank j's heads on rank j, through
 * pack (ntok x dim floats: the P head groups back to back). to_heads: x -> u, else u -> x. */
static int ulysses_swap(dg_wan_sized *s, dg_tensor *x, dg_tensor *pack, dg_tensor *u, int to_heads) {
    dg_comm *comm = s->comm;
    const int P = comm->size;
    const int64_t n = s->ntok, Dg = x->shape[1] / P;
    int64_t *mine = s->part_floats, *theirs = s->part_floats + P;
    double got = 0;
    for (int r = 0; r < P; r++) {
        mine[r] = n * Dg, theirs[r] = s->part_rows[r] * Dg;
        if (r != comm->rank) got += (double)(to_heads ? theirs[r] : mine[r]);
    }
    dg_tensor x4 = box4(x, 0, 1, n, P, Dg), p4 = box4(pack, 0, P, n, 1, Dg);
    const int64_t size[4] = {1, n, 1, Dg};
    if (to_heads)
        for (int j = 0; j < P; j++) {
            const int64_t xa[4] = {0, 0, j, 0}, pa[4] = {j, 0, 0, 0};
            DG_TRY(dg_copy_box(&p4, pa, &x4, xa, size));
        }
    DG_TRY(dg_backend_sync(x->backend)); /* the rows must be computed before they are sent */
    const double t0 = omp_get_wtime();
    const int rc = to_heads ? comm->ops->alltoall_f32(comm, pack->data, mine, u->data, theirs)
                            : comm->ops->alltoall_f32(comm, u->data, theirs, pack->data, mine);
    count_comm(s, t0, got);
    DG_TRY(rc);
    if (!to_heads)
        for (int j = 0; j < P; j++) {
            const int64_t xa[4] = {0, 0, j, 0}, pa[4] = {j, 0, 0, 0};
            DG_TRY(dg_copy_box(&x4, xa, &p4, pa, size));
        }
    return DG_OK;
}

/* Exact sequence parallelism by Ulysses: all-to-all from this rank's tokens of every head to every
 * token of heads/P heads, attention over the whole sequence, all-to-all back. NORMED is free
 * between the QKV projections and the output projection: it packs the head groups. */
static int ulysses_attention(dg_wan_sized *s, dg_tensor *a, int heads, const dg_attn_opts *opts) {
    const int P = s->comm->size, hr = heads / P;
    int64_t N = 0;
    for (int r = 0; r < P; r++) N += s->part_rows[r];
    dg_tensor u[4]; /* [N, hr x head_dim] at the start of their buffers */
    for (int i = 0; i < 4; i++) {
        u[i] = a[U_Q + i];
        u[i].shape[0] = N, u[i].shape[1] = a[Q].shape[1] / P;
    }
    DG_TRY(ulysses_swap(s, &a[Q], &a[NORMED], &u[0], 1));
    DG_TRY(ulysses_swap(s, &a[K], &a[NORMED], &u[1], 1));
    DG_TRY(ulysses_swap(s, &a[V], &a[NORMED], &u[2], 1));
    const dg_attn_opts mine = {.perturb = opts->perturb ? opts->perturb + (size_t)s->comm->rank * hr : NULL,
                               .dtype = s->attn_dtype};
    DG_TRY(dg_attention(&u[3], &u[0], &u[1], &u[2], hr, &mine));
    return ulysses_swap(s, &a[ATTN_OUT], &a[NORMED], &u[3], 0);
}

/* Self-attention through the plan (dense without one), with the layer's SoftPAG blend; split over
 * ranks, the exchange of keys and values first (exact) or the dual-scope attention (clip). With
 * stats, the backend is drained around the call so the time is the kernels' (and the exchanges'). */
static int self_attention(dg_wan_sized *s, const dg_wan_call *call, dg_wan_stats *stats, int layer, dg_tensor *a,
                          int heads, float t) {
    dg_tensor *o = &a[ATTN_OUT], *q = &a[Q], *k = &a[K], *v = &a[V];
    dg_attn_opts opts = {.perturb = call && call->perturb ? call->perturb + (size_t)layer * heads : NULL,
                         .query_offset = s->kv_local, .dtype = s->attn_dtype};
    if (stats) DG_TRY(dg_backend_sync(o->backend));
    double t0 = omp_get_wtime();
    if (s->comm && s->split.clip) {
        DG_CHECK(!opts.perturb, "clip parallelism does not combine with perturbation guidance yet");
        DG_TRY(dual_scope(s, a, heads, t));
    } else if (s->comm && s->ulysses) {
        DG_TRY(ulysses_attention(s, a, heads, &opts));
    } else if (s->comm) {
        DG_TRY(gathered_attention(s, a, heads, &opts));
    } else if (s->plan) {
        DG_TRY(dg_attn_plan_run(s->plan, call ? call->step : 0, call ? call->steps : 1, layer, o, q, k, v, heads,
                                &opts));
    } else {
        DG_TRY(dg_attention(o, q, k, v, heads, &opts));
    }
    if (stats) {
        DG_TRY(dg_backend_sync(o->backend));
        stats->attn_seconds += omp_get_wtime() - t0;
    }
    return DG_OK;
}

/* Offset into a backend f32 vector (a row of a modulation table). */
static float *row(const dg_tensor *t, int i, int64_t D) { return (float *)t->data + (size_t)i * D; }

/* Row i of a [.., D] f32 table as a [1, D] tensor. */
static dg_tensor row_view(const dg_tensor *t, int i, int64_t D) {
    dg_tensor r = *t;
    r.ndim = 2;
    r.shape[0] = 1;
    r.shape[1] = D;
    r.data = row(t, i, D);
    return r;
}

/* The text embedder: ctx [L, text_dim] -> out [L, dim] (hidden: scratch of out's shape). */
static int text_embed(dg_wan_model *m, const dg_tensor *ctx, dg_tensor *hidden, dg_tensor *out) {
    return dg_linear(hidden, ctx, &m->text1_w, &m->text1_b) || dg_gelu_tanh(hidden, hidden) ||
                   dg_linear(out, hidden, &m->text2_w, &m->text2_b)
               ? DG_ERR
               : DG_OK;
}

/* Block li's cross-attention keys and values of the embedded text. */
static int cross_kv(dg_wan_model *m, int li, const dg_tensor *text, dg_tensor *k, dg_tensor *v) {
    const dg_wan_attn *ca = &m->blocks[li].cross_attn;
    return dg_linear(k, text, &ca->k_w, &ca->k_b) || dg_rmsnorm(k, k, &ca->norm_k, m->cfg.eps) ||
                   dg_linear(v, text, &ca->v_w, &ca->v_b)
               ? DG_ERR
               : DG_OK;
}

size_t dg_wan_text_bytes(const dg_wan_config *c, int L) {
    return 2 * (size_t)c->num_layers * (size_t)L * (size_t)c->dim * sizeof(float);
}

int dg_wan_text_init(dg_wan_text *t, dg_wan_model *m, const dg_tensor *ctx) {
    const dg_wan_config *c = &m->cfg;
    memset(t, 0, sizeof *t);
    DG_CHECK(ctx->ndim == 2 && ctx->shape[1] == c->text_dim && ctx->shape[0] >= 1, "text context must be [L, %d]",
             c->text_dim);
    const int64_t L = ctx->shape[0], all[2] = {c->num_layers * L, c->dim}, one[2] = {L, c->dim};
    dg_tensor hidden = {0}, embedded = {0};
    int rc = dg_tensor_alloc(&t->k, m->be, DG_F32, 2, all) || dg_tensor_alloc(&t->v, m->be, DG_F32, 2, all) ||
             dg_tensor_alloc(&hidden, m->be, DG_F32, 2, one) || dg_tensor_alloc(&embedded, m->be, DG_F32, 2, one) ||
             text_embed(m, ctx, &hidden, &embedded);
    for (int li = 0; li < c->num_layers && !rc; li++) {
        dg_tensor k = rows_view(&t->k, li * L, L), v = rows_view(&t->v, li * L, L);
        rc = cross_kv(m, li, &embedded, &k, &v);
    }
    dg_tensor_free(&hidden), dg_tensor_free(&embedded);
    t->len = L;
    if (rc) dg_wan_text_free(t);
    return rc ? DG_ERR : DG_OK;
}

void dg_wan_text_free(dg_wan_text *t) {
    dg_tensor_free(&t->k);
    dg_tensor_free(&t->v);
    memset(t, 0, sizeof *t);
}

/* One transformer block on the hidden state a[HIDDEN]. */
static int block(dg_wan_model *m, dg_wan_sized *s, int li, dg_tensor *a, float t, const dg_wan_call *call,
                 dg_wan_stats *stats) {
    const dg_wan_config *c = &m->cfg;
    const int64_t D = c->dim;
    dg_wan_block *blk = &m->blocks[li];
    dg_tensor *h = &a[HIDDEN], *n = &a[NORMED], *q = &a[Q], *o = &a[ATTN_OUT], *mods = &a[MODULATION];
    /* this rank's keys and values, shared with the other ranks before the attention */
    dg_tensor k = rows_view(&a[K], s->kv_local, s->ntok), v = rows_view(&a[V], s->kv_local, s->ntok);
    dg_tensor cos = rows_view(&s->rope_cos, s->tok0, s->ntok), sin = rows_view(&s->rope_sin, s->tok0, s->ntok);
    /* shift1, scale1, gate1, shift2, scale2, gate2 = table + projected temb */
    DG_TRY(dg_add(mods, &blk->modulation, &a[TPROJ]));
    /* 1. self-attention */
    dg_wan_attn *sa = &blk->self_attn;
    if (dg_layernorm(n, h, NULL, NULL, c->eps) || dg_modulate(n, n, row(mods, 0, D), row(mods, 1, D)) ||
        dg_linear(q, n, &sa->q_w, &sa->q_b) || dg_rmsnorm(q, q, &sa->norm_q, c->eps) ||
        dg_linear(&k, n, &sa->k_w, &sa->k_b) || dg_rmsnorm(&k, &k, &sa->norm_k, c->eps) ||
        dg_linear(&v, n, &sa->v_w, &sa->v_b))
        return DG_ERR;
    if (s->comm && s->split.clip && s->split.global &&
        (sample_globals(s, &a[K], &a[GLOBAL_K]) || sample_globals(s, &a[V], &a[GLOBAL_V])))
        return DG_ERR;
    dg_tensor q3 = *q, k3 = k;
    const int64_t s3[3] = {s->ntok, c->heads, c->head_dim};
    if (dg_tensor_reshape(&q3, 3, s3) || dg_tensor_reshape(&k3, 3, s3) || dg_rope(&q3, &cos, &sin) ||
        dg_rope(&k3, &cos, &sin) || self_attention(s, call, stats, li, a, c->heads, t) ||
        dg_linear(n, o, &sa->o_w, &sa->o_b) || dg_gated_add(h, n, row(mods, 2, D)))
        return DG_ERR;
    /* 2. cross-attention on the text context: no modulation, no RoPE, no mask; without
     * cross_attn_norm the hidden state goes in as is (diffusers' norm2 is an Identity); the keys and
     * values come from the prompt's precomputed ones when the call has them */
    dg_wan_attn *ca = &blk->cross_attn;
    const dg_tensor *ca_in = h;
    if (c->cross_attn_norm) {
        DG_TRY(dg_layernorm(n, h, &blk->norm2_w, &blk->norm2_b, c->eps));
        ca_in = n;
    }
    const dg_wan_text *text = call ? call->text : NULL;
    dg_tensor ck = a[CROSS_K], cv = a[CROSS_V];
    if (text)
        ck = rows_view(&text->k, li * text->len, text->len), cv = rows_view(&text->v, li * text->len, text->len);
    if (dg_linear(q, ca_in, &ca->q_w, &ca->q_b) || dg_rmsnorm(q, q, &ca->norm_q, c->eps) ||
        (!text && cross_kv(m, li, &a[CTX], &ck, &cv)) ||
        dg_attention(o, q, &ck, &cv, c->heads, &(dg_attn_opts){.dtype = s->attn_dtype}) ||
        dg_linear(n, o, &ca->o_w, &ca->o_b) || dg_gated_add(h, n, NULL))
        return DG_ERR;
    /* 3. feed-forward */
    dg_tensor *ff = &a[FFN_HIDDEN];
    return dg_layernorm(n, h, NULL, NULL, c->eps) || dg_modulate(n, n, row(mods, 3, D), row(mods, 4, D)) ||
                   dg_linear(ff, n, &blk->ffn1_w, &blk->ffn1_b) || dg_gelu_tanh(ff, ff) ||
                   dg_linear(o, ff, &blk->ffn2_w, &blk->ffn2_b) || dg_gated_add(h, o, row(mods, 5, D))
               ? DG_ERR
               : DG_OK;
}

/* Everything after the arena tensors exist. */
/* Blocks [from, to) on the hidden state (keeping the fork's prefix when the call saves one). */
static int run_blocks(dg_wan_model *m, dg_wan_sized *s, dg_tensor *a, float t, const dg_wan_call *call,
                      dg_wan_stats *stats, int from, int to) {
    const int save = call && call->fork == DG_WAN_FORK_SAVE;
    for (int li = from; li < to; li++) {
        if (save && li == call->fork_layer) DG_TRY(dg_tensor_copy(&s->fork_hidden, &a[HIDDEN]));
        DG_TRY(block(m, s, li, a, t, call, stats));
        if (stats) stats->blocks++;
        char name[32];
        snprintf(name, sizeof name, "block%d", li);
        tap(call, name, &a[HIDDEN]);
    }
    return DG_OK;
}

/* Block 0, then either the other blocks or the residual they made at the cache's last full step
 * (dg_wan_cache); a reused hidden state is tapped as "cached". */
static int cached_blocks(dg_wan_model *m, dg_wan_sized *s, dg_tensor *a, float t, const dg_wan_call *call,
                         dg_wan_stats *stats) {
    dg_wan_cache *c = call->cache;
    dg_tensor *h = &a[HIDDEN], *r = c->scratch;
    DG_TRY(dg_tensor_copy(r, h));
    DG_TRY(run_blocks(m, s, a, t, call, stats, 0, 1));
    DG_TRY(dg_sub(r, h, r)); /* block 0's residual */
    c->change = NAN;
    int reuse = 0;
    if (c->mode == DG_WAN_CACHE_REUSE) {
        DG_CHECK(c->valid, "step cache: a step was to be reused before any step ran every block");
        reuse = 1;
    } else if (c->mode == DG_WAN_CACHE_DECIDE && c->valid) {
        double sums[2];
        DG_TRY(dg_abs_diff_sums(r, &c->first, sums));
        if (s->comm) DG_TRY(s->comm->ops->sum_host_f64(s->comm, sums, 2)); /* every rank takes the same decision */
        c->change = sums[1] > 0 ? sums[0] / sums[1] : sums[0] > 0 ? INFINITY : 0.0;
        reuse = c->change < c->threshold;
    }
    c->reused = reuse;
    if (reuse) {
        DG_TRY(dg_add(h, h, &c->rest));
        tap(call, "cached", h);
        return DG_OK;
    }
    c->valid = 0; /* until this step's residuals are complete */
    DG_TRY(dg_tensor_copy(&c->first, r));
    DG_TRY(dg_tensor_copy(r, h)); /* block 0's output */
    DG_TRY(run_blocks(m, s, a, t, call, stats, 1, m->cfg.num_layers));
    DG_TRY(dg_sub(&c->rest, h, r));
    c->valid = 1;
    return DG_OK;
}

int dg_wan_cache_init(dg_wan_cache *c, dg_wan_model *m, const dg_wan_sized *s, dg_tensor *scratch) {
    *c = (dg_wan_cache){.scratch = scratch, .change = NAN};
    const int64_t shape[2] = {s->ntok, m->cfg.dim};
    DG_TRY(dg_tensor_expect_shape(scratch, "step cache scratch", 2, shape));
    if (dg_tensor_alloc(&c->first, m->be, DG_F32, 2, shape) || dg_tensor_alloc(&c->rest, m->be, DG_F32, 2, shape)) {
        dg_wan_cache_free(c);
        return DG_ERR;
    }
    return DG_OK;
}

void dg_wan_cache_free(dg_wan_cache *c) {
    dg_tensor_free(&c->first);
    dg_tensor_free(&c->rest);
    *c = (dg_wan_cache){0};
}

static int forward(dg_wan_model *m, dg_wan_sized *s, dg_tensor *a, const dg_tensor *x, float t, const dg_tensor *ctx,
                   dg_tensor *out, const dg_wan_call *call, dg_wan_stats *stats) {
    const dg_wan_config *c = &m->cfg;
    const int64_t D = c->dim;
    /* patch embedding (a conv with kernel = stride is a linear over patches), or a saved prefix */
    const int resume = call && call->fork == DG_WAN_FORK_RESUME, first = resume ? call->fork_layer : 0;
    const int save = call && call->fork == DG_WAN_FORK_SAVE;
    if (resume || save) {
        DG_CHECK(call->fork_layer >= 0 && call->fork_layer < c->num_layers, "fork layer %d is not a block of this model",
                 call->fork_layer);
        DG_CHECK(s->fork_hidden.data != NULL, "fork layer %d: the size was prepared without a fork buffer",
                 call->fork_layer);
    }
    if (resume) {
        DG_TRY(dg_tensor_copy(&a[HIDDEN], &s->fork_hidden));
    } else {
        const dg_tensor mine = rows_view(&a[PATCHES], s->tok0, s->ntok);
        DG_TRY(dg_patchify(&a[PATCHES], x, c->patch));
        DG_TRY(dg_linear(&a[HIDDEN], &mine, &m->patch_w, &m->patch_b));
        tap(call, "patch", &a[HIDDEN]);
    }

    /* condition embedder: the timestep sinusoid is a cheap host computation */
    float *sinus = malloc((size_t)c->freq_dim * sizeof(float));
    DG_CHECK_ALLOC(sinus);
    dg_timestep_sinusoid(sinus, c->freq_dim, t, 1, 0.0f);
    int rc = dg_tensor_upload(&a[T_SINUSOID], sinus);
    free(sinus);
    DG_TRY(rc);
    if (dg_linear(&a[TEMB_SILU], &a[T_SINUSOID], &m->time1_w, &m->time1_b) || dg_silu(&a[TEMB_SILU], &a[TEMB_SILU]) ||
        dg_linear(&a[TEMB], &a[TEMB_SILU], &m->time2_w, &m->time2_b) || dg_silu(&a[TEMB_SILU], &a[TEMB]) ||
        dg_linear(&a[TPROJ], &a[TEMB_SILU], &m->tproj_w, &m->tproj_b))
        return DG_ERR;
    tap(call, "temb", &a[TEMB]);
    tap(call, "tproj", &a[TPROJ]);
    if (!call || !call->text) {
        DG_TRY(text_embed(m, ctx, &a[CTX_HIDDEN], &a[CTX]));
        tap(call, "ctx", &a[CTX]);
    }

    if (call && call->cache) {
        DG_CHECK(!resume && !save, "step caching does not combine with perturbation guidance's fork");
        DG_TRY(cached_blocks(m, s, a, t, call, stats));
    } else {
        DG_TRY(run_blocks(m, s, a, t, call, stats, first, c->num_layers));
    }

    /* head: shift, scale = table[2, D] + temb (pre-SiLU) on both rows */
    for (int r = 0; r < 2; r++) {
        dg_tensor dst = row_view(&a[HEAD_MODULATION], r, D), tab = row_view(&m->head_modulation, r, D);
        DG_TRY(dg_add(&dst, &tab, &a[TEMB]));
    }
    dg_tensor *n = &a[NORMED], y = rows_view(&a[PROJ_OUT], s->tok0, s->ntok);
    return dg_layernorm(n, &a[HIDDEN], NULL, NULL, c->eps) ||
                   dg_modulate(n, n, row(&a[HEAD_MODULATION], 0, D), row(&a[HEAD_MODULATION], 1, D)) ||
                   dg_linear(&y, n, &m->proj_out_w, &m->proj_out_b) || gather_rows(s, &a[PROJ_OUT]) ||
                   dg_unpatchify(out, &a[PROJ_OUT], c->patch)
               ? DG_ERR
               : DG_OK;
}

int dg_wan_forward(dg_wan_model *m, dg_wan_sized *s, const dg_tensor *x, float t, const dg_tensor *ctx,
                   dg_tensor *out, const dg_wan_call *call, dg_wan_stats *stats) {
    const dg_wan_config *c = &m->cfg;
    const int64_t xshape[4] = {c->in_channels, s->F, s->H, s->W}, oshape[4] = {c->out_channels, s->F, s->H, s->W};
    DG_TRY(dg_tensor_expect_shape(x, "transformer input (the prepared size)", 4, xshape));
    DG_TRY(dg_tensor_expect_shape(out, "transformer output", 4, oshape));
    const dg_wan_text *text = call ? call->text : NULL;
    DG_CHECK(text || (ctx && ctx->ndim == 2 && ctx->shape[1] == c->text_dim && ctx->shape[0] >= 1),
             "text context must be [L, %d]", c->text_dim);
    const int64_t N = (int64_t)dg_wan_tokens(c, s->F, s->H, s->W), L = text ? text->len : ctx->shape[0];
    DG_CHECK(L <= s->max_text, "a text context of %lld tokens exceeds the prepared length %d", (long long)L,
             s->max_text);
    s->attn_dtype = dg_wan_compute_dtype(m); /* a model that runs in bf16 runs its attentions in bf16 too */
    dg_tensor a[N_ACTS];
    const size_t mark = dg_arena_mark(&s->arena);
    int rc = DG_OK;
    int64_t rows[N_ROWS];
    sized_rows(s, N, L, rows);
    for (int id = 0; id < N_ACTS && rc == DG_OK; id++) {
        int64_t shape[2];
        act_shape(c, id, rows, shape);
        rc = dg_arena_tensor(&s->arena, &a[id], acts[id].name, DG_F32, 2, shape);
    }
    if (rc == DG_OK) rc = forward(m, s, a, x, t, ctx, out, call, stats);
    dg_arena_reset(&s->arena, mark);
    return rc;
}
