/* Flow schedulers and CFG against diffusers 0.42 (fixtures: tests/reference/make_scheduler.py,
 * scheduler.safetensors; make_scheduler_options.py, scheduler_options.json/.safetensors for the
 * scheduler_config.json options), and the options refused. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "sampler/guidance.h"
#include "sampler/scheduler.h"
#include "tests/fixture.h"
#include "tests/test.h"

/* Keep these lists in step with tests/reference/make_scheduler.py. */
static const int schedule_steps[] = {1, 2, 4, 10, 50};
static const double schedule_shifts[] = {1.0, 3.0, 5.0, 8.5, 12.0};
static const struct { int steps; double shift; } trajectories[] = {{1, 5.0}, {2, 3.0}, {4, 5.0}, {10, 3.0}, {10, 8.5}};
#define N_ELEMS 120 /* 2x3x4x5 latent */
static const float cfg_scales[] = {1.0f, 5.0f, 6.0f};

static const dg_sample_method kinds[] = {DG_SAMPLE_EULER, DG_SAMPLE_UNIPC};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void key(char *buf, size_t len, dg_sample_method kind, int steps, double shift, const char *what) {
    snprintf(buf, len, "%s_n%d_s%g_%s", dg_sample_method_name(kind), steps, shift, what);
}

/* A fixture tensor of exactly `n` floats, or NULL (with a failed check). */
static const float *get(const dg_safetensors *st, const char *name, int64_t n) {
    int64_t got = -1;
    const float *p = fixture_f32(st, name, &got);
    CHECK(!p || got == n, "%s: %lld elements, expected %lld", name, (long long)got, (long long)n);
    return p && got == n ? p : NULL;
}

/* Timesteps exactly, sigmas to 1e-7 relative, last sigma exactly 0. */
static void test_schedules(const dg_safetensors *st) {
    double worst_sigma = 0;
    for (int k = 0; k < COUNT(kinds); k++)
        for (int a = 0; a < COUNT(schedule_steps); a++)
            for (int b = 0; b < COUNT(schedule_shifts); b++) {
                int n = schedule_steps[a];
                char ks[96], kt[96];
                key(ks, sizeof ks, kinds[k], n, schedule_shifts[b], "sigmas");
                key(kt, sizeof kt, kinds[k], n, schedule_shifts[b], "timesteps");
                const float *sig = get(st, ks, n + 1), *ts = get(st, kt, n);
                dg_scheduler s;
                CHECK_OK(dg_scheduler_init(&s, kinds[k], n, schedule_shifts[b], NULL, 1));
                if (!sig || !ts || !s.sigmas) {
                    dg_scheduler_free(&s);
                    continue;
                }
                for (int i = 0; i <= n; i++) {
                    double rel = fabs((double)s.sigmas[i] - sig[i]) / (sig[i] > 0 ? sig[i] : 1.0);
                    if (rel > worst_sigma) worst_sigma = rel;
                    CHECK(rel <= 1e-7, "%s[%d]: %.9g vs %.9g", ks, i, s.sigmas[i], sig[i]);
                }
                CHECK(s.sigmas[n] == 0.0f, "%s: last sigma %g", ks, s.sigmas[n]);
                for (int i = 0; i < n; i++)
                    CHECK(dg_scheduler_timestep(&s, i) == ts[i], "%s[%d]: %.9g vs %.9g", kt, i,
                          dg_scheduler_timestep(&s, i), ts[i]);
                dg_scheduler_free(&s);
            }
    printf("schedules: worst sigma relative error %.3g\n", worst_sigma);
}

