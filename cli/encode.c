/* ditgen encode: prompt -> text embeddings in the file format --context reads (diffusers'
 * prompt_embeds / negative_prompt_embeds), so prompts can be encoded once and reused. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/param_flags.h"
#include "ditgen.h"
#include "io/safetensors.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen encode [-m MODEL] -p PROMPT [-n NEGATIVE] -o OUT.safetensors\n"
            "\n"
            "Writes 'prompt_embeds' [1, L, text_dim] and 'negative_prompt_embeds' (the negative prompt,\n"
            "default the model folder's) with the folder's tokenizer and text encoder, as `generate\n"
            "-p` computes them: `generate --context OUT.safetensors` (or a batch job's \"context\")\n"
            "then gives the same latents without loading the text encoder.\n"
            "\n"
            "  -m, --model DIR        diffusers model folder (default: the small shipped model,\n"
            "                         " DG_DEFAULT_MODEL ")\n"
            "  -p, --prompt TEXT      the prompt\n"
            "  -n, --negative-prompt TEXT  the negative prompt (default: the model folder's, else empty)\n"
            "  -o, --output PATH      the .safetensors file to write\n"
            "  -t, --threads N        CPU threads (default: all cores)\n"
            "  -h, --help             this help\n");
}

int cmd_encode(int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                          {"prompt", required_argument, 0, 'p'},
                                          {"negative-prompt", required_argument, 0, 'n'},
                                          {"output", required_argument, 0, 'o'},
                                          {"threads", required_argument, 0, 't'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    cli_error_context("encode");
    const char *model = DG_DEFAULT_MODEL, *prompt = NULL, *negative = NULL, *out = NULL;
    int threads = 0, c;
    int64_t iv;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m:p:n:o:t:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': negative = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &iv)) return 2; threads = (int)iv; break;
        case 'h': usage(stdout); return 0;
        case ':': cli_error("%s needs a value", argv[optind - 1]); return 2;
        default: cli_error("unknown option '%s' (see ditgen encode --help)", cli_refused_option(argv)); return 2;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!prompt || !out) {
        cli_error("give -p PROMPT and -o OUT.safetensors");
        return 2;
    }
    if (!cli_ends_with(out, ".safetensors")) {
        cli_error("--output '%s' must end in .safetensors", out);
        return 2;
    }
    dg_pipeline *p;
    if (dg_pipeline_open(&p, model, NULL, threads)) {
        cli_library_error();
        return 1;
    }
    if (!negative) negative = dg_pipeline_info(p)->defaults.negative_prompt;
    float *pe = NULL, *ne = NULL;
    int pl = 0, nl = 0, rc = 1;
    if (dg_pipeline_encode_prompt(p, prompt, &pe, &pl) == DG_OK &&
        dg_pipeline_encode_prompt(p, negative, &ne, &nl) == DG_OK) {
        int64_t ps[3] = {1, pl, dg_pipeline_info(p)->text_dim}, ns[3] = {1, nl, ps[2]};
        dg_st_entry e[2] = {{"prompt_embeds", DG_F32, 3, ps, pe}, {"negative_prompt_embeds", DG_F32, 3, ns, ne}};
        const char *meta[] = {"prompt", prompt, "negative_prompt", negative, "model", model};
        if (dg_safetensors_save(out, e, 2, meta, 3) == DG_OK) rc = 0;
    }
    if (rc) cli_library_error();
    else fprintf(stderr, "wrote %s: %d + %d text slots of %lld\n", out, pl, nl, (long long)dg_pipeline_info(p)->text_dim);
    free(pe), free(ne);
    dg_pipeline_close(p);
    return rc;
}
