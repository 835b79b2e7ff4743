/* One generation job as `ditgen generate`'s flags describe it, shared by
 * `generate` (one job from the command line) and `batch` (many jobs from a
 * file, one model load): parsed and checked before the model loads, completed
 * from the model folder's defaults, then run on an open pipeline. */
#ifndef DG_CLI_GEN_JOB_H
#define DG_CLI_GEN_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ditgen.h"

typedef enum { GEN_OUT_PNG, GEN_OUT_MP4, GEN_OUT_LATENTS } gen_out_kind;

typedef struct gen_job {
    const char *model, *output, *context, *prompt, *negative, *attention, *cache, *device, *dtype; /* point into argv */
    dg_parallel_opts parallel; /* --parallel (mode NULL: one process) and the --clip-* settings */
    int keep_text_encoder;
    const char *preview; /* --preview FILE.png, rewritten every preview_every steps; NULL: none */
    int preview_every;
    int no_metadata; /* --no-metadata: outputs carry no parameters text */
    const unsigned char *skip; /* NULL, or per generation: 1 = already done (batch --resume) */
    int width, height, frames, steps, threads, fps, vae_tile; /* -1: the model's default */
    double cfg, shift;                                        /* < 0: the model's default */
    int64_t seed;                                             /* negative: a random one */
    dg_sample_method sampler;
    int sampler_given;                                        /* 0: the model's default */
    int count;         /* --batch-count: generations with seeds seed, seed+1, ... */
    double pag_scale, pag_u; /* SoftPAG / PAG guidance; pag_scale 0: off */
    const char *pag_heads_arg;
    dg_head *pag_heads; /* owned: gen_job_free */
    int n_pag_heads;
    gen_out_kind kind;
    int frame_pattern; /* PNG output holds a %d: one file per frame */
    int batch_pattern; /* ... and one frame: the %d numbers the generations of --batch-count */
    uint64_t base_seed; /* set by gen_job_resolve */
    int64_t shape[4];   /* latent [C, F, h, w], set by gen_job_resolve */
} gen_job;

/* argv[0] is the command's name. Returns 0, 1 after printing usage for -h (usage may be NULL
 * where -h is not offered), or -1 after one line on stderr (cli_error's context). */
int gen_job_parse(int argc, char **argv, gen_job *j, void (*usage)(FILE *));
void gen_job_free(gen_job *j);
/* The path generation i writes (a frame pattern stays a pattern): the output itself, or with
 * --batch-count > 1 the output with _i before its extension (out.png -> out_0.png, out_1.png),
 * or for one frame and a %d pattern, the pattern with i (name_%d.png -> name_0.png, name_1.png). */
int gen_job_output_path(const gen_job *j, int i, char *buf, size_t size);
/* After gen_job_resolve: how many files each generation writes (its frames for a pattern, else 1),
 * and file f of generation i. */
int gen_job_files(const gen_job *j);
int gen_job_file(const gen_job *j, int i, int f, char *buf, size_t size);
/* Every output of the job can be created (a missing folder is made): checked before minutes of
 * compute, not after. Without -o the output depends on the model's frame count: gen_job_resolve
 * checks then. */
int gen_job_check_writable(const gen_job *j);
/* The values left unset (-1, < 0, sampler not given, no negative prompt for a prompt) from the
 * model folder's defaults: generate's rule, which bench generate shares. */
void gen_job_defaults(gen_job *j, const dg_model_defaults *d);
/* Unset values from the model's defaults (gen_job_defaults), the seed drawn, then the checks that need the final
 * values and the model: size, frames, output kind, attention plan. */
int gen_job_resolve(gen_job *j, dg_pipeline *p, const char *configs_dir);
/* The job's text embeddings: its prompt (and negative prompt for CFG) through the model's
 * text encoder, or its --context file. *ctx and *neg are malloc'ed (*neg NULL without CFG). */
int gen_job_text(const gen_job *j, dg_pipeline *p, float **ctx, int *ctx_len, float **neg, int *neg_len);
/* The job's count generations (attention plan, sampler loop with a progress bar, output). */
int gen_job_run(const gen_job *j, dg_pipeline *p, const char *configs_dir, const float *ctx, int ctx_len,
                const float *neg, int neg_len);

#endif