/* Feed diffusers' model outputs step by step; x must follow its trajectory. */
static void run_trajectory(const dg_safetensors *st, dg_scheduler *s, const char *name, const float *xs,
                           const float *vs, const float *ts) {
    float x[N_ELEMS];
    memcpy(x, xs, sizeof x);
    double err_max = 0, ref_max = 0;
    for (int i = 0; i < s->steps; i++) {
        CHECK(dg_scheduler_timestep(s, i) == ts[i], "%s step %d: t %g vs %g", name, i, dg_scheduler_timestep(s, i),
              ts[i]);
        CHECK_OK(dg_scheduler_step(s, i, vs + (size_t)i * N_ELEMS, x));
        double err, ref;
        test_max_err(x, xs + (size_t)(i + 1) * N_ELEMS, N_ELEMS, &err, &ref);
        if (err > err_max) err_max = err;
        if (ref > ref_max) ref_max = ref;
    }
    int ok = err_max <= 2e-6 * (ref_max > 1 ? ref_max : 1);
    printf("%-24s max_abs_err %.3g  scale %.3g  (%s)\n", name, err_max, ref_max, ok ? "ok" : "FAIL");
    CHECK(ok, "%s: trajectory error %g (scale %g)", name, err_max, ref_max);
}

static void test_trajectories(const dg_safetensors *st) {
    for (int k = 0; k < COUNT(kinds); k++)
        for (int a = 0; a < COUNT(trajectories); a++) {
            int n = trajectories[a].steps;
            double shift = trajectories[a].shift;
            char kx[96], kv[96], kt[96], name[64];
            key(kx, sizeof kx, kinds[k], n, shift, "traj_x");
            key(kv, sizeof kv, kinds[k], n, shift, "traj_v");
            key(kt, sizeof kt, kinds[k], n, shift, "timesteps");
            snprintf(name, sizeof name, "%s n=%d shift=%g", dg_sample_method_name(kinds[k]), n, shift);
            const float *xs = get(st, kx, (int64_t)(n + 1) * N_ELEMS), *vs = get(st, kv, (int64_t)n * N_ELEMS),
                        *ts = get(st, kt, n);
            if (!xs || !vs || !ts) continue;
            dg_scheduler s;
            CHECK_OK(dg_scheduler_init(&s, kinds[k], n, shift, NULL, N_ELEMS));
            if (!s.sigmas) continue;
            run_trajectory(st, &s, name, xs, vs, ts);
            /* Step 0 restarts the multistep state: a second run matches too. */
            strncat(name, " again", sizeof name - strlen(name) - 1);
            run_trajectory(st, &s, name, xs, vs, ts);
            dg_scheduler_free(&s);
        }
}

/* Each scheduler_config.json of the options fixture through the folder reader: schedule and
 * trajectory as diffusers ran them. */
static void test_options(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/scheduler_options.safetensors", DG_TEST_DIR);
    dg_safetensors st;
    CHECK_OK(dg_safetensors_open(&st, path));
    snprintf(path, sizeof path, "%s/fixtures/scheduler_options.json", DG_TEST_DIR);
    cJSON *fixture = NULL;
    CHECK_OK(dg_json_load(path, &fixture));
    if (test_failures) return;
    const cJSON *c;
    int n_cases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(fixture, "cases")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "steps"));
        char ks[96], kt[96], kx[96], kv[96];
        snprintf(ks, sizeof ks, "%s_sigmas", name);
        snprintf(kt, sizeof kt, "%s_timesteps", name);
        snprintf(kx, sizeof kx, "%s_traj_x", name);
        snprintf(kv, sizeof kv, "%s_traj_v", name);
        const float *sig = get(&st, ks, n + 1), *ts = get(&st, kt, n), *xs = get(&st, kx, (int64_t)(n + 1) * N_ELEMS),
                    *vs = get(&st, kv, (int64_t)n * N_ELEMS);
        dg_sample_method method;
        double shift;
        dg_scheduler_opts opts;
        dg_scheduler s;
        CHECK_OK(dg_scheduler_config_read(name, cJSON_GetObjectItemCaseSensitive(c, "config"), &method, &shift, &opts));
        CHECK_OK(dg_scheduler_init(&s, method, n, shift, &opts, N_ELEMS));
        if (!sig || !ts || !xs || !vs || !s.sigmas) {
            dg_scheduler_free(&s);
            continue;
        }
        for (int i = 0; i <= n; i++)
            CHECK(fabs((double)s.sigmas[i] - sig[i]) <= 1e-7 * fabs(sig[i]), "%s[%d]: %.9g vs %.9g", ks, i, s.sigmas[i],
                  sig[i]);
        run_trajectory(&st, &s, name, xs, vs, ts);
        dg_scheduler_free(&s);
        n_cases++;
    }
    CHECK(n_cases >= 18, "only %d option cases", n_cases);
    cJSON_Delete(fixture);
    dg_safetensors_close(&st);
}

