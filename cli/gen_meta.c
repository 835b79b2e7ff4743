#include "cli/gen_meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/timing.h"
#include "core/error.h"
#include "io/model_hash.h"
#include "io/mp4.h"
#include "io/png.h"
#include "io/safetensors_meta.h"

#ifndef DG_VERSION
#define DG_VERSION "0.0.0"
#endif
#ifndef DG_COMMIT
#define DG_COMMIT "unknown"
#endif

const char *gen_meta_version(void) { return "ditgen " DG_VERSION " (" DG_COMMIT ")"; }

/* $XDG_CACHE_HOME/ditgen/model_hashes.txt (else ~/.cache/...); NULL when there is no such home. */
static const char *hash_cache(char *buf, size_t size) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[4096];
    if (xdg && *xdg) snprintf(base, sizeof base, "%s", xdg);
    else if (home && *home) snprintf(base, sizeof base, "%s/.cache", home);
    else return NULL;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ditgen", base);
    if ((mkdir(base, 0777) && errno != EEXIST) || (mkdir(dir, 0777) && errno != EEXIST)) return NULL;
    int n = snprintf(buf, size, "%s/model_hashes.txt", dir);
    return n > 0 && (size_t)n < size ? buf : NULL;
}

int gen_meta_model_hash(const char *model, char hash[16]) {
    static char memo_model[4096], memo_hash[16]; /* batch jobs share one model */
    if (memo_hash[0] && !strcmp(memo_model, model)) {
        memcpy(hash, memo_hash, sizeof memo_hash);
        return DG_OK;
    }
    char cache[4300];
    const char *cache_path = hash_cache(cache, sizeof cache);
    double t0 = cli_now_s();
    DG_TRY(dg_model_hash(model, cache_path, hash));
    if (cli_now_s() - t0 > 1.0) /* the first time a large model is seen: say where the time went */
        fprintf(stderr, "model hash: %s in %.1f s (remembered in %s)\n", hash, cli_now_s() - t0,
                cache_path ? cache_path : "no cache: no $HOME");
    snprintf(memo_model, sizeof memo_model, "%s", model);
    memcpy(memo_hash, hash, sizeof memo_hash);
    return DG_OK;
}

/* The model by name, never by its path: the folder's (or file's) last component. */
static void model_name(const char *model, char *buf, size_t size) {
    size_t n = strlen(model);
    while (n > 1 && model[n - 1] == '/') n--;
    const char *s = model + n;
    while (s > model && s[-1] != '/') s--;
    size_t len = (size_t)(model + n - s);
    const char *ext = ".safetensors";
    if (len > strlen(ext) && !memcmp(s + len - strlen(ext), ext, strlen(ext))) len -= strlen(ext);
    snprintf(buf, size, "%.*s", (int)len, s);
}

static int add_int(dg_infotext *t, const char *key, long long v) {
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    return dg_infotext_add(t, key, s);
}

static int add_double(dg_infotext *t, const char *key, double v) {
    char s[40];
    dg_format_double(s, sizeof s, v);
    return dg_infotext_add(t, key, s);
}

/* --context: the prompts its embeddings file records (ditgen encode writes them). */
static int context_prompts(const gen_job *j, dg_infotext *t) {
    char *prompt, *negative = NULL;
    DG_TRY(dg_safetensors_metadata(j->context, "prompt", &prompt));
    int rc = prompt ? dg_safetensors_metadata(j->context, "negative_prompt", &negative) : DG_OK;
    if (rc == DG_OK && prompt) rc = dg_infotext_set_prompt(t, prompt, negative);
    if (rc == DG_OK && !prompt) { /* not from ditgen encode: name the file instead */
        char name[4096];
        model_name(j->context, name, sizeof name);
        rc = dg_infotext_add(t, "Context", name);
    }
    free(prompt), free(negative);
    return rc;
}

