/* ditgen inspect: every part of a model, loaded as generate loads it, with parameter counts and
 * what ditgen refuses or does not read. */
#include "cli/inspect.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/error.h"
#include "ditgen.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen inspect PATH\n"
            "\n"
            "PATH: a .safetensors file (config.json beside it, else the config is inferred from the shapes),\n"
            "a *.safetensors.index.json, a transformer folder or a diffusers model folder (with transformer/).\n"
            "Loads every part generate would load (transformer, transformer_2, text encoder, tokenizer, VAE,\n"
            "scheduler, model_index.json) on the CPU, prints each one's config and parameters, validates every\n"
            "tensor against its config and says what ditgen refuses or does not read.\n"
            "Exit status 1 when a part is refused.\n");
}

void inspect_refuse(inspect_run *r, const char *part) {
    printf("  refused: %s\n", dg_last_error());
    if (!r->n_refused) snprintf(r->first, sizeof r->first, "%s", dg_last_error());
    size_t n = strlen(r->refused);
    snprintf(r->refused + n, sizeof r->refused - n, "%s%s", n ? ", " : "", part);
    r->n_refused++;
}

void inspect_human(int64_t n, char *buf, size_t cap) {
    if (n >= 1000000000) snprintf(buf, cap, "%.2fB", (double)n / 1e9);
    else if (n >= 1000000) snprintf(buf, cap, "%.1fM", (double)n / 1e6);
    else if (n >= 1000) snprintf(buf, cap, "%.1fK", (double)n / 1e3);
    else snprintf(buf, cap, "%lld", (long long)n);
}

void inspect_tensors(const dg_safetensors *st) {
    int64_t params = 0, per_dtype[3] = {0, 0, 0};
    size_t bytes = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        const dg_st_tensor *t = &st->tensors[i];
        /* from the byte size, exact: the shape's product may overflow on empty tensors ([2^53, 2^53, 0]) */
        int64_t n = (int64_t)(t->nbytes / dg_dtype_size(t->dtype));
        params += n;
        per_dtype[t->dtype] += n;
        bytes += t->nbytes;
    }
    char h[32];
    inspect_human(params, h, sizeof h);
    printf("  files:      %d\n", st->n_files);
    printf("  tensors:    %d\n", st->n_tensors);
    printf("  parameters: %lld (%s)\n", (long long)params, h);
    printf("  bytes:      %.1f MiB\n", (double)bytes / (1 << 20));
    for (int d = 0; d < 3; d++)
        if (per_dtype[d]) printf("  dtype %-5s %lld parameters\n", dg_dtype_name((dg_dtype)d), (long long)per_dtype[d]);
}

/* One transformer: its checkpoint, its config (or the inferred one) and the binding of every
 * tensor. Returns 1 with *m loaded, else 0. */
static int inspect_transformer(inspect_run *r, const char *part, const char *path, const char *weights,
                               const char *config, dg_wan_model *m) {
    printf("%s: %s\n", part, path);
    dg_safetensors st;
    if (dg_safetensors_open(&st, weights) != DG_OK) {
        inspect_refuse(r, part);
        return 0;
    }
    printf("  checkpoint: %s\n", weights);
    inspect_tensors(&st);
    dg_safetensors_close(&st);
    printf("  config:     %s\n", *config ? config : "none beside the weights: inferred from the tensor shapes");
    if (dg_wan_load(m, &r->be, path) != DG_OK) {
        inspect_refuse(r, part);
        return 0;
    }
    /* printed from the loaded model: original-layout configs take text_dim from the weights */
    const dg_wan_config *c = &m->cfg;
    printf("  WanTransformer3DModel: %d layers, %d heads x %d = dim %d, ffn %d, text_dim %d, in/out %d/%d, "
           "patch %dx%dx%d\n",
           c->num_layers, c->heads, c->head_dim, c->dim, c->ffn_dim, c->text_dim, c->in_channels, c->out_channels,
           c->patch[0], c->patch[1], c->patch[2]);
    printf("  validation: OK (every tensor present with the shape the config implies, none unused)\n");
    return 1;
}

int cmd_inspect(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        usage(stderr);
        return 2;
    }
    static dg_model_folder f;
    static inspect_run r;
    if (dg_model_folder_resolve(&f, argv[1]) != DG_OK || dg_backend_cpu_init(&r.be, 1) != DG_OK) {
        fprintf(stderr, "ditgen: %s\n", dg_last_error());
        return 1;
    }
    static const char *const kinds[] = {"diffusers model folder", "transformer folder", "transformer file"};
    printf("model: %s (%s)\n", argv[1], kinds[f.layout]);
    dg_wan_model m;
    int loaded = inspect_transformer(&r, "transformer", f.transformer, f.transformer_weights, f.transformer_config, &m);
    if (f.layout == DG_MODEL_TRANSFORMER_DIR && !*f.transformer_config && loaded) {
        /* dg_wan_load infers a lone file's config, but generate wants a folder to have one */
        dg_error("'%s' has no config.json: generate needs one for a transformer folder", f.transformer);
        inspect_refuse(&r, "transformer");
    }
    if (*f.transformer_2) {
        dg_wan_model m2;
        char config[DG_MODEL_PATH_MAX + 16];
        snprintf(config, sizeof config, "%s/config.json", f.transformer_2);
        if (inspect_transformer(&r, "transformer_2", f.transformer_2, f.transformer_2, config, &m2)) dg_wan_free(&m2);
    }
    if (f.layout == DG_MODEL_DIFFUSERS) inspect_folder_parts(&r, &f, loaded ? &m : NULL);
    if (loaded) dg_wan_free(&m);
    /* the parts together, as generate opens them (the VAE's latent channels against the transformer's...) */
    if (!r.n_refused) {
        dg_pipeline *p;
        printf("pipeline:\n");
        if (dg_pipeline_open(&p, argv[1], "cpu", 1) != DG_OK) inspect_refuse(&r, "pipeline");
        else dg_pipeline_close(p), printf("  OK: generate opens these parts together\n");
    }
    dg_backend_free(&r.be);
    if (r.n_refused) {
        printf("result: refused (%s)\n", r.refused);
        fprintf(stderr, "ditgen: %s\nditgen: %s: refused (%s)\n", r.first, argv[1], r.refused);
        return 1;
    }
    printf("result: OK, ditgen loads every part\n");
    return 0;
}