/* A scheduler_config.json (JSON text) the reader must refuse, naming the field. */
static void expect_config_refused(const char *json, const char *field) {
    cJSON *j = NULL;
    dg_sample_method method;
    double shift;
    dg_scheduler_opts opts;
    CHECK_OK(dg_json_parse("scheduler_config.json", json, strlen(json), &j));
    int rc = dg_scheduler_config_read("scheduler/scheduler_config.json", j, &method, &shift, &opts);
    CHECK(rc == DG_ERR && strstr(dg_last_error(), "scheduler/scheduler_config.json: ") &&
              strstr(dg_last_error(), field),
          "%s: expected a refusal naming the file and '%s', got '%s'", json, field, rc ? dg_last_error() : "none");
    dg_error_clear();
    cJSON_Delete(j);
}

static void test_options_refused(void) {
#define UNIPC "{\"_class_name\": \"UniPCMultistepScheduler\", \"prediction_type\": \"flow_prediction\", " \
              "\"use_flow_sigmas\": true, "
#define EULER "{\"_class_name\": \"FlowMatchEulerDiscreteScheduler\", "
    expect_config_refused(UNIPC "\"solver_order\": 4}", "solver_order 4");
    expect_config_refused(UNIPC "\"solver_type\": \"bh3\"}", "solver_type 'bh3'");
    expect_config_refused(UNIPC "\"final_sigmas_type\": \"sigma_max\"}", "final_sigmas_type 'sigma_max'");
    expect_config_refused(UNIPC "\"predict_x0\": false}", "predict_x0 false");
    expect_config_refused(UNIPC "\"thresholding\": true}", "thresholding true");
    expect_config_refused(UNIPC "\"use_karras_sigmas\": true}", "use_karras_sigmas true");
    expect_config_refused(UNIPC "\"use_exponential_sigmas\": true}", "use_exponential_sigmas true");
    expect_config_refused(UNIPC "\"use_dynamic_shifting\": true}", "use_dynamic_shifting true");
    expect_config_refused(UNIPC "\"disable_corrector\": [\"a\"]}", "disable_corrector");
    expect_config_refused(UNIPC "\"solver_p\": {}}", "solver_p");
    expect_config_refused(UNIPC "\"shift_terminal\": 1.5}", "shift_terminal 1.5");
    expect_config_refused(UNIPC "\"num_train_timesteps\": 0}", "num_train_timesteps 0");
    expect_config_refused(UNIPC "\"flow_shift\": -2}", "flow_shift -2");
    expect_config_refused("{\"_class_name\": \"UniPCMultistepScheduler\", \"use_flow_sigmas\": true}",
                          "prediction_type 'epsilon'");
    expect_config_refused("{\"_class_name\": \"UniPCMultistepScheduler\", \"prediction_type\": \"flow_prediction\"}",
                          "use_flow_sigmas false");
    expect_config_refused(EULER "\"use_beta_sigmas\": true}", "use_beta_sigmas true");
    expect_config_refused(EULER "\"use_karras_sigmas\": true, \"use_exponential_sigmas\": true}", "only one of");
    expect_config_refused(EULER "\"stochastic_sampling\": true}", "stochastic_sampling true");
    expect_config_refused(EULER "\"use_dynamic_shifting\": true}", "use_dynamic_shifting true");
    expect_config_refused(EULER "\"invert_sigmas\": 1}", "invert_sigmas");
#undef UNIPC
#undef EULER
}

