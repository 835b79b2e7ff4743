/* Classifier-free guidance on host float arrays. */
#ifndef DG_SAMPLER_GUIDANCE_H
#define DG_SAMPLER_GUIDANCE_H

#include <stddef.h>

/* out = uncond + scale * (cond - uncond), rounded op by op as the diffusers Wan
 * pipeline does in float32. out may alias cond or uncond. */
void dg_cfg_combine(float *out, const float *cond, const float *uncond, size_t n, float scale);
/* Perturbation guidance after CFG: out = base + scale * (cond - perturbed), op by op in float32
 * as HeadHunter's pipeline. out may alias base or perturbed. */
void dg_pag_combine(float *out, const float *base, const float *cond, const float *perturbed, size_t n, float scale);

#endif
