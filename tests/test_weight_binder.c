/* Binding a checkpoint's f16 linear on the CPU: with the model's f16 matrices within the spec's
 * limit they are widened to f32 at load (out of the mmap, the file's values exactly); beyond it they
 * stay f16 in the mmap and each linear widens them per call. Both give the same linear output bit
 * for bit (the widening is exact and the product the same sgemm). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/backend.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/ops.h"
#include "io/weight_binder.h"
#include "tests/scratch_dir.h"
#include "tests/test.h"

#define OUT 3
#define IN 20

typedef struct {
    dg_tensor w, b;
} linear_model;

static int bind_all(dg_weight_binder *b, void *model) {
    linear_model *m = model;
    return dg_weight_bind_linear(b, &m->w, &m->b, OUT, IN, "lin");
}

/* Bind with the given limit, check where w lives, and return y = x w^T + b into y. */
static void bind_and_run(dg_backend *be, const dg_safetensors *st, size_t limit, int want_widened, const float *x,
                         float *y) {
    linear_model m = {0};
    dg_weight_store store = {0};
    const dg_weight_binding spec = {.what = "the test linear", .path = "lin.safetensors", .config = "test",
                                    .bind_all = bind_all, .model = &m, .f16_widen_bytes = limit};
    CHECK_OK(dg_weight_bind_model(&store, be, st, &spec));
    const dg_st_tensor *file_w = dg_safetensors_find(st, "lin.weight");
    if (want_widened) {
        CHECK(m.w.dtype == DG_F32 && m.w.data != file_w->data, "limit %zu: the f16 matrix was not widened", limit);
        for (int i = 0; m.w.dtype == DG_F32 && i < OUT * IN; i++)
            CHECK(((const float *)m.w.data)[i] == dg_f16_to_f32(((const uint16_t *)file_w->data)[i]),
                  "limit %zu: widened value %d differs from the file's", limit, i);
    } else {
        CHECK(m.w.dtype == DG_F16 && m.w.data == file_w->data, "limit %zu: the f16 matrix left the mmap", limit);
    }
    const int64_t xs[2] = {2, IN}, ys[2] = {2, OUT};
    dg_tensor tx, ty;
    CHECK_OK(dg_tensor_view(&tx, be, DG_F32, 2, xs, (void *)x));
    CHECK_OK(dg_tensor_view(&ty, be, DG_F32, 2, ys, y));
    CHECK_OK(dg_linear(&ty, &tx, &m.w, &m.b));
    dg_weight_store_free(&store);
}

int main(void) {
    if (scratch_dir_make("test_weight_binder")) return 1;
    dg_backend be;
    CHECK_OK(dg_backend_cpu_init(&be, 1));
    uint16_t w16[OUT * IN], b16[OUT];
    float x[2 * IN], y_widened[2 * OUT], y_mapped[2 * OUT];
    for (int i = 0; i < OUT * IN; i++) w16[i] = dg_f32_to_f16((float)((i * 37) % 23 - 11) / 7.0f);
    for (int i = 0; i < OUT; i++) b16[i] = dg_f32_to_f16(0.25f * (float)i);
    for (int i = 0; i < 2 * IN; i++) x[i] = (float)((i * 13) % 17 - 8) / 5.0f;
    const int64_t ws[2] = {OUT, IN}, bs[1] = {OUT};
    const dg_st_entry e[2] = {{"lin.weight", DG_F16, 2, ws, w16}, {"lin.bias", DG_F16, 1, bs, b16}};
    CHECK_OK(dg_safetensors_save(path_in("lin.safetensors"), e, 2, NULL, 0));
    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, path_in("lin.safetensors")));
    bind_and_run(&be, &st, 0, 1, x, y_widened);                          /* the default 1 GiB */
    bind_and_run(&be, &st, OUT * IN * sizeof(float) - 1, 0, x, y_mapped); /* one byte short */
    CHECK(!memcmp(y_widened, y_mapped, sizeof y_mapped), "mapped f16 and widened f32 linears differ");
    double ref_err = 0;
    for (int r = 0; r < 2; r++)
        for (int o = 0; o < OUT; o++) {
            double acc = dg_f16_to_f32(b16[o]);
            for (int i = 0; i < IN; i++) acc += (double)x[r * IN + i] * dg_f16_to_f32(w16[o * IN + i]);
            ref_err = fmax(ref_err, fabs(acc - y_mapped[r * OUT + o]));
        }
    CHECK(ref_err < 1e-5, "linear off the double reference by %g", ref_err);
    dg_safetensors_close(&st);
    remove(path_in("lin.safetensors"));
    rmdir(dir);
    dg_backend_free(&be);
    return TEST_END();
}
