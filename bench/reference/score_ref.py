"""
PyTorch reference for bench/score.ts: the same scoring work done the usual way in PyTorch (eager, float32, no_grad).

Reads the token ids and label masks Winnow rendered (one JSON object per line: id, ids, mask), loads the HF folder's
model.safetensors into a small Llama written here (transformers is not installed; this follows modeling_llama:
pre-RMSNorm, rotate-half RoPE, GQA via repeat_kv, SwiGLU, tied or untied head), and computes per family:
  forward  token_loss, token_prob, token_entropy, token_rank, mean_loss, ppl, embedding (mean final hidden state)
           batches length-sorted and right-padded like Winnow's job (same batch size)
  fim      fim and layer_grad_norm: per example (batch 1) backward of the mean response NLL through every parameter,
           F = mean g², ‖F‖_F per tensor; mean ‖g‖₂ per tensor (surgical_fine_tuning fim_calculator.py)
  grad_norm  per example (batch 1): ‖∇θ L‖₂ over every parameter, L the mean response NLL
Prints one JSON line with timings and values for a parity check (per-example mean_loss, per-tensor fim).

Usage: python3 score_ref.py --model DIR --data tokens.jsonl --family forward --batch 8 [--threads N] [--calibrate]
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = t.float()
    return out


class Llama:
    def __init__(self, folder):
        self.cfg = json.load(open(os.path.join(folder, "config.json")))
        self.w = read_safetensors(os.path.join(folder, "model.safetensors"))
        c = self.cfg
        self.H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = c.get("head_dim", self.H // self.nh)
        self.L = c["num_hidden_layers"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd))
        tied = c.get("tie_word_embeddings", False) or "lm_head.weight" not in self.w
        self.head = self.w["model.embed_tokens.weight"] if tied else self.w["lm_head.weight"]

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    def hidden(self, ids, attn):
        B, T = ids.shape
        w = self.w
        h = F.embedding(ids, w["model.embed_tokens.weight"])
        pos = torch.arange(T).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = causal[None, None] & attn[:, None, None, :].bool()
        bias = torch.zeros(B, 1, T, T).masked_fill(~allowed, torch.finfo(torch.float32).min)
        rep = self.nh // self.nkv
        for l in range(self.L):
            p = f"model.layers.{l}."
            x = self.rms(h, w[p + "input_layernorm.weight"])
            q = F.linear(x, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias")).view(B, T, self.nh, self.hd).transpose(1, 2)
            k = F.linear(x, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias")).view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = F.linear(x, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias")).view(B, T, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if rep > 1:
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
            scores = torch.matmul(q, k.transpose(2, 3)) * self.hd ** -0.5 + bias
            a = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
            h = h + F.linear(a, w[p + "self_attn.o_proj.weight"], w.get(p + "self_attn.o_proj.bias"))
            y = self.rms(h, w[p + "post_attention_layernorm.weight"])
            h = h + F.linear(F.silu(F.linear(y, w[p + "mlp.gate_proj.weight"])) * F.linear(y, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
        return self.rms(h, w["model.norm.weight"])

    def logits(self, hidden):
        return F.linear(hidden, self.head)


def batches(rows, batch_size):
    rows = sorted(rows, key=lambda r: (len(r["ids"]), r["id"]))
    for i in range(0, len(rows), batch_size):
        yield rows[i : i + batch_size]


def forward_family(model, batch, pad_id):
    """token_loss/prob/entropy/rank, mean_loss/ppl over the label mask, embedding: the usual PyTorch way."""
    B = len(batch)
    T = max(len(r["ids"]) for r in batch)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    attn = torch.zeros(B, T, dtype=torch.long)
    for b, r in enumerate(batch):
        ids[b, : len(r["ids"])] = torch.tensor(r["ids"])
        attn[b, : len(r["ids"])] = 1
    hidden = model.hidden(ids, attn)
    logits = model.logits(hidden)
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    tgt = ids[:, 1:]
    tok_logp = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    token_loss = -tok_logp
    token_prob = tok_logp.exp()
    token_entropy = -(logp.exp() * logp).sum(-1)
    tgt_logit = logits[:, :-1].gather(-1, tgt.unsqueeze(-1))
    token_rank = (logits[:, :-1] > tgt_logit).sum(-1) + 1
    m = attn.unsqueeze(-1).float()
    embedding = (hidden * m).sum(1) / m.sum(1)
    out = {}
    for b, r in enumerate(batch):
        n = len(r["ids"])
        lm = torch.tensor(r["mask"][1:n], dtype=torch.float32)
        tl = token_loss[b, : n - 1]
        mean = float((tl * lm).sum() / lm.sum()) if lm.sum() > 0 else None
        out[r["id"]] = {
            "mean_loss": mean,
            "ppl": math.exp(mean) if mean is not None else None,
            # the per-token arrays and the vector are materialised as a caller would store them
            "_keep": (tl.numpy().copy(), token_prob[b, : n - 1].numpy().copy(), token_entropy[b, : n - 1].numpy().copy(),
                      token_rank[b, : n - 1].numpy().copy(), embedding[b].numpy().copy()),
        }
    return out


def run(model, rows, batch_size, pad_id):
    results = {}
    with torch.no_grad():
        for batch in batches(rows, batch_size):
            results.update(forward_family(model, batch, pad_id))
    return results


def fim_family(model, rows):
    params = dict(model.w)
    for t in params.values():
        t.requires_grad_(True)
    acc = {k: torch.zeros_like(v) for k, v in params.items()}
    norm_sum = {k: 0.0 for k in params}
    for r in rows:
        for t in params.values():
            t.grad = None
        ids = torch.tensor([r["ids"]])
        logits = model.logits(model.hidden(ids, torch.ones_like(ids)))
        lm = torch.tensor(r["mask"][1:], dtype=torch.float32)
        nll = F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="none")
        loss = (nll * lm).sum() / lm.sum()
        loss.backward()
        with torch.no_grad():
            for k, t in params.items():
                acc[k] += t.grad * t.grad
                norm_sum[k] += float(t.grad.norm())
    n = len(rows)
    return {k: float(torch.linalg.norm((a / n).flatten())) for k, a in acc.items()}, {k: v / n for k, v in norm_sum.items()}


def grad_norm_family(model, rows):
    params = dict(model.w)
    for t in params.values():
        t.requires_grad_(True)
    out = {}
    for r in rows:
        for t in params.values():
            t.grad = None
        ids = torch.tensor([r["ids"]])
        logits = model.logits(model.hidden(ids, torch.ones_like(ids)))
        lm = torch.tensor(r["mask"][1:], dtype=torch.float32)
        nll = F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="none")
        ((nll * lm).sum() / lm.sum()).backward()
        with torch.no_grad():
            out[str(r["id"])] = float(torch.sqrt(sum((t.grad.double() ** 2).sum() for t in params.values())))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--family", default="forward", choices=["forward", "fim", "grad_norm"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="0: the faster of 1 and 2 on a calibration slice")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.data)]
    t0 = time.perf_counter()
    model = Llama(args.model)
    load_s = time.perf_counter() - t0
    pad_id = model.cfg.get("pad_token_id") or model.cfg.get("eos_token_id") or 0
    work = {
        "forward": lambda sl: run(model, sl, args.batch, pad_id),
        "fim": lambda sl: fim_family(model, sl),
        "grad_norm": lambda sl: grad_norm_family(model, sl),
    }[args.family]
    threads = args.threads
    calib = {}
    if threads == 0:
        sl = rows[: min(len(rows), 64 if args.family == "forward" else 10)]
        for n in (1, 2):
            torch.set_num_threads(n)
            work(sl)  # warm-up
            t = time.perf_counter()
            work(sl)
            calib[n] = time.perf_counter() - t
        threads = min(calib, key=calib.get)
    torch.set_num_threads(threads)
    t = time.perf_counter()
    res = work(rows)
    secs = time.perf_counter() - t
    tokens = sum(len(r["ids"]) for r in rows)
    out = {
        "family": args.family, "torch": torch.__version__, "threads": threads, "calibration": calib,
        "examples": len(rows), "tokens": tokens, "load_seconds": load_s, "seconds": secs, "tokens_per_sec": tokens / secs,
    }
    if args.family == "forward":
        out["mean_loss"] = {str(k): v["mean_loss"] for k, v in res.items()}
    elif args.family == "fim":
        out["fim"], out["layer_grad_norm"] = res
    else:
        out["grad_norm"] = res
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
