/* Classifier-free guidance combine (diffusers pipeline_wan.py order of ops). */
#include "sampler/guidance.h"

#include "sampler/fp_exact.h"

void dg_cfg_combine(float *out, const float *cond, const float *uncond, size_t n, float scale) {
    for (size_t j = 0; j < n; j++) out[j] = uncond[j] + scale * (cond[j] - uncond[j]);
}

void dg_pag_combine(float *out, const float *base, const float *cond, const float *perturbed, size_t n, float scale) {
    for (size_t j = 0; j < n; j++) out[j] = base[j] + scale * (cond[j] - perturbed[j]);
}
