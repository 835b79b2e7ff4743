#!/usr/bin/env python3
"""Temporal consistency of clip-parallel videos: for final latents/pixels [C, F, H, W] saved by
`ditgen generate -o X.safetensors` (pixel-space models give frames directly), the mean absolute
frame-to-frame difference within each rank's clip and across the clip boundaries, and the mean
absolute difference to a reference run (the exact mode or one process). Standard library only.

usage: clip_consistency.py RANKS REFERENCE.safetensors RUN.safetensors [RUN ...]
"""
import array
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    begin, end = header[name]["data_offsets"]
    values = array.array("f")
    values.frombytes(blob[8 + n + begin:8 + n + end])
    return header[name]["shape"], values


def frame_diffs(shape, v):
    """Mean |x[:, t+1] - x[:, t]| for each t."""
    C, F, H, W = shape[-4:]  # a leading batch dimension of 1 may precede
    hw = H * W
    out = []
    for t in range(F - 1):
        s = 0.0
        for c in range(C):
            a, b = (c * F + t) * hw, (c * F + t + 1) * hw
            s += sum(abs(v[b + i] - v[a + i]) for i in range(hw))
        out.append(s / (C * hw))
    return out


def boundaries(frames, ranks):
    """Frame indices t where t -> t+1 crosses from one rank's clip to the next (even split, as ditgen)."""
    base, extra = divmod(frames, ranks)
    ends, at = [], 0
    for r in range(ranks - 1):
        at += base + (1 if r < extra else 0)
        ends.append(at - 1)
    return set(ends)


def main():
    ranks = int(sys.argv[1])
    ref_shape, ref = load(sys.argv[2])
    print(f"{'run':40s} {'within clips':>13s} {'at boundaries':>14s} {'ratio':>6s} {'vs reference':>13s}")
    for path in sys.argv[2:]:
        shape, v = load(path)
        assert shape == ref_shape, f"{path}: shape {shape} vs {ref_shape}"
        d = frame_diffs(shape, v)
        cut = boundaries(shape[-3], ranks)
        inside = [x for t, x in enumerate(d) if t not in cut]
        across = [x for t, x in enumerate(d) if t in cut]
        mi = sum(inside) / len(inside)
        ma = sum(across) / len(across) if across else float("nan")
        vs = sum(abs(a - b) for a, b in zip(v, ref)) / len(v)
        print(f"{path.split('/')[-1]:40s} {mi:13.4f} {ma:14.4f} {ma / mi:6.2f} {vs:13.4f}")


if __name__ == "__main__":
    main()
