/* A VAE decode split by latent frames over the ranks of a communicator: each rank decodes its
 * contiguous share after a causal warm-up, and the shares are gathered so every rank holds the
 * whole video (rank 0 writes it). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "vae/wan_vae.h"

static int64_t first_frame(const dg_wan_vae_config *c, int64_t k) { return k == 0 ? 0 : 1 + (int64_t)c->scale_t * (k - 1); }

int dg_wan_vae_decode_split(dg_wan_vae *v, dg_comm *comm, const float *latents, int F, int h, int w, int warm,
                            float *frames, int tile) {
    const dg_wan_vae_config *c = &v->cfg;
    const int64_t px = (int64_t)c->scale_s * h * c->scale_s * w, oc = c->out_channels, To = first_frame(c, F);
    int64_t k0, nk, *counts = malloc(2 * (size_t)comm->size * sizeof(int64_t));
    DG_CHECK_ALLOC(counts);
    int64_t *begin = counts + comm->size;
    dg_comm_split(comm, F, 1, &k0, &nk, counts);
    int64_t at = 0, total = 0; /* counts[r]: rank r's floats; begin[r]: its first output frame */
    for (int r = 0; r < comm->size; r++) {
        const int64_t n = counts[r] ? first_frame(c, at + counts[r]) - first_frame(c, at) : 0;
        begin[r] = first_frame(c, at);
        at += counts[r];
        counts[r] = oc * n * px, total += counts[r];
    }
    float *parts = malloc((size_t)total * sizeof(float));
    int rc = parts ? DG_OK : dg_error("out of memory gathering %lld decoded frames", (long long)To);
    float *mine = parts;
    for (int r = 0; r < comm->rank; r++) mine += counts[r];
    if (rc == DG_OK && nk > 0)
        rc = dg_wan_vae_decode_frames(v, latents, F, h, w, (int)k0, (int)(k0 + nk), warm < 0 ? (int)k0 : warm, mine,
                                      tile);
    /* a rank whose decode failed still joins the gather, so the others do not wait on it */
    if (parts && comm->ops->allgather_f32(comm, parts, counts, NULL) != DG_OK) rc = DG_ERR;
    /* rank r's part is [oc, n_r, H, W]: channel planes go to their frames of [oc, To, H, W] */
    const float *src = parts;
    for (int r = 0; r < comm->size && rc == DG_OK; r++) {
        const int64_t n = counts[r] / (oc * px);
        for (int64_t ch = 0; ch < oc; ch++, src += n * px)
            memcpy(frames + (ch * To + begin[r]) * px, src, (size_t)(n * px) * sizeof(float));
    }
    free(parts), free(counts);
    return rc;
}