int gen_meta_build(const gen_job *j, uint64_t seed, dg_infotext *t) {
    DG_TRY(dg_infotext_init(t));
    char size[48], name[4096], hash[16];
    snprintf(size, sizeof size, "%dx%d", j->width, j->height);
    model_name(j->model, name, sizeof name);
    int rc = j->prompt ? dg_infotext_set_prompt(t, j->prompt, j->negative) : context_prompts(j, t);
    if (!rc) rc = gen_meta_model_hash(j->model, hash);
    if (!rc) rc = add_int(t, "Steps", j->steps);
    if (!rc) rc = dg_infotext_add(t, "Sampler", dg_sample_method_name(j->sampler));
    if (!rc) rc = add_double(t, "CFG scale", j->cfg);
    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
    if (!rc) rc = dg_infotext_add(t, "Seed", seed_s);
    if (!rc) rc = dg_infotext_add(t, "Size", size);
    if (!rc) rc = dg_infotext_add(t, "Model hash", hash);
    if (!rc) rc = dg_infotext_add(t, "Model", name);
    if (!rc) rc = add_int(t, "Frames", j->frames);
    if (!rc && j->frames > 1) rc = add_int(t, "FPS", j->fps);
    if (!rc) rc = add_double(t, "Flow shift", j->shift);
    if (!rc && j->pag_scale > 0) rc = add_double(t, "PAG scale", j->pag_scale);
    if (!rc && j->pag_scale > 0) rc = dg_infotext_add(t, "PAG heads", j->pag_heads_arg);
    if (!rc && j->pag_scale > 0) rc = add_double(t, "PAG u", j->pag_u);
    if (!rc) rc = dg_infotext_add(t, "Attention", j->attention ? j->attention : "dense");
    if (!rc && j->cache && strcmp(j->cache, "none")) rc = dg_infotext_add(t, "Cache", j->cache);
    if (!rc && j->dtype) rc = dg_infotext_add(t, "Dtype", j->dtype); /* the CPU's default otherwise */
    if (!rc && j->vae_tile > 0) rc = add_int(t, "VAE tile", j->vae_tile);
    if (!rc) rc = dg_infotext_add(t, "Version", gen_meta_version());
    if (rc) dg_infotext_free(t);
    return rc;
}

int gen_meta_text(const gen_job *j, uint64_t seed, char **out) {
    *out = NULL;
    if (j->no_metadata) return DG_OK;
    dg_infotext t;
    DG_TRY(gen_meta_build(j, seed, &t));
    int rc = dg_infotext_format(&t, out);
    dg_infotext_free(&t);
    return rc;
}

int gen_meta_read(const char *path, char **out) {
    if (cli_ends_with(path, ".png")) return dg_png_read_text(path, "parameters", out);
    if (cli_ends_with(path, ".mp4")) return dg_mp4_read_comment(path, out);
    if (cli_ends_with(path, ".safetensors")) return dg_safetensors_metadata(path, "parameters", out);
    *out = NULL;
    return dg_error("'%s': parameters are read from .png, .mp4 and .safetensors files", path);
}

static int pair_matters(const char *key, int ignore_seed) {
    return strcmp(key, "Version") && !(ignore_seed && !strcmp(key, "Seed"));
}

int gen_meta_same(const char *a, const char *b, int ignore_seed) {
    dg_infotext ta, tb;
    if (dg_infotext_parse("", a, &ta)) return 0;
    if (dg_infotext_parse("", b, &tb)) {
        dg_infotext_free(&ta);
        return 0;
    }
    int same = !strcmp(ta.prompt, tb.prompt) && !strcmp(ta.negative, tb.negative);
    int na = 0, nb = 0;
    for (int i = 0; i < ta.n && same; i++) {
        if (!pair_matters(ta.key[i], ignore_seed)) continue;
        const char *v = dg_infotext_get(&tb, ta.key[i]);
        same = v && !strcmp(v, ta.value[i]);
        na++;
    }
    for (int i = 0; i < tb.n; i++) nb += pair_matters(tb.key[i], ignore_seed);
    dg_infotext_free(&ta), dg_infotext_free(&tb);
    return same && na == nb;
}
