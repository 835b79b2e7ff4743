"""Fixtures for tests/test_sampler.c: schedules and trajectories of the two
flow schedulers exactly as diffusers runs them for Wan, plus the CFG combine.

- UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
  num_train_timesteps=1000, flow_shift=S) with the Wan scheduler_config defaults
  (solver_order 2, bh2, lower_order_final, final_sigmas_type zero, linspace).
- FlowMatchEulerDiscreteScheduler(shift=S).

Trajectories: a fixed x0 and a fake "model" v = f(x, t); every step's v is saved
so the C test feeds the same v and compares x after each step (open loop: the
scheduler alone is under test). Timesteps are stored as float32 (the int64 UniPC
values are small integers, exact in float32). Run from the repo root:
    python tests/reference/make_scheduler.py
Needs torch, diffusers, safetensors (not needed by CI: the output is committed).
"""
import os

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "scheduler.safetensors")

# Keep these lists in step with tests/test_sampler.c.
SCHEDULE_STEPS = [1, 2, 4, 10, 50]
SCHEDULE_SHIFTS = [1.0, 3.0, 5.0, 8.5, 12.0]
TRAJECTORIES = [(1, 5.0), (2, 3.0), (4, 5.0), (10, 3.0), (10, 8.5)]
SHAPE = (2, 3, 4, 5)
CFG_SCALES = [1.0, 5.0, 6.0]


def make(kind, shift):
    if kind == "unipc":
        return UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=shift,
            solver_order=2, solver_type="bh2", lower_order_final=True, final_sigmas_type="zero",
            timestep_spacing="linspace", predict_x0=True)
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


def key(kind, steps, shift):
    return f"{kind}_n{steps}_s{shift:g}"


def fake_model(x, t, idx):
    # Velocity-like output of the same scale as x, varying with t and position.
    return -0.8 * x + torch.sin(t.float() / 100.0 + 0.37 * idx) + 0.3 * torch.cos(1.7 * x)


def main():
    out = {}
    for kind in ("euler", "unipc"):
        for steps in SCHEDULE_STEPS:
            for shift in SCHEDULE_SHIFTS:
                s = make(kind, shift)
                s.set_timesteps(steps)
                k = key(kind, steps, shift)
                out[k + "_sigmas"] = s.sigmas.to(torch.float32).clone()
                out[k + "_timesteps"] = s.timesteps.to(torch.float32).clone()
        for steps, shift in TRAJECTORIES:
            g = torch.Generator().manual_seed(1234 + steps)
            x = torch.randn(SHAPE, generator=g, dtype=torch.float32)
            idx = torch.arange(x.numel(), dtype=torch.float32).reshape(SHAPE)
            s = make(kind, shift)
            s.set_timesteps(steps)
            xs, vs = [x.clone()], []
            for t in s.timesteps:
                v = fake_model(x, t, idx)
                x = s.step(v, t, x, return_dict=False)[0]
                vs.append(v.clone())
                xs.append(x.clone())
            k = key(kind, steps, shift)
            out[k + "_traj_x"] = torch.stack(xs).reshape(steps + 1, -1).contiguous()
            out[k + "_traj_v"] = torch.stack(vs).reshape(steps, -1).contiguous()

    g = torch.Generator().manual_seed(99)
    cond = torch.randn(SHAPE, generator=g, dtype=torch.float32)
    uncond = torch.randn(SHAPE, generator=g, dtype=torch.float32)
    out["cfg_cond"] = cond.reshape(-1).contiguous()
    out["cfg_uncond"] = uncond.reshape(-1).contiguous()
    for scale in CFG_SCALES:
        # diffusers pipeline_wan.py order of operations.
        out[f"cfg_out_g{scale:g}"] = (uncond + scale * (cond - uncond)).reshape(-1).contiguous()

    save_file(out, OUT)
    print(f"wrote {OUT}: {len(out)} tensors")


if __name__ == "__main__":
    main()
