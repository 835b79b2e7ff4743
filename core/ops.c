#include "core/ops.h"

#include <math.h>

#include "core/error.h"

static const char *tname(const dg_tensor *t) { return t->name ? t->name : "tensor"; }

static int check_f32(const dg_tensor *t, const char *op) {
    DG_CHECK(t->dtype == DG_F32, "%s: %s must be F32, got %s", op, tname(t), dg_dtype_name(t->dtype));
    DG_CHECK(t->data != NULL && t->backend != NULL, "%s: %s has no storage", op, tname(t));
    return DG_OK;
}

static int check_same(const dg_tensor *a, const dg_tensor *b, const char *op) {
    char sa[96], sb[96];
    DG_CHECK(dg_tensor_same_shape(a, b), "%s: %s %s does not match %s %s", op, tname(a),
             dg_shape_str(a, sa, sizeof sa), tname(b), dg_shape_str(b, sb, sizeof sb));
    DG_CHECK(a->backend == b->backend, "%s: %s and %s live on different backends", op, tname(a), tname(b));
    return DG_OK;
}

static int check_vec(const dg_tensor *v, int64_t n, const char *op) {
    if (!v) return DG_OK;
    DG_CHECK(v->ndim >= 1 && dg_tensor_numel(v) == n && v->shape[v->ndim - 1] == n,
             "%s: %s has %lld elements, expected %lld", op, tname(v), (long long)dg_tensor_numel(v),
             (long long)n);
    return DG_OK;
}

int dg_linear(dg_tensor *y, const dg_tensor *x, const dg_tensor *w, const dg_tensor *b) {
    DG_TRY(check_f32(y, "linear"));
    DG_TRY(check_f32(x, "linear"));
    DG_CHECK(w->ndim == 2, "linear: weight %s must be 2-D", tname(w));
    int64_t in = w->shape[1], out = w->shape[0];
    DG_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] == in, "linear: input %s has %lld features, weight %s expects %lld",
             tname(x), (long long)(x->ndim ? x->shape[x->ndim - 1] : 0), tname(w), (long long)in);
    DG_CHECK(y->shape[y->ndim - 1] == out && dg_tensor_rows(y) == dg_tensor_rows(x),
             "linear: output %s does not fit [%lld, %lld]", tname(y), (long long)dg_tensor_rows(x), (long long)out);
    DG_CHECK(y->data != x->data, "linear: output aliases input %s", tname(x));
    if (b) {
        DG_TRY(check_vec(b, out, "linear"));
        DG_CHECK(b->dtype == DG_F32 || b->dtype == DG_BF16 || b->dtype == DG_F16, "linear: bias dtype");
    }
    return y->backend->ops->linear(y->backend, y, x, w, b);
}

int dg_layernorm(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, const dg_tensor *beta, float eps) {
    DG_TRY(check_f32(y, "layernorm"));
    DG_TRY(check_f32(x, "layernorm"));
    DG_TRY(check_same(y, x, "layernorm"));
    int64_t c = x->shape[x->ndim - 1];
    DG_TRY(check_vec(gamma, c, "layernorm"));
    DG_TRY(check_vec(beta, c, "layernorm"));
    return y->backend->ops->layernorm(y->backend, y, x, gamma, beta, eps);
}

int dg_rmsnorm(dg_tensor *y, const dg_tensor *x, const dg_tensor *gamma, float eps) {
    DG_TRY(check_f32(y, "rmsnorm"));
    DG_TRY(check_f32(x, "rmsnorm"));
    DG_TRY(check_same(y, x, "rmsnorm"));
    DG_TRY(check_vec(gamma, x->shape[x->ndim - 1], "rmsnorm"));
    return y->backend->ops->rmsnorm(y->backend, y, x, gamma, eps);
}

int dg_gelu_tanh(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_f32(y, "gelu_tanh"));
    DG_TRY(check_f32(x, "gelu_tanh"));
    DG_TRY(check_same(y, x, "gelu_tanh"));
    return y->backend->ops->gelu_tanh(y->backend, y, x);
}

int dg_silu(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_f32(y, "silu"));
    DG_TRY(check_f32(x, "silu"));
    DG_TRY(check_same(y, x, "silu"));
    return y->backend->ops->silu(y->backend, y, x);
}

int dg_add(dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    DG_TRY(check_f32(y, "add"));
    DG_TRY(check_f32(a, "add"));
    DG_TRY(check_f32(b, "add"));
    DG_CHECK(dg_tensor_numel(y) == dg_tensor_numel(a) && dg_tensor_numel(a) == dg_tensor_numel(b),
             "add: %s, %s and %s differ in size", tname(y), tname(a), tname(b));
    return y->backend->ops->add(y->backend, y, a, b);
}

