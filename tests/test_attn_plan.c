/* Attention plans: every shipped preset loads, checks against Wan2.1-1.3B
 * (30 layers, 12 heads) and prepares for a 21x24x26 latent (480p has 21x30x52;
 * smaller to keep the test fast, still not divisible by the 8-token tiles); step / layer / head
 * selection incl. dense steps (absolute and fraction), dense layers, per-head
 * overrides and shared method objects; refusals name the file and field. */
#include <stdio.h>
#include <string.h>

#include "attention/plan.h"
#include "core/error.h"
#include "tests/test.h"

static const char *configs = DG_TEST_DIR "/../configs";

static dg_backend be;

static void check_presets(void) {
    static const struct {
        const char *name, *method;
        int dense_steps, dense_layer0;
    } presets[] = {
        {"dense", "dense", 0, 1},          {"radial_wan", "radial", 12, 1}, {"sta_wan", "sta", 12, 0},
        {"grat_x", "grat", 0, 0},          {"natten_gna", "natten", 12, 0},
    };
    const dg_attn_geometry geom = {.T = 21, .H = 24, .W = 26, .heads = 12, .head_dim = 128};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        dg_attn_plan p;
        if (dg_attn_plan_load(&p, presets[i].name, configs) != DG_OK) {
            CHECK(0, "preset %s: %s", presets[i].name, dg_last_error());
            continue;
        }
        CHECK_OK(dg_attn_plan_check(&p, 30, 12));
        CHECK_OK(dg_attn_plan_prepare(&p, &geom, &be));
        dg_attn_method *late = dg_attn_plan_method(&p, 49, 50, 5, 3);
        CHECK(!strcmp(late->ops->name, presets[i].method), "%s: step 49 runs %s", presets[i].name, late->ops->name);
        if (presets[i].dense_steps) {
            CHECK(!strcmp(dg_attn_plan_method(&p, presets[i].dense_steps - 1, 50, 5, 3)->ops->name, "dense"),
                  "%s: last dense step", presets[i].name);
            CHECK(!strcmp(dg_attn_plan_method(&p, presets[i].dense_steps, 50, 5, 3)->ops->name, presets[i].method),
                  "%s: first sparse step", presets[i].name);
        }
        CHECK(!strcmp(dg_attn_plan_method(&p, 49, 50, 0, 0)->ops->name, presets[i].dense_layer0 ? "dense" : presets[i].method),
              "%s: layer 0", presets[i].name);
        printf("preset %-11s %-7s density at 21x24x26 %.4f\n", presets[i].name, late->ops->name, late->ops->density(late));
        dg_attn_plan_free(&p);
    }
}

static int plan_from(dg_attn_plan *p, const char *json) { return dg_attn_plan_parse(p, json, "plan.json"); }

static void check_selection(void) {
    dg_attn_plan p;
    const char *json = "{\"method\": \"vdit_tile\", \"params\": {\"global_frames\": 1}, \"dense_fraction\": 0.24,"
                       " \"dense_layers\": [2],"
                       " \"overrides\": [{\"heads\": [1, 3], \"method\": \"sta\", \"params\": {\"tile\": [1, 2, 2]}},"
                       "                 {\"steps\": [40, 50], \"layers\": [4], \"heads\": [3], \"method\": \"dense\"}]}";
    if (plan_from(&p, json) != DG_OK) {
        CHECK(0, "selection plan: %s", dg_last_error());
        return;
    }
    CHECK_OK(dg_attn_plan_check(&p, 6, 4));
    dg_attn_method *m11 = dg_attn_plan_method(&p, 11, 50, 0, 0), *m12 = dg_attn_plan_method(&p, 12, 50, 0, 0);
    CHECK(!strcmp(m11->ops->name, "dense") && !strcmp(m12->ops->name, "vdit_tile"), "0.24 of 50 steps = 12 dense");
    CHECK(!strcmp(dg_attn_plan_method(&p, 2, 10, 0, 0)->ops->name, "vdit_tile"), "0.24 of 10 steps = 2 dense");
    CHECK(!strcmp(dg_attn_plan_method(&p, 30, 50, 2, 1)->ops->name, "dense"), "dense layer beats overrides");
    dg_attn_method *h1 = dg_attn_plan_method(&p, 30, 50, 1, 1), *h3 = dg_attn_plan_method(&p, 30, 50, 5, 3);
    CHECK(!strcmp(h1->ops->name, "sta") && h1 == h3, "heads 1 and 3 share one sta object");
    CHECK(dg_attn_plan_method(&p, 30, 50, 1, 0) == m12, "head 0 shares the base object");
    CHECK(!strcmp(dg_attn_plan_method(&p, 45, 50, 4, 3)->ops->name, "dense"), "last matching override wins");
    CHECK(dg_attn_plan_method(&p, 45, 50, 4, 1) == h1, "override 1 does not match head 1");
    CHECK(!dg_attn_plan_sparse_at(&p, 11, 50, 6, 4) && dg_attn_plan_sparse_at(&p, 12, 50, 6, 4),
          "sparse from step 12 of 50");
    CHECK(!dg_attn_plan_sparse_at(&p, 30, 50, 1, 0), "no heads: nothing sparse");
    CHECK(dg_attn_plan_check(&p, 4, 4) == DG_ERR && strstr(dg_last_error(), "overrides[1].layers[0] = 4"),
          "layer beyond the model: %s", dg_last_error());
    CHECK(dg_attn_plan_check(&p, 6, 3) == DG_ERR && strstr(dg_last_error(), "overrides[0].heads[1] = 3"),
          "head beyond the model: %s", dg_last_error());
    CHECK(dg_attn_plan_check(&p, 2, 4) == DG_ERR && strstr(dg_last_error(), "dense_layers[0] = 2"),
          "dense layer beyond the model: %s", dg_last_error());
    dg_attn_plan_free(&p);
}

