/* The whole denoising loop with the transformer on the GPU (device "cuda") against the diffusers
 * fixtures the CPU tests use: WanPipeline's UniPC and Euler with CFG (make_pipeline.py) and
 * SoftPAG / layer PAG with the shared prefix (make_pag.py). Tolerance 1e-3 x max|reference|: the
 * GPU sums in another order, and 4 steps of the sampler carry the difference along.
 * Without a CUDA build or device: "skipped: no CUDA device", exit 77. */
#include "ditgen.h"
#include "tests/pipeline_checks.h"

#ifdef DG_HAVE_CUDA
#include <cuda_runtime_api.h>

static void run(dg_pipeline *p, const dg_safetensors *io, const char *name, dg_gen_params g) {
    free(check_generation(p, io, name, &g, 1e-3, NULL));
}

int main(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) TEST_SKIP("no CUDA device");
    dg_safetensors pipe_io, pag_io, ctx;
    fixture_open(&pipe_io, "wan_tiny_pipeline.safetensors");
    fixture_open(&pag_io, "wan_tiny_pag.safetensors");
    fixture_open(&ctx, "wan_tiny_context.safetensors");
    dg_pipeline *p = wan_tiny_open("cuda");
    if (!p) return TEST_END();
    const float *pe = fixture_f32(&ctx, "prompt_embeds", NULL), *ne = fixture_f32(&ctx, "negative_prompt_embeds", NULL);
    if (!pe || !ne) return TEST_END();
    const dg_gen_params base = {.width = 64, .height = 48, .frames = 9, .steps = 4, .flow_shift = 3.0, .context = pe,
                                .context_len = 7, .negative = ne, .negative_len = 7};
    dg_gen_params g = base;
    g.sampler = DG_SAMPLE_UNIPC, g.seed = 42, g.cfg_scale = 5.0f;
    run(p, &pipe_io, "unipc", g);
    g = base;
    g.sampler = DG_SAMPLE_EULER, g.seed = 7, g.cfg_scale = 5.0f;
    run(p, &pipe_io, "euler", g);

    const dg_head soft[] = {{0, 1}, {1, 0}}, layer[] = {{1, -1}};
    g = base;
    g.sampler = DG_SAMPLE_UNIPC, g.seed = 42, g.cfg_scale = 5.0f;
    g.pag_scale = 2.0f, g.pag_u = 0.5f, g.pag_heads = soft, g.n_pag_heads = 2;
    run(p, &pag_io, "softpag_cfg", g);
    g = base;
    g.sampler = DG_SAMPLE_EULER, g.seed = 7, g.cfg_scale = 1.0f;
    g.pag_scale = 3.0f, g.pag_u = 1.0f, g.pag_heads = layer, g.n_pag_heads = 1;
    run(p, &pag_io, "pag_layer", g); /* starts the perturbed pass at block 1 from the saved prefix */

    dg_pipeline_close(p);
    dg_safetensors_close(&pipe_io);
    dg_safetensors_close(&pag_io);
    dg_safetensors_close(&ctx);
    return TEST_END();
}
#else
int main(void) { TEST_SKIP("no CUDA device"); }
#endif