int dg_modulate(dg_tensor *y, const dg_tensor *x, const float *shift, const float *scale) {
    DG_TRY(check_f32(y, "modulate"));
    DG_TRY(check_f32(x, "modulate"));
    DG_TRY(check_same(y, x, "modulate"));
    DG_CHECK(shift && scale, "modulate: missing shift or scale");
    return y->backend->ops->modulate(y->backend, y, x, shift, scale);
}

int dg_gated_add(dg_tensor *h, const dg_tensor *x, const float *gate) {
    DG_TRY(check_f32(h, "gated_add"));
    DG_TRY(check_f32(x, "gated_add"));
    DG_TRY(check_same(h, x, "gated_add"));
    return h->backend->ops->gated_add(h->backend, h, x, gate);
}

int dg_rope(dg_tensor *x, const dg_tensor *cos, const dg_tensor *sin) {
    DG_TRY(check_f32(x, "rope"));
    DG_TRY(check_f32(cos, "rope"));
    DG_TRY(check_f32(sin, "rope"));
    DG_CHECK(x->ndim == 3, "rope: %s must be [N, heads, head_dim]", tname(x));
    int64_t shape[2] = {x->shape[0], x->shape[2]};
    DG_TRY(dg_tensor_expect_shape(cos, "rope cos table", 2, shape));
    DG_TRY(dg_tensor_expect_shape(sin, "rope sin table", 2, shape));
    DG_CHECK(x->shape[2] % 2 == 0, "rope: head_dim %lld is odd", (long long)x->shape[2]);
    return x->backend->ops->rope(x->backend, x, cos, sin);
}

static int check_patch(const dg_tensor *vol, const dg_tensor *tok, const int p[3], const char *op) {
    DG_CHECK(vol->ndim == 4, "%s: volume %s must be [C, F, H, W]", op, tname(vol));
    DG_CHECK(p[0] > 0 && p[1] > 0 && p[2] > 0, "%s: bad patch size", op);
    int64_t C = vol->shape[0], F = vol->shape[1], H = vol->shape[2], W = vol->shape[3];
    DG_CHECK(F % p[0] == 0 && H % p[1] == 0 && W % p[2] == 0,
             "%s: volume %lldx%lldx%lld is not divisible by the patch %dx%dx%d", op, (long long)F, (long long)H,
             (long long)W, p[0], p[1], p[2]);
    int64_t shape[2] = {(F / p[0]) * (H / p[1]) * (W / p[2]), C * p[0] * p[1] * p[2]};
    DG_TRY(dg_tensor_expect_shape(tok, op, 2, shape));
    return DG_OK;
}

int dg_patchify(dg_tensor *y, const dg_tensor *x, const int patch[3]) {
    DG_TRY(check_f32(y, "patchify"));
    DG_TRY(check_f32(x, "patchify"));
    DG_TRY(check_patch(x, y, patch, "patchify"));
    return y->backend->ops->patchify(y->backend, y, x, patch);
}

int dg_unpatchify(dg_tensor *x, const dg_tensor *y, const int patch[3]) {
    DG_TRY(check_f32(y, "unpatchify"));
    DG_TRY(check_f32(x, "unpatchify"));
    DG_TRY(check_patch(x, y, patch, "unpatchify"));
    return x->backend->ops->unpatchify(x->backend, x, y, patch);
}

/* ---- text-encoder ops ---- */

int dg_mul(dg_tensor *y, const dg_tensor *a, const dg_tensor *b) {
    DG_TRY(check_f32(y, "mul"));
    DG_TRY(check_f32(a, "mul"));
    DG_TRY(check_f32(b, "mul"));
    DG_TRY(check_same(y, a, "mul"));
    DG_TRY(check_same(a, b, "mul"));
    return y->backend->ops->mul(y->backend, y, a, b);
}

int dg_relu(dg_tensor *y, const dg_tensor *x) {
    DG_TRY(check_f32(y, "relu"));
    DG_TRY(check_f32(x, "relu"));
    DG_TRY(check_same(y, x, "relu"));
    return y->backend->ops->relu(y->backend, y, x);
}