static void refused(const char *json, const char *want) {
    dg_attn_plan p;
    int rc = plan_from(&p, json);
    CHECK(rc == DG_ERR && strstr(dg_last_error(), "plan.json") && strstr(dg_last_error(), want),
          "%s: expected error with '%s', got '%s'", json, want, rc ? dg_last_error() : "success");
    if (rc == DG_OK) dg_attn_plan_free(&p);
}

static void check_refusals(void) {
    refused("{}", "missing required key 'method'");
    refused("{\"method\": \"sparse\"}", "unknown attention method 'sparse'");
    refused("{\"method\": \"dense\", \"dense_step\": 3}", "unknown key 'dense_step'");
    refused("{\"method\": \"dense\", \"dense_steps\": -1}", "dense_steps");
    refused("{\"method\": \"dense\", \"dense_steps\": 1.5}", "dense_steps");
    refused("{\"method\": \"dense\", \"dense_fraction\": 1.5}", "dense_fraction");
    refused("{\"method\": \"dense\", \"dense_steps\": 2, \"dense_fraction\": 0.5}", "not both");
    refused("{\"method\": \"dense\", \"dense_layers\": [0, -1]}", "dense_layers'[1]");
    refused("{\"method\": \"sta\", \"params\": {\"window\": [3, 3, 3, 3]}}", "window");
    refused("{\"method\": \"sta\", \"params\": {\"size\": 3}}", "unknown parameter 'size'");
    refused("{\"method\": \"sta\", \"params\": [1]}", "params must be a JSON object");
    refused("{\"method\": \"dense\", \"overrides\": {}}", "'overrides' must be an array");
    refused("{\"method\": \"dense\", \"overrides\": [{\"heads\": [0]}]}", "overrides[0]: missing required key 'method'");
    refused("{\"method\": \"dense\", \"overrides\": [{\"method\": \"dense\", \"step\": [0, 1]}]}",
            "overrides[0]: unknown key 'step'");
    refused("{\"method\": \"dense\", \"overrides\": [{\"method\": \"dense\", \"steps\": [5, 5]}]}", "overrides[0]");
    refused("{\"method\": \"natten\", \"overrides\": []}", "'kernel_size' is required");

    dg_attn_plan p;
    CHECK(dg_attn_plan_load(&p, "no_such_preset", configs) == DG_ERR && strstr(dg_last_error(), "no_such_preset.json"),
          "missing preset: %s", dg_last_error());
    CHECK(strstr(dg_last_error(), "presets: dense, grat_x, natten_gna, radial_wan, sta_wan"),
          "a missing preset lists the presets: %s", dg_last_error());
    CHECK(dg_attn_plan_load(&p, "sta_wan.json", configs) == DG_OK && !strcmp(p.base->ops->name, "sta"),
          "NAME.json is the preset NAME: %s", dg_last_error());
    dg_attn_plan_free(&p);
    CHECK(dg_attn_plan_load(&p, "Radial-Wan", configs) == DG_ERR && strstr(dg_last_error(), "preset name"),
          "bad preset name: %s", dg_last_error());
    char path[512];
    snprintf(path, sizeof path, "%s/attn_plan_bad.json", DG_BINARY_DIR);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"method\": \"dense\",}", f);
        fclose(f);
        CHECK(dg_attn_plan_load(&p, path, NULL) == DG_ERR && strstr(dg_last_error(), "attn_plan_bad.json"),
              "malformed JSON: %s", dg_last_error());
        remove(path);
    }
}

int main(void) {
    if (dg_backend_cpu_init(&be, 1) != DG_OK) return 1;
    check_presets();
    check_selection();
    check_refusals();
    dg_backend_free(&be);
    return TEST_END();
}
