"""
PyTorch reference for bench/less.ts: LESS's pipeline done the usual PyTorch way (eager, float32, CPU), the same steps
Winnow's grad_sim takes, on the token ids and label masks Winnow rendered:
  1. warm-up: LoRA (A Kaiming-uniform, B zero; scale alpha/r) on q/k/v/o of every block, AdamW (lr, linear schedule,
     no weight decay, clip 1), `steps` steps of `batch` right-padded rows of the warm-up set, a checkpoint (A, B, Adam's
     exp_avg / exp_avg_sq, mean lr since the previous one) kept every steps/K steps;
  2. per checkpoint: per-example (batch 1) LoRA gradients of the mean response NLL; training rows' Adam features
     m'/sqrt(v'+eps) without bias correction, target rows' plain gradients (LESS collect_grad_reps.py);
  3. a Rademacher projection to d dims (±1/sqrt(d), generated block by block as trak's BasicProjector does, seeded),
     normalised; score = max over subtasks of sum_k lr_k * mean cosine (LESS matching.py).
The model is score_ref.py's Llama (modeling_llama written out; transformers is not installed) with LoRA hooks.
Prints one JSON line: seconds for the warm-up, the scoring and the whole pipeline, and the scores.

Usage: python3 less_ref.py --model DIR --data rows.jsonl --warm warm.json --targets targets.json --steps S --k K
       --batch B --lr LR --r R --alpha A --dim D [--threads N]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score_ref import Llama  # noqa: E402

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


class LoraLlama(Llama):
    def __init__(self, folder, r, alpha, seed):
        super().__init__(folder)
        g = torch.Generator().manual_seed(seed)
        self.scale = alpha / r
        self.lora = {}
        for l in range(self.L):
            for t in TARGETS:
                W = self.w[f"model.layers.{l}.self_attn.{t}.weight"]
                out, inn = W.shape
                bound = 1 / math.sqrt(inn)
                A = ((torch.rand(r, inn, generator=g) * 2 - 1) * bound).requires_grad_(True)
                B = torch.zeros(out, r).requires_grad_(True)
                self.lora[f"{l}.{t}"] = (A, B)

    def params(self):
        return [p for ab in self.lora.values() for p in ab]

    def lin(self, x, l, t):
        y = F.linear(x, self.w[f"model.layers.{l}.self_attn.{t}.weight"])
        A, B = self.lora[f"{l}.{t}"]
        return y + self.scale * F.linear(F.linear(x, A), B)

    def hidden(self, ids, attn):
        B_, T = ids.shape
        w = self.w
        h = F.embedding(ids, w["model.embed_tokens.weight"])
        pos = torch.arange(T).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = causal[None, None] & attn[:, None, None, :].bool()
        bias = torch.zeros(B_, 1, T, T).masked_fill(~allowed, torch.finfo(torch.float32).min)
        rep = self.nh // self.nkv
        for l in range(self.L):
            p = f"model.layers.{l}."
            x = self.rms(h, w[p + "input_layernorm.weight"])
            q = self.lin(x, l, "q_proj").view(B_, T, self.nh, self.hd).transpose(1, 2)
            k = self.lin(x, l, "k_proj").view(B_, T, self.nkv, self.hd).transpose(1, 2)
            v = self.lin(x, l, "v_proj").view(B_, T, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if rep > 1:
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
            scores = torch.matmul(q, k.transpose(2, 3)) * self.hd ** -0.5 + bias
            a = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(B_, T, self.nh * self.hd)
            h = h + self.lin(a, l, "o_proj")
            y = self.rms(h, w[p + "post_attention_layernorm.weight"])
            h = h + F.linear(F.silu(F.linear(y, w[p + "mlp.gate_proj.weight"])) * F.linear(y, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
        return self.rms(h, w["model.norm.weight"])


def batch_loss(model, rows, pad_id):
    T = max(len(r["ids"]) for r in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    attn = torch.zeros(len(rows), T, dtype=torch.long)
    lm = torch.zeros(len(rows), T - 1)
    for b, r in enumerate(rows):
        n = len(r["ids"])
        ids[b, :n] = torch.tensor(r["ids"])
        attn[b, :n] = 1
        lm[b, : n - 1] = torch.tensor(r["mask"][1:n], dtype=torch.float32)
    logits = model.logits(model.hidden(ids, attn))
    nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    return (nll * lm.reshape(-1)).sum() / lm.sum()


def warmup(model, rows, steps, k, batch, lr, pad_id):
    params = model.params()
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / steps)
    kept_at = sorted({max(1, round(i * steps / k)) for i in range(1, k + 1)})
    kept, lrs, prev = [], [], 0
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(rows), generator=g).tolist()
    for step in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        pick = [rows[order[(step * batch + j) % len(rows)]] for j in range(batch)]
        opt.zero_grad()
        batch_loss(model, pick, pad_id).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step + 1 in kept_at:
            st = opt.state
            kept.append({
                "lr": sum(lrs[prev:step + 1]) / (step + 1 - prev),
                "ab": [p.detach().clone() for p in params],
                "m": [st[p]["exp_avg"].clone() for p in params],
                "v": [st[p]["exp_avg_sq"].clone() for p in params],
            })
            prev = step + 1
    return kept


def project(rows, dim, seed, block=1024):
    """Rademacher ±1/sqrt(d) projection, its rows generated block by block from (seed, block index)."""
    P = rows.shape[1]
    out = torch.zeros(rows.shape[0], dim)
    for i0 in range(0, P, block):
        n = min(block, P - i0)
        g = torch.Generator().manual_seed(seed * 1_000_003 + i0)
        R = torch.randint(0, 2, (n, dim), generator=g, dtype=torch.float32).mul_(2 / math.sqrt(dim)).sub_(1 / math.sqrt(dim))
        out += rows[:, i0:i0 + n] @ R
    return out


def example_grads(model, rows):
    params = model.params()
    out = []
    for r in rows:
        ids = torch.tensor([r["ids"]])
        logits = model.logits(model.hidden(ids, torch.ones_like(ids)))
        lm = torch.tensor(r["mask"][1:], dtype=torch.float32)
        nll = F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="none")
        gs = torch.autograd.grad((nll * lm).sum() / lm.sum(), params)
        out.append(torch.cat([x.reshape(-1) for x in gs]))
    return torch.stack(out)


def score(model, kept, rows, subtasks, dim, seed):
    """Every checkpoint's features first, then one projection pass (each block of R generated once)."""
    params = model.params()
    by_id = {r["id"]: r for r in rows}
    targets = [by_id[i] for ids in subtasks for i in ids]
    feats = []
    for ck in kept:
        with torch.no_grad():
            for p, x in zip(params, ck["ab"]):
                p.copy_(x)
        m = torch.cat([x.reshape(-1) for x in ck["m"]])
        v = torch.cat([x.reshape(-1) for x in ck["v"]])
        feats.append(example_grads(model, targets))
        g = example_grads(model, rows)
        feats.append((0.9 * m + 0.1 * g) / torch.sqrt(0.999 * v + 0.001 * g * g + 1e-8))
    proj = F.normalize(project(torch.cat(feats), dim, seed), dim=1)
    total = torch.zeros(len(rows), len(subtasks))
    o = 0
    for ck in kept:
        t = proj[o:o + len(targets)]
        o += len(targets)
        x = proj[o:o + len(rows)]
        o += len(rows)
        means, j = [], 0
        for ids in subtasks:
            means.append(t[j:j + len(ids)].mean(0))
            j += len(ids)
        total += ck["lr"] * (x @ torch.stack(means).T)
    return total.max(1).values


