"""
Optimizer parity fixture: torch.optim.AdamW / torch.optim.SGD, torch.nn.utils.clip_grad_norm_ and torch's own
lr schedulers (warm-up by LinearLR, then CosineAnnealingLR or LinearLR decay, joined by SequentialLR; warm-up alone for the constant schedule) applied to fixed
parameters and a fixed sequence of gradients. Winnow's training/optimizer.ts + schedule.ts must give the same
parameters after every step (test/parity/optimizer.test.ts). Nothing here is shared with Winnow's code.

Run with Debian's torch:  /usr/bin/python3 test/parity/optim/ref_optim.py  → test/fixtures/parity/optim.json
"""
import json
import math
import os

import torch

torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "parity", "optim.json")

SHAPES = {"a": [3, 4], "b": [5]}
STEPS = 9
BASE_LR = 0.05
WARMUP = 3


def rnd(shape, scale):
    return (torch.randn(*shape, dtype=torch.float64) * scale).float()


init = {k: rnd(s, 1.0) for k, s in SHAPES.items()}
# gradients of growing size, so clipping engages on some steps and not on others
grads = [{k: rnd(s, 0.2 * (1 + i)) for k, s in SHAPES.items()} for i in range(STEPS)]


def scheduler_for(opt, kind):
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / WARMUP, end_factor=1.0, total_iters=WARMUP - 1)
    if kind == "constant":
        return warm  # stays at end_factor 1 after the warm-up
    span = STEPS - WARMUP
    if kind == "cosine":
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=span, eta_min=0.0)
    else:
        decay = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=span)
    return torch.optim.lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[WARMUP])


def run(case):
    params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
    plist = [params[k] for k in SHAPES]
    if case["optimizer"] == "adamw":
        opt = torch.optim.AdamW(plist, lr=BASE_LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=case["weight_decay"])
    else:
        opt = torch.optim.SGD(plist, lr=BASE_LR, weight_decay=case["weight_decay"])
    sched = scheduler_for(opt, case["schedule"])
    lrs, norms, after = [], [], []
    for i in range(STEPS):
        for k in SHAPES:
            params[k].grad = grads[i][k].clone()
        lrs.append(opt.param_groups[0]["lr"])
        if case["max_norm"] is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(plist, case["max_norm"])))
        opt.step()
        sched.step()
        after.append({k: params[k].detach().flatten().tolist() for k in SHAPES})
    return {**case, "lrs": lrs, "norms": norms, "params": after}


CASES = [
    {"optimizer": "adamw", "weight_decay": 0.1, "schedule": "cosine", "max_norm": 1.0},
    {"optimizer": "adamw", "weight_decay": 0.0, "schedule": "linear", "max_norm": None},
    {"optimizer": "adamw", "weight_decay": 0.01, "schedule": "constant", "max_norm": 0.5},
    {"optimizer": "sgd", "weight_decay": 0.1, "schedule": "cosine", "max_norm": 1.0},
    {"optimizer": "sgd", "weight_decay": 0.0, "schedule": "linear", "max_norm": None},
]

fixture = {
    "torch": torch.__version__,
    "steps": STEPS,
    "base_lr": BASE_LR,
    "warmup": WARMUP,
    "shapes": SHAPES,
    "init": {k: v.flatten().tolist() for k, v in init.items()},
    "grads": [{k: g[k].flatten().tolist() for k in SHAPES} for g in grads],
    "cases": [run(c) for c in CASES],
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(fixture, f)
print(f"wrote {OUT}: {len(CASES)} cases × {STEPS} steps")