int dg_gather_rows(dg_tensor *y, const dg_tensor *table, const int32_t *rows) {
    DG_TRY(check_f32(y, "gather_rows"));
    DG_CHECK(table->data != NULL && table->backend == y->backend, "gather_rows: table %s is not on %s's backend",
             tname(table), tname(y));
    DG_CHECK(table->dtype == DG_F32 || table->dtype == DG_BF16 || table->dtype == DG_F16,
             "gather_rows: table %s has unsupported dtype %s", tname(table), dg_dtype_name(table->dtype));
    DG_CHECK(table->ndim == 2 && y->ndim == 2 && y->shape[1] == table->shape[1],
             "gather_rows: output %s must be [rows, %lld] like table %s's rows", tname(y),
             (long long)(table->ndim == 2 ? table->shape[1] : 0), tname(table));
    DG_CHECK(rows != NULL || y->shape[0] == 0, "gather_rows: no row indices for %s", tname(y));
    for (int64_t r = 0; r < y->shape[0]; r++)
        DG_CHECK(rows[r] >= 0 && rows[r] < table->shape[0], "gather_rows: index %d at %lld outside table %s (%lld rows)",
                 (int)rows[r], (long long)r, tname(table), (long long)table->shape[0]);
    return y->backend->ops->gather_rows(y->backend, y, table, rows);
}

int dg_attention_pos_bias(dg_tensor *o, const dg_tensor *q, const dg_tensor *k, const dg_tensor *v,
                          const dg_tensor *pos_bias, const dg_tensor *key_bias, int heads, float scale) {
    const char *op = "attention_pos_bias";
    DG_TRY(check_f32(o, op));
    DG_TRY(check_f32(q, op));
    DG_TRY(check_f32(k, op));
    DG_TRY(check_f32(v, op));
    DG_TRY(check_same(o, q, op));
    DG_TRY(check_same(k, v, op));
    DG_CHECK(q->ndim == 2 && k->ndim == 2 && q->shape[1] == k->shape[1],
             "%s: q %s and k %s must be [tokens, heads*head_dim] of one width", op, tname(q), tname(k));
    DG_CHECK(q->backend == k->backend, "%s: %s and %s live on different backends", op, tname(q), tname(k));
    DG_CHECK(heads >= 1 && q->shape[1] % heads == 0, "%s: width %lld of %s is not a multiple of %d heads", op,
             (long long)q->shape[1], tname(q), heads);
    DG_CHECK(k->shape[0] >= 1, "%s: no keys in %s", op, tname(k));
    DG_CHECK(o->data != q->data && o->data != k->data && o->data != v->data, "%s: output %s aliases an input", op,
             tname(o));
    int64_t nq = q->shape[0], nk = k->shape[0];
    if (pos_bias) {
        int64_t shape[2] = {nq + nk - 1, heads};
        DG_TRY(check_f32(pos_bias, op));
        DG_TRY(dg_tensor_expect_shape(pos_bias, "attention_pos_bias: position bias", 2, shape));
        DG_CHECK(pos_bias->backend == q->backend, "%s: position bias %s on another backend", op, tname(pos_bias));
    }
    if (key_bias) {
        DG_TRY(check_f32(key_bias, op));
        DG_TRY(check_vec(key_bias, nk, op));
        DG_CHECK(key_bias->backend == q->backend, "%s: key bias %s on another backend", op, tname(key_bias));
    }
    return o->backend->ops->attention_pos_bias(o->backend, o, q, k, v, pos_bias, key_bias, heads, scale);
}

void dg_timestep_sinusoid(float *out, int dim, float t, int flip_sin_to_cos, float freq_shift) {
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        /* float32 arithmetic in the same order as torch: exp(-ln(1e4) * i / (half - shift)) */
        float e = (float)-log(10000.0) * (float)i;
        e = e / ((float)half - freq_shift);
        float a = t * expf(e);
        float s = sinf(a), c = cosf(a);
        out[i] = flip_sin_to_cos ? c : s;
        out[half + i] = flip_sin_to_cos ? s : c;
    }
    if (dim % 2) out[dim - 1] = 0.0f;
}

int dg_rope3d_tables(float *cos_out, float *sin_out, int F, int H, int W, const int dims[3], double theta) {
    int d = dims[0] + dims[1] + dims[2];
    DG_CHECK(dims[0] % 2 == 0 && dims[1] % 2 == 0 && dims[2] % 2 == 0, "rope: odd axis width");
    for (int f = 0; f < F; f++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                int pos[3] = {f, i, j};
                size_t n = ((size_t)f * H + i) * W + j;
                float *co = cos_out + n * d, *si = sin_out + n * d;
                int off = 0;
                for (int a = 0; a < 3; a++) {
                    for (int k = 0; k < dims[a] / 2; k++) {
                        /* diffusers: freqs = 1/(theta^(arange(0,dim,2)/dim)) in float64, outer with pos */
                        double freq = 1.0 / pow(theta, (double)(2 * k) / (double)dims[a]);
                        double ang = (double)pos[a] * freq;
                        float c = (float)cos(ang), s = (float)sin(ang);
                        co[off + 2 * k] = co[off + 2 * k + 1] = c;
                        si[off + 2 * k] = si[off + 2 * k + 1] = s;
                    }
                    off += dims[a];
                }
            }
    return DG_OK;
}
