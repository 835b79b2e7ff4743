"""Fixtures for tests/test_scheduler_options.c: scheduler_config.json options of the two flow
schedulers, each as diffusers runs it: the schedule and a trajectory on a fake model output.

Writes tests/fixtures/scheduler_options.json ({"cases": [{"name", "steps", "config"}]}: the
config is what a folder's scheduler_config.json would hold, read by the C test through the
same reader as a model folder's) and scheduler_options.safetensors (<name>_sigmas,
_timesteps, _traj_x, _traj_v as in make_scheduler.py). Run from the repo root:
    python tests/reference/make_scheduler_options.py
Needs torch, diffusers, safetensors (not needed by CI: the outputs are committed).
"""
import json
import os

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from safetensors.torch import save_file

from make_scheduler import SHAPE, fake_model

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
WAN_UNIPC = {"_class_name": "UniPCMultistepScheduler", "prediction_type": "flow_prediction",
             "use_flow_sigmas": True, "flow_shift": 3.0}
EULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0}

CASES = [
    ("unipc_order1", 6, {**WAN_UNIPC, "solver_order": 1}),
    ("unipc_order3", 10, {**WAN_UNIPC, "solver_order": 3}),
    ("unipc_order3_no_lower_final", 8, {**WAN_UNIPC, "solver_order": 3, "lower_order_final": False,
                                        "final_sigmas_type": "sigma_min"}),
    ("unipc_no_lower_final_sigma_min", 6, {**WAN_UNIPC, "lower_order_final": False, "final_sigmas_type": "sigma_min"}),
    ("unipc_sigma_min", 5, {**WAN_UNIPC, "final_sigmas_type": "sigma_min"}),
    ("unipc_bh1", 8, {**WAN_UNIPC, "solver_type": "bh1"}),
    ("unipc_order3_bh1", 9, {**WAN_UNIPC, "solver_type": "bh1", "solver_order": 3}),
    ("unipc_midpoint", 5, {**WAN_UNIPC, "solver_type": "midpoint"}),
    ("unipc_disable_corrector", 8, {**WAN_UNIPC, "disable_corrector": [0, 2, 3, 6]}),
    ("unipc_train500", 7, {**WAN_UNIPC, "num_train_timesteps": 500, "flow_shift": 5.0}),
    ("unipc_shift_terminal", 7, {**WAN_UNIPC, "shift_terminal": 0.1}),
    ("unipc_shift_default", 4, {k: v for k, v in WAN_UNIPC.items() if k != "flow_shift"}),
    ("euler_karras", 8, {**EULER, "use_karras_sigmas": True}),
    ("euler_exponential", 8, {**EULER, "use_exponential_sigmas": True}),
    ("euler_invert_sigmas", 6, {**EULER, "invert_sigmas": True}),
    ("euler_shift_terminal_train800", 7, {**EULER, "shift_terminal": 0.05, "num_train_timesteps": 800}),
    ("euler_karras_shift_terminal", 5, {**EULER, "use_karras_sigmas": True, "shift_terminal": 0.2}),
    ("euler_shift_default", 4, {"_class_name": "FlowMatchEulerDiscreteScheduler"}),
]


def main():
    out, listed = {}, []
    for name, steps, config in CASES:
        cls = UniPCMultistepScheduler if config["_class_name"] == "UniPCMultistepScheduler" else FlowMatchEulerDiscreteScheduler
        s = cls.from_config({k: v for k, v in config.items() if k != "_class_name"})
        s.set_timesteps(steps)
        out[name + "_sigmas"] = s.sigmas.to(torch.float32).clone()
        out[name + "_timesteps"] = s.timesteps.to(torch.float32).clone()
        g = torch.Generator().manual_seed(4321 + steps)
        x = torch.randn(SHAPE, generator=g, dtype=torch.float32)
        idx = torch.arange(x.numel(), dtype=torch.float32).reshape(SHAPE)
        xs, vs = [x.clone()], []
        for t in s.timesteps:
            v = fake_model(x, t, idx)
            x = s.step(v, t, x, return_dict=False)[0]
            vs.append(v.clone())
            xs.append(x.clone())
        out[name + "_traj_x"] = torch.stack(xs).reshape(steps + 1, -1).contiguous()
        out[name + "_traj_v"] = torch.stack(vs).reshape(steps, -1).contiguous()
        listed.append({"name": name, "steps": steps, "config": config})
    save_file(out, os.path.join(FIX, "scheduler_options.safetensors"))
    with open(os.path.join(FIX, "scheduler_options.json"), "w") as f:
        json.dump({"cases": listed}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