static void test_cfg(const dg_safetensors *st) {
    const float *cond = get(st, "cfg_cond", N_ELEMS), *uncond = get(st, "cfg_uncond", N_ELEMS);
    if (!cond || !uncond) return;
    for (int a = 0; a < COUNT(cfg_scales); a++) {
        char k[32];
        snprintf(k, sizeof k, "cfg_out_g%g", cfg_scales[a]);
        const float *ref = get(st, k, N_ELEMS);
        if (!ref) continue;
        float out[N_ELEMS];
        dg_cfg_combine(out, cond, uncond, N_ELEMS, cfg_scales[a]);
        check_close(k, out, ref, N_ELEMS, 1e-6);
        /* In place over the cond buffer, as the sampler loop uses it. */
        float inplace[N_ELEMS];
        memcpy(inplace, cond, sizeof inplace);
        dg_cfg_combine(inplace, inplace, uncond, N_ELEMS, cfg_scales[a]);
        CHECK(memcmp(inplace, out, sizeof out) == 0, "%s: in-place result differs", k);
    }
}

/* A failing call must say which flag or value is at fault. */
static void expect_error(int rc, const char *needle) {
    CHECK(rc == DG_ERR, "expected an error mentioning '%s'", needle);
    CHECK(strstr(dg_last_error(), needle) != NULL, "error '%s' lacks '%s'", dg_last_error(), needle);
    dg_error_clear();
}

static void test_errors(void) {
    dg_scheduler s;
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_UNIPC, 0, 5.0, NULL, 8), "steps 0");
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_EULER, -3, 5.0, NULL, 8), "steps -3");
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_UNIPC, DG_SCHEDULER_MAX_STEPS + 1, 5.0, NULL, 8), "steps 1001");
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_UNIPC, 4, -1.0, NULL, 8), "flow_shift");
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_EULER, 4, 0.0, NULL, 8), "flow_shift");
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_EULER, 4, NAN, NULL, 8), "flow_shift");
    expect_error(dg_scheduler_init(&s, DG_SAMPLE_EULER, 4, 3.0, NULL, 0), "no elements");
    dg_scheduler_free(&s); /* safe after a failed init */

    dg_sample_method kind = DG_SAMPLE_EULER;
    CHECK_OK(dg_sample_method_parse("unipc", &kind));
    CHECK(kind == DG_SAMPLE_UNIPC, "parse unipc");
    CHECK_OK(dg_sample_method_parse("euler", &kind));
    CHECK(kind == DG_SAMPLE_EULER, "parse euler");
    expect_error(dg_sample_method_parse("ddim", &kind), "ddim");
    CHECK(!strcmp(dg_sample_method_name(DG_SAMPLE_UNIPC), "unipc") &&
              !strcmp(dg_sample_method_name(DG_SAMPLE_EULER), "euler"), "names");
    const char *shift_key = NULL;
    CHECK_OK(dg_sample_method_from_class("FlowMatchEulerDiscreteScheduler", &kind, &shift_key));
    CHECK(kind == DG_SAMPLE_EULER && !strcmp(shift_key, "shift"), "euler's class and shift key");
    CHECK_OK(dg_sample_method_from_class("UniPCMultistepScheduler", &kind, &shift_key));
    CHECK(kind == DG_SAMPLE_UNIPC && !strcmp(shift_key, "flow_shift"), "unipc's class and shift key");
    expect_error(dg_sample_method_from_class("DDIMScheduler", &kind, &shift_key), "DDIMScheduler");

    float x[8] = {0}, v[8] = {0};
    CHECK_OK(dg_scheduler_init(&s, DG_SAMPLE_UNIPC, 4, 5.0, NULL, 8));
    expect_error(dg_scheduler_step(&s, 4, v, x), "step 4");
    expect_error(dg_scheduler_step(&s, -1, v, x), "step -1");
    expect_error(dg_scheduler_step(&s, 1, v, x), "out of order"); /* multistep state starts at 0 */
    CHECK_OK(dg_scheduler_step(&s, 0, v, x));
    expect_error(dg_scheduler_step(&s, 2, v, x), "out of order");
    CHECK_OK(dg_scheduler_step(&s, 1, v, x));
    dg_scheduler_free(&s);
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/scheduler.safetensors", DG_TEST_DIR);
    dg_safetensors st;
    if (dg_safetensors_open(&st, path) != DG_OK) {
        fprintf(stderr, "%s\n", dg_last_error());
        return 1;
    }
    test_schedules(&st);
    test_trajectories(&st);
    test_cfg(&st);
    test_errors();
    test_options();
    test_options_refused();
    dg_safetensors_close(&st);
    return TEST_END();
}
