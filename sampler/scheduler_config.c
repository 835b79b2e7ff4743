/* scheduler_config.json -> the method, its shift and dg_scheduler_opts. Every field diffusers'
 * UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler reads on the flow-matching path is
 * either followed or, at a value ditgen cannot follow, refused naming the file and the field.
 * Fields that path never reads (beta_*, timestep_spacing, steps_offset, ...) are ignored. */
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "sampler/scheduler.h"

static int get_bool(const char *path, const cJSON *j, const char *key, int *out) {
    return dg_json_get_bool(path, j, key, out, 0);
}

/* A boolean (diffusers' default when absent) that must be `supported`; why says what diffusers
 * would do instead. */
static int refuse_bool(const char *path, const cJSON *j, const char *key, int absent, int supported, const char *why) {
    int v = absent;
    DG_TRY(get_bool(path, j, key, &v));
    DG_CHECK(v == supported, "%s: %s %s is not supported (%s)", path, key, v ? "true" : "false", why);
    return DG_OK;
}

/* A string field: *out = the index of its value in names (unchanged when absent); refused otherwise. */
static int get_choice(const char *path, const cJSON *j, const char *key, const char *const *names, int n, int *out) {
    const char *v = NULL;
    DG_TRY(dg_json_get_string(path, j, key, &v, 0));
    if (!v) return DG_OK;
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return DG_OK;
        }
    return dg_error("%s: %s '%s' is not supported", path, key, v);
}

/* use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas: at most one, as diffusers insists. */
static int read_spacing(const char *path, const cJSON *j, dg_sample_method m, dg_scheduler_opts *o) {
    int karras = 0, expo = 0, beta = 0;
    DG_TRY(get_bool(path, j, "use_karras_sigmas", &karras));
    DG_TRY(get_bool(path, j, "use_exponential_sigmas", &expo));
    DG_TRY(get_bool(path, j, "use_beta_sigmas", &beta));
    DG_CHECK(karras + expo + beta <= 1,
             "%s: only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true", path);
    const char *on = karras ? "use_karras_sigmas" : expo ? "use_exponential_sigmas" : "use_beta_sigmas";
    DG_CHECK(!beta || m != DG_SAMPLE_EULER, "%s: use_beta_sigmas true is not supported (scipy's beta quantiles)", path);
    DG_CHECK(!(karras + expo + beta) || m == DG_SAMPLE_EULER,
             "%s: %s true is not supported (UniPC builds those sigmas from the DDPM betas, not the flow schedule)",
             path, on);
    o->spacing = karras ? DG_SIGMAS_KARRAS : expo ? DG_SIGMAS_EXPONENTIAL : DG_SIGMAS_FLOW;
    return DG_OK;
}

static int read_unipc(const char *path, const cJSON *j, dg_scheduler_opts *o) {
    const char *pred = NULL;
    DG_TRY(dg_json_get_string(path, j, "prediction_type", &pred, 0));
    DG_CHECK(pred && !strcmp(pred, "flow_prediction"), "%s: prediction_type '%s' is not supported (flow_prediction)",
             path, pred ? pred : "epsilon");
    DG_TRY(refuse_bool(path, j, "use_flow_sigmas", 0, 1, "without it UniPC runs the DDPM schedule"));
    DG_TRY(refuse_bool(path, j, "predict_x0", 1, 1, "the data-prediction form is the one implemented"));
    DG_TRY(refuse_bool(path, j, "thresholding", 0, 0, "dynamic thresholding of the x0 predictions"));
    const cJSON *solver_p = cJSON_GetObjectItemCaseSensitive(j, "solver_p");
    DG_CHECK(!solver_p || cJSON_IsNull(solver_p), "%s: solver_p is not supported", path);
    int64_t order = o->solver_order;
    DG_TRY(dg_json_get_int(path, j, "solver_order", &order, 0));
    DG_CHECK(order >= 1 && order <= DG_UNIPC_MAX_ORDER, "%s: solver_order %lld is not supported (1..%d)", path,
             (long long)order, DG_UNIPC_MAX_ORDER);
    o->solver_order = (int)order;
    DG_TRY(get_bool(path, j, "lower_order_final", &o->lower_order_final));
    /* diffusers maps midpoint, heun and logrho to bh2 */
    static const char *const solvers[] = {"bh2", "bh1", "midpoint", "heun", "logrho"};
    int solver = 0;
    DG_TRY(get_choice(path, j, "solver_type", solvers, 5, &solver));
    o->bh1 = solver == 1;
    static const char *const finals[] = {"zero", "sigma_min"};
    DG_TRY(get_choice(path, j, "final_sigmas_type", finals, 2, &o->final_sigma_min));
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "disable_corrector"), *it;
    DG_CHECK(!off || cJSON_IsArray(off), "%s: disable_corrector must be a list of step indices", path);
    cJSON_ArrayForEach(it, off) {
        double v = cJSON_GetNumberValue(it);
        DG_CHECK(cJSON_IsNumber(it) && v == (double)(long long)v, "%s: disable_corrector must be a list of step indices",
                 path);
        if (v >= 0 && v < DG_SCHEDULER_MAX_STEPS) o->corrector_off[(int)v] = 1;
    }
    return DG_OK;
}

static int read_euler(const char *path, const cJSON *j, dg_scheduler_opts *o) {
    DG_TRY(refuse_bool(path, j, "stochastic_sampling", 0, 0,
                       "diffusers draws its noise from torch's global generator, not the seed"));
    return get_bool(path, j, "invert_sigmas", &o->invert_sigmas);
}

int dg_scheduler_config_read(const char *path, const cJSON *j, dg_sample_method *method, double *shift,
                             dg_scheduler_opts *o) {
    dg_scheduler_opts_default(o);
    const char *cls = NULL, *shift_key = NULL;
    DG_TRY(dg_json_get_string(path, j, "_class_name", &cls, 1));
    if (dg_sample_method_from_class(cls, method, &shift_key) != DG_OK) return dg_error_wrap("%s: ", path);
    *shift = 1.0; /* both classes' default */
    DG_TRY(dg_json_get_double(path, j, shift_key, shift, 0));
    DG_CHECK(*shift >= DG_FLOW_SHIFT_MIN && *shift <= DG_FLOW_SHIFT_MAX, "%s: %s %g is outside %g..%g", path,
             shift_key, *shift, DG_FLOW_SHIFT_MIN, DG_FLOW_SHIFT_MAX);
    DG_TRY(refuse_bool(path, j, "use_dynamic_shifting", 0, 0, "WanPipeline passes no mu, which it needs"));
    int64_t n_train = o->num_train_timesteps;
    DG_TRY(dg_json_get_int(path, j, "num_train_timesteps", &n_train, 0));
    DG_CHECK(n_train >= 1 && n_train <= 1000000, "%s: num_train_timesteps %lld outside 1..1000000", path,
             (long long)n_train);
    o->num_train_timesteps = (int)n_train;
    DG_TRY(dg_json_get_double(path, j, "shift_terminal", &o->shift_terminal, 0));
    DG_CHECK(o->shift_terminal >= 0 && o->shift_terminal < 1, "%s: shift_terminal %g outside [0, 1)", path,
             o->shift_terminal);
    DG_TRY(read_spacing(path, j, *method, o));
    return *method == DG_SAMPLE_UNIPC ? read_unipc(path, j, o) : read_euler(path, j, o);
}
