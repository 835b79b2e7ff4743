#include "cli/gen_from.h"

#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/gen_meta.h"
#include "cli/param_flags.h"
#include "core/error.h"

/* Recorded keys and the generate flags they come back as. */
static const char *const KEY_FLAGS[][2] = {
    {"Steps", "--steps"},          {"Sampler", "--sampler"},     {"CFG scale", "--cfg-scale"},
    {"Seed", "--seed"},            {"Frames", "--frames"},       {"FPS", "--fps"},
    {"Flow shift", "--flow-shift"}, {"PAG scale", "--pag-scale"}, {"PAG heads", "--pag-heads"},
    {"PAG u", "--pag-u"},          {"Attention", "--attention"}, {"VAE tile", "--vae-tile"},
    {"Cache", "--cache"},          {"Dtype", "--dtype"}};

static int push(gen_from *f, const char *s, int owned) {
    char *c = owned ? strdup(s) : (char *)s;
    DG_CHECK(c, "out of memory");
    if (owned) f->owned[f->n_owned++] = c;
    f->argv[f->argc++] = c;
    return DG_OK;
}

static int given(int argc, char **argv, const char *s, const char *l) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], s) || !strcmp(argv[i], l) ||
            (!strncmp(argv[i], l, strlen(l)) && argv[i][strlen(l)] == '=') ||
            (!strncmp(argv[i], s, 2) && argv[i][2] && s[1] != '-'))
            return 1;
    return 0;
}

static int build(gen_from *f, const dg_infotext *t, int argc, char **argv) {
    const char *version = dg_infotext_get(t, "Version");
    DG_CHECK(version && !strncmp(version, "ditgen ", 7), "--from %s: not made by ditgen (its Version is '%s')",
             f->file, version ? version : "absent");
    const char *hash = dg_infotext_get(t, "Model hash"), *name = dg_infotext_get(t, "Model");
    snprintf(f->model_hash, sizeof f->model_hash, "%s", hash ? hash : "");
    snprintf(f->model_name, sizeof f->model_name, "%s", name ? name : "?");
    DG_CHECK(!dg_infotext_get(t, "Context") || given(argc, argv, "-p", "--prompt") ||
                 given(argc, argv, "--context", "--context"),
             "--from %s: its prompt came from the embeddings file %s, which records none: give --context or -p",
             f->file, dg_infotext_get(t, "Context"));
    DG_CHECK(given(argc, argv, "-o", "--output"), "--from %s: give -o for the new file", f->file);
    DG_TRY(push(f, argv[0], 0));
    if (!dg_infotext_get(t, "Context") && !given(argc, argv, "--context", "--context")) {
        DG_TRY(push(f, "--prompt", 0));
        DG_TRY(push(f, t->prompt, 1));
        if (t->negative[0]) {
            DG_TRY(push(f, "--negative-prompt", 0));
            DG_TRY(push(f, t->negative, 1));
        }
    }
    const char *size = dg_infotext_get(t, "Size");
    if (size) {
        const char *x = strchr(size, 'x');
        DG_CHECK(x, "--from %s: Size '%s' is not WIDTHxHEIGHT", f->file, size);
        char w[32];
        snprintf(w, sizeof w, "%.*s", (int)(x - size) < 31 ? (int)(x - size) : 31, size);
        DG_TRY(push(f, "--width", 0));
        DG_TRY(push(f, w, 1));
        DG_TRY(push(f, "--height", 0));
        DG_TRY(push(f, x + 1, 1));
    }
    for (size_t k = 0; k < sizeof KEY_FLAGS / sizeof KEY_FLAGS[0]; k++) {
        const char *v = dg_infotext_get(t, KEY_FLAGS[k][0]);
        if (!v) continue;
        DG_TRY(push(f, KEY_FLAGS[k][1], 0));
        DG_TRY(push(f, v, 1));
    }
    for (int i = 1; i < argc; i++) { /* the command line's own flags, --from FILE left out */
        if (!strcmp(argv[i], "--from")) i++;
        else if (strncmp(argv[i], "--from=", 7)) DG_TRY(push(f, argv[i], 0));
    }
    return DG_OK;
}

int gen_from_expand(int argc, char **argv, gen_from *f) {
    *f = (gen_from){.argc = argc, .argv = argv};
    for (int i = 1; i < argc && !f->file; i++) {
        if (!strcmp(argv[i], "--from") && i + 1 < argc) f->file = argv[i + 1];
        else if (!strncmp(argv[i], "--from=", 7)) f->file = argv[i] + 7;
        else if (!strcmp(argv[i], "--from")) {
            cli_error("--from needs a value");
            return -1;
        }
    }
    if (!f->file) return 0;
    char *text;
    if (gen_meta_read(f->file, &text)) {
        cli_library_error();
        return -1;
    }
    if (!text) {
        cli_error("--from %s: the file holds no generation parameters", f->file);
        return -1;
    }
    dg_infotext t;
    int rc = dg_infotext_parse(f->file, text, &t);
    free(text);
    if (rc == DG_OK) {
        /* at most: argv[0], prompt and negative, width and height, each recorded flag, the rest */
        size_t cap = (size_t)argc + 10 + 2 * sizeof KEY_FLAGS / sizeof KEY_FLAGS[0];
        f->argv = calloc(cap, sizeof *f->argv);
        f->owned = calloc(cap, sizeof *f->owned);
        f->argc = 0;
        rc = f->argv && f->owned ? build(f, &t, argc, argv) : dg_error("out of memory");
        dg_infotext_free(&t);
    }
    if (rc) {
        cli_library_error();
        gen_from_free(f);
        return -1;
    }
    return 0;
}

int gen_from_check_model(const gen_from *f, const char *model) {
    if (!f->file || !f->model_hash[0]) return 0;
    char hash[16];
    if (gen_meta_model_hash(model, hash)) {
        cli_library_error();
        return -1;
    }
    if (strcmp(hash, f->model_hash)) {
        cli_error("--from %s: it was made with model %s (weights %s), not %s (weights %s): give -m with that model",
                  f->file, f->model_name, f->model_hash, model, hash);
        return -1;
    }
    return 0;
}

void gen_from_free(gen_from *f) {
    if (f->file) {
        for (int i = 0; i < f->n_owned; i++) free(f->owned[i]);
        free(f->owned);
        free(f->argv);
    }
    *f = (gen_from){0};
}