def main():
    ap = argparse.ArgumentParser()
    for a in ("model", "data", "warm", "targets"):
        ap.add_argument(f"--{a}", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--dim", type=int, default=8192)
    # one thread: on these tiny matrices a second one only adds contention (per-example gradients 6× slower with 2
    # threads on the loaded 2-core development machine)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [json.loads(l) for l in open(args.data)]
    warm_ids = set(json.load(open(args.warm)))
    subtasks = json.load(open(args.targets))
    t0 = time.perf_counter()
    model = LoraLlama(args.model, args.r, args.alpha, 0)
    pad_id = model.cfg.get("pad_token_id") or model.cfg.get("eos_token_id") or 0
    kept = warmup(model, [r for r in rows if r["id"] in warm_ids], args.steps, args.k, args.batch, args.lr, pad_id)
    t1 = time.perf_counter()
    s = score(model, kept, rows, subtasks, args.dim, 0)
    t2 = time.perf_counter()
    print(json.dumps({
        "torch": torch.__version__, "threads": args.threads, "examples": len(rows), "checkpoints": len(kept),
        "warmup_seconds": t1 - t0, "score_seconds": t2 - t1, "seconds": t2 - t0,
        "grad_sim": {str(r["id"]): float(x) for r, x in zip(rows, s)},
    }))


if __name__ == "__main__":
    sys.exit(main())
