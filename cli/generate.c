/* ditgen generate: one job from the command line -> pipeline -> PNG / MP4 / latents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cores.h"
#include "cli/commands.h"
#include "cli/gen_from.h"
#include "cli/gen_job.h"
#include "cli/param_flags.h"
#include "cli/signals.h"
#include "cli/timing.h"
#include "ditgen.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen generate -m MODEL (-p PROMPT | --context FILE.safetensors) [options]\n"
            "       ditgen generate --from FILE.png|FILE.mp4|FILE.safetensors -o OUT [options]\n"
            "\n"
            "The shipped model (the default) knows 32x32 pictures of a circle, square or triangle\n"
            "(small or large) coloured red, green, blue, yellow, white or black on a plain background,\n"
            "placed left, right, top, bottom or center, and 5-frame clips of one moving left, right,\n"
            "up or down, growing or shrinking; other prompts (\"a cat\") give coloured blobs.\n"
            "\n"
            "  -m, --model DIR        diffusers model folder (with transformer/) or a transformer folder\n"
            "                         (default: the small shipped model, " DG_DEFAULT_MODEL ")\n"
            "  -p, --prompt TEXT      the prompt, encoded with the folder's tokenizer/ and text_encoder/\n"
            "  -n, --negative-prompt TEXT  negative prompt for --cfg-scale > 1 (*, empty as diffusers)\n"
            "      --keep-text-encoder  keep the text encoder in memory after encoding (default: free it)\n"
            "      --context FILE     precomputed text embeddings instead of -p: 'prompt_embeds' [1, L, text_dim]\n"
            "                         and, for --cfg-scale > 1, 'negative_prompt_embeds' (diffusers' arguments)\n"
            "\n"
            "  Defaults marked * come from the model folder (scheduler/scheduler_config.json and a\n"
            "  \"_ditgen_defaults\" object in model_index.json), else diffusers' WanPipeline defaults:\n"
            "  -W, --width N          width in pixels (*, 832)\n"
            "  -H, --height N         height in pixels (*, 480)\n"
            "      --frames N         frames, 4k+1 for the Wan VAE (*, 81; 1 = image)\n"
            "      --steps N          denoising steps (*, 50)\n"
            "      --cfg-scale X      classifier-free guidance scale, <= 1 disables it (*, 5.0)\n"
            "      --flow-shift X     flow-matching sigma shift (*, 3.0)\n"
            "      --sampler NAME     unipc or euler (*, unipc)\n"
            "  -s, --seed N           seed; negative picks a random one (default 42); always printed\n"
            "      --pag-scale S      perturbation guidance (PAG / SoftPAG): one more pass per step with the\n"
            "                         --pag-heads' self-attention blended toward identity, v += S (v_cond -\n"
            "                         v_perturbed); 0 = off (default)\n"
            "      --pag-heads LIST   heads to perturb, LAYER:HEAD counted from 0, '*' for a whole layer\n"
            "                         (like 3:5,7:*)\n"
            "      --pag-u U          blend toward identity, in (0, 1]: 1 = PAG (default), 0.5 = SoftPAG\n"
            "  -b, --batch-count N    N generations with seeds seed, seed+1, ...; outputs get _0, _1, ...\n"
            "                         before the extension (default 1)\n"
            "  -o, --output PATH      .png (one frame unless --frames; a %%03d pattern numbers the frames, or\n"
            "                         with one frame the generations of -b), .mp4,\n"
            "                         or .safetensors for the final latents; a missing folder is created\n"
            "                         (default output.png for one frame, output.mp4 for a clip)\n"
            "      --fps N            frame rate of .mp4 output (*, 16)\n"
            "      --preview FILE.png  rewrite FILE.png with the current estimate of the first frame (cheap:\n"
            "                         a linear latent-to-RGB projection fitted once on the model's VAE)\n"
            "      --preview-every N  every N steps (default 1) and at the last\n"
            "      --no-metadata      write no parameters into the outputs (by default a PNG's \"parameters\"\n"
            "                         text, an MP4's comment and a latents file's metadata record the prompt,\n"
            "                         the settings, the model's folder name and weight hash and the version)\n"
            "      --from FILE        the parameters FILE records (see 'ditgen metadata'); the other flags\n"
            "                         given win. Same build and model: the same file again\n"
            "      --vae-tile N       decode in spatial tiles of N latent cells (bounded memory; 0 = whole\n"
            "                         frames, default 0; 32 = diffusers' 256-pixel tiles)\n"
            "      --attention P      attention plan: a preset (dense, radial_wan, sta_wan, grat_x, natten_gna;\n"
            "                         configs/attention/P.json) or a path to a plan .json (default dense)\n"
            "      --cache C          step caching: a preset (fbcache, fbcache_fast; configs/cache/C.json) or a\n"
            "                         path to a .json file: steps whose first block changed little since the\n"
            "                         last full step skip the other blocks (faster, slightly different;\n"
            "                         default none)\n"
            "      --device D         cpu (default) or cuda[:N]: text encoder, transformer and VAE (CUDA builds)\n"
            "      --parallel MODE    under mpirun -np N, rank 0 writes; with --device cuda each rank takes the\n"
            "                         GPU of its local rank. exact: each rank computes its share of the\n"
            "                         tokens, same latents as one process. clip: long videos, each rank owns\n"
            "                         contiguous latent frames and sees its neighbours' --clip-halo frames\n"
            "                         (default 2) and --clip-global frames of every rank (default 1); the\n"
            "                         global scope weighs e^B more at timesteps >= --clip-phase T, the local\n"
            "                         one after (--clip-bias B; defaults 800 and 10, as Video-Infinity);\n"
            "                         --clip-rope true|clamped|none: the global keys' temporal RoPE (their\n"
            "                         frame, default; clamped to just outside the rank's scope; none)\n"
            "      --parallel-attn M  exact: auto (Ulysses all-to-all over heads when the ranks divide them,\n"
            "                         else all-gather; default), ulysses or allgather\n"
            "      --parallel-blocking  finish every exchange before attending (no overlap; to measure it)\n"
            "      --vae-halo N       parallel: each rank decodes its share of the latent frames after N\n"
            "                         frames of causal warm-up (0, default: from frame 0, exact; N > 0 is\n"
            "                         faster and approximate, see docs/parallel.md)\n"
            "  -t, --threads N        CPU threads (default, or 0: one per physical core)\n"
            "      --dtype T          f32 or bf16: how the CPU computes (default: the weights' type, bf16\n"
            "                         where the CPU has AVX512-BF16 and ditgen was built with oneDNN). bf16\n"
            "                         runs bf16 weights, and a bf16 model's attentions, in bf16; asked of a\n"
            "                         model with f32 or f16 weights it first rounds the transformer blocks'\n"
            "                         matrices to bf16 (as torch_dtype=bfloat16 in diffusers)\n"
            "  -h, --help             this help\n");
}

int cmd_generate(int argc, char **argv) {
    cli_error_context("generate");
    gen_job j = {0};
    gen_from from;
    if (gen_from_expand(argc, argv, &from)) return 2;
    int pr = gen_job_parse(from.argc, from.argv, &j, usage);
    if (pr || gen_from_check_model(&from, j.model)) {
        gen_job_free(&j);
        gen_from_free(&from);
        return pr > 0 ? 0 : 2;
    }
    double t0 = cli_now_s();
    if (j.threads <= 0) j.threads = cli_physical_cores(); /* -t 0 or none: auto */
    dg_pipeline *p;
    char device[32];
    if (j.parallel.mode) j.device = cli_rank_device(j.device, device, sizeof device);
    if (gen_job_check_writable(&j) || dg_pipeline_open(&p, j.model, j.device, j.threads)) {
        cli_library_error();
        gen_job_free(&j);
        gen_from_free(&from);
        return 1;
    }
    if (j.dtype && dg_pipeline_set_dtype(p, j.dtype)) {
        cli_library_error();
        dg_pipeline_close(p);
        gen_job_free(&j);
        gen_from_free(&from);
        return 1;
    }
    const dg_model_info *info = dg_pipeline_info(p);
    cli_stage_s.load = cli_now_s() - t0;
    fprintf(stderr, "model: %s (%d layers, dim %d, %s) loaded in %.2f s, %d thread%s\n", j.model, info->num_layers,
            info->dim, dg_pipeline_compute(p), cli_stage_s.load, j.threads, j.threads == 1 ? "" : "s");
    const char *configs = getenv("DITGEN_CONFIG_DIR") ? getenv("DITGEN_CONFIG_DIR") : DG_CONFIG_DIR;
    float *ctx = NULL, *neg = NULL;
    int ctx_len = 0, neg_len = 0, rc = 1;
    double e0 = cli_now_s();
    if (gen_job_resolve(&j, p, configs) || gen_job_text(&j, p, &ctx, &ctx_len, &neg, &neg_len)) goto out;
    if (j.prompt && !j.keep_text_encoder) dg_pipeline_release_text_encoder(p);
    cli_stage_s.encode = cli_now_s() - e0;
    fprintf(stderr, "text: %s in %.2f s\n", j.prompt ? "encoded" : "read", cli_stage_s.encode);
    if (gen_job_run(&j, p, configs, ctx, ctx_len, neg, neg_len)) goto out;
    const cli_stages *st = &cli_stage_s;
    fprintf(stderr, "total: %.2f s (load %.2f, text %.2f, denoise %.2f, decode %.2f, write %.2f)\n", cli_now_s() - t0,
            st->load, st->encode, st->denoise, st->decode, st->write);
    rc = 0;
out:
    if (rc) cli_library_error();
    free(ctx), free(neg);
    dg_pipeline_close(p);
    gen_job_free(&j);
    gen_from_free(&from);
    return rc && cli_interrupted ? cli_interrupted_status() : rc;
}
