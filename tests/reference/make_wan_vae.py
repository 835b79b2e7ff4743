"""Fixtures for the Wan2.1 VAE decoder parity test (tests/test_wan_vae.c).

Builds a tiny random AutoencoderKLWan (the diffusers class, Wan2.1 variant:
same code path as the real VAE with small widths), saves it in the diffusers
folder layout (tests/fixtures/wan_vae_tiny/) and records `vae.decode(z).sample`
for a 3-latent-frame video, a 1-frame image and a tiled decode (diffusers'
tiled_decode with the tile settings ditgen derives from its `tile` argument).
Run from the repo root:  python tests/reference/make_wan_vae.py
Needs torch, diffusers, safetensors (not needed by CI: the outputs are committed).
"""
import os

import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")

CONFIG = dict(base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
              temperal_downsample=[False, True, True])
TILE = 8  # latent cells; ditgen's stride is tile - tile // 4 (diffusers' 256/192 ratio)


def make_model(seed):
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(**CONFIG).eval()
    # Default init leaves gammas at one and is tame; perturb everything so every
    # path (incl. channel-wise gamma and biases) matters, while keeping the
    # output mostly inside the clamp range so the comparison is not trivial.
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.mul_(1.0 + 0.3 * torch.randn_like(p))
        vae.decoder.conv_out.weight.mul_(1.5)
    return vae


def decode(vae, z):
    with torch.no_grad():
        return vae.decode(z).sample[0].contiguous()


def main():
    vae = make_model(0)
    folder = os.path.join(OUT, "wan_vae_tiny")
    vae.save_pretrained(folder, safe_serialization=True)
    # The decoder never reads encoder.*: drop it to keep the fixture small, but
    # keep quant_conv.* so the loader's "ignore the encoder side" path is tested.
    path = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    sd = {k: v.contiguous() for k, v in vae.state_dict().items() if not k.startswith("encoder.")}
    save_file(sd, path, metadata={"format": "pt"})
    g = torch.Generator().manual_seed(1)
    out = {}

    z = torch.randn(1, 16, 3, 4, 6, generator=g)
    out["video.z"] = z[0]
    out["video.out"] = decode(vae, z)
    frac = float((out["video.out"].abs() >= 1.0).float().mean())
    print("video", tuple(out["video.out"].shape), "clamped fraction", frac)

    z1 = torch.randn(1, 16, 1, 4, 6, generator=g)
    out["image.z"] = z1[0]
    out["image.out"] = decode(vae, z1)
    print("image", tuple(out["image.out"].shape))

    # Tiled: 13x13 latent with tile 8 / stride 6 -> tile rows and columns of
    # 8, 7, 1 cells (the last narrower than the 16-pixel blend).
    zt = torch.randn(1, 16, 2, 13, 13, generator=g)
    stride = TILE - TILE // 4
    untiled = decode(vae, zt)
    vae.enable_tiling(tile_sample_min_height=8 * TILE, tile_sample_min_width=8 * TILE,
                      tile_sample_stride_height=8 * stride, tile_sample_stride_width=8 * stride)
    tiled = decode(vae, zt)
    vae.disable_tiling()
    out["tiled.z"] = zt[0]
    out["tiled.out"] = tiled
    out["tiled.tile"] = torch.tensor([float(TILE)])
    print("tiled", tuple(tiled.shape), "max |tiled - untiled| (seams)", float((tiled - untiled).abs().max()))

    # The pipeline's denormalisation (pipeline_wan.py): z / (1 / std) + mean.
    zn = torch.randn(1, 16, 2, 2, 3, generator=g)
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    out["denorm.in"] = zn[0]
    out["denorm.out"] = (zn / inv_std + mean)[0]

    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "wan_vae_tiny_io.safetensors"))


if __name__ == "__main__":
    main()
