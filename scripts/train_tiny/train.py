"""Train the tiny pixel-space Wan transformer + tiny UMT5 encoder jointly on procedural shapes.

Flow matching as diffusers' Wan: x_s = (1 - s) x0 + s * noise, target = noise - x0,
transformer timestep input t = 1000 * s. s ~ logit-normal(0, 1) (80%) or uniform (20%), then
--train-shift; --high-frac of the samples instead take s ~ U(--high-from, 1). 10% of captions are
dropped to "" (tokenised as just </s>) for classifier-free guidance. Each step: a batch of
still images (frames=1) and, every other step, a batch of 5-frame clips.

Usage: python train.py --minutes 55 --tok assets/shapes-tiny/tokenizer --ckpt /tmp/train_tiny/ckpt.pt
"""
import argparse
import copy
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import make_batch  # noqa: E402
from model import encode_text, make_text_encoder, make_transformer, tokenize  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=55.0)
    ap.add_argument("--tok", default="assets/shapes-tiny/tokenizer")
    ap.add_argument("--ckpt", default="/tmp/train_tiny/ckpt.pt")
    ap.add_argument("--log", default=os.path.join(HERE, "train_log.txt"))
    ap.add_argument("--img-batch", type=int, default=24)
    ap.add_argument("--clip-batch", type=int, default=4)
    ap.add_argument("--clip-every", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--save-every-s", type=float, default=240.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-shift", type=float, default=1.0,
                    help="s -> shift*s/(1+(shift-1)*s), as FlowMatchEulerDiscreteScheduler(shift)")
    ap.add_argument("--high-frac", type=float, default=0.0,
                    help="fraction of samples whose s is drawn from U(high-from, 1) instead: layout "
                         "(where a shape sits, which frame comes first) is decided at high noise")
    ap.add_argument("--high-from", type=float, default=0.7)
    ap.add_argument("--clip-high-frac", type=float, default=None, help="--high-frac for the clips (default: the same)")
    ap.add_argument("--clip-high-from", type=float, default=None, help="--high-from for the clips (default: the same)")
    ap.add_argument("--init", default=None, help="resume weights (and EMA) from a checkpoint")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (a GPU runs ~100x more steps)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    from transformers import T5TokenizerFast
    tok = T5TokenizerFast.from_pretrained(a.tok)
    tr = make_transformer()
    te = make_text_encoder(len(tok))
    ema_tr, ema_te = copy.deepcopy(tr).requires_grad_(False), copy.deepcopy(te).requires_grad_(False)
    if a.init:
        ck = torch.load(a.init, map_location="cpu")
        tr.load_state_dict(ck["tr"]); te.load_state_dict(ck["te"])
        ema_tr.load_state_dict(ck["ema_tr"]); ema_te.load_state_dict(ck["ema_te"])
        step0 = int(ck["step"])
    else:
        step0 = 0
    dev = torch.device(a.device)
    for mdl in (tr, te, ema_tr, ema_te):
        mdl.to(dev)
    params = list(tr.parameters()) + list(te.parameters())
    ema_params = list(ema_tr.parameters()) + list(ema_te.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.99), weight_decay=0.01)
    os.makedirs(os.path.dirname(a.ckpt), exist_ok=True)
    logf = open(a.log, "a" if a.init else "w")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    n_tr = sum(p.numel() for p in tr.parameters())
    n_te = sum(p.numel() for p in te.parameters())
    log(f"# transformer params {n_tr}, text encoder params {n_te}, vocab {len(tok)}")
    log(f"# args {vars(a)}")
    log("# step  wall_s  lr  loss_img(avg)  loss_clip(avg)")

    def save(step):
        tmp = a.ckpt + ".tmp"
        cpu = lambda m: {k: v.detach().cpu() for k, v in m.state_dict().items()}
        torch.save(dict(step=step, tr=cpu(tr), te=cpu(te), ema_tr=cpu(ema_tr), ema_te=cpu(ema_te)), tmp)
        os.replace(tmp, a.ckpt)

    clip_high = (a.high_frac if a.clip_high_frac is None else a.clip_high_frac,
                 a.high_from if a.clip_high_from is None else a.clip_high_from)

    def loss_on(x, caps, high_frac, high_from):
        caps = ["" if rng.random() < 0.1 else c for c in caps]
        ids, mask = tokenize(tok, caps)
        ids, mask = ids.to(dev), mask.to(dev)
        x0 = torch.from_numpy(x).to(dev)
        B = x0.shape[0]
        u = torch.randn(B, device=dev)
        s = torch.where(torch.rand(B, device=dev) < 0.8, torch.sigmoid(u), torch.rand(B, device=dev))
        s = a.train_shift * s / (1 + (a.train_shift - 1) * s)
        high = high_from + (1 - high_from) * torch.rand(B, device=dev)
        s = torch.where(torch.rand(B, device=dev) < high_frac, high, s).clamp(1e-4, 1 - 1e-4)
        noise = torch.randn_like(x0)
        sv = s.view(-1, 1, 1, 1, 1)
        xt = (1 - sv) * x0 + sv * noise
        ctx = encode_text(te, ids, mask)
        pred = tr(xt, s * 1000.0, ctx, return_dict=False)[0]
        return torch.mean((pred - (noise - x0)) ** 2)

    budget = a.minutes * 60.0
    t0 = time.time()
    last_save = t0
    step = step0
    acc_i, acc_c, n_i, n_c = 0.0, 0.0, 0, 0
    warm = a.warmup
    while True:
        el = time.time() - t0
        if el > budget:
            break
        prog = min(el / budget, 1.0)
        lr = a.lr * min(1.0, (step - step0 + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * prog)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, caps = make_batch(rng, a.img_batch, 1)
        li = loss_on(x, caps, a.high_frac, a.high_from)
        loss = li
        acc_i += li.item(); n_i += 1
        if step % a.clip_every == 0:
            x, caps = make_batch(rng, a.clip_batch, 5)
            lc = loss_on(x, caps, *clip_high)
            loss = loss + lc
            acc_c += lc.item(); n_c += 1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(a.ema, (1 + step - step0) / (10 + step - step0)) if not a.init else a.ema
        with torch.no_grad():
            torch._foreach_mul_(ema_params, d)
            torch._foreach_add_(ema_params, [p.detach() for p in params], alpha=1 - d)
        step += 1
        if step % 25 == 0:
            log(f"{step:6d} {time.time() - t0:8.1f} {lr:.2e} {acc_i / max(n_i, 1):.4f} {acc_c / max(n_c, 1):.4f}")
            acc_i, acc_c, n_i, n_c = 0.0, 0.0, 0, 0
        if time.time() - last_save > a.save_every_s:
            save(step)
            last_save = time.time()
    save(step)
    log(f"# done: {step} steps in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
