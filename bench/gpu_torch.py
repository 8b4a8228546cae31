"""
PyTorch side of the GPU benchmark (bench/README-gpu.md): the same HF folder (BF16 safetensors, single or sharded) and
the same token ids as bench/gpu-run.ts, the same two measurements:
  forward  ids -> logits -> per-token losses, copied to the host
  train    the last N blocks trainable, the blocks below under no_grad, mean next-token loss, backward, AdamW (lr 1e-5)
in fp32 with TF32 off (matmul and cuDNN), and in bf16 autocast (fp32 master weights). Peak memory from
torch.cuda.max_memory_allocated. Plain torch only (no transformers, no safetensors package, nothing of Winnow's):
GPT-2 and the Llama family (Llama, Qwen2, SmolLM) written here from their published definitions.

Usage: python3 bench/gpu_torch.py --dir MODEL --out FILE [--device cuda|cpu] [--modes fp32,bf16] [--reps 3]
Sizes are the ids-BxT.json files the generator wrote in MODEL.
"""
import argparse
import glob
import json
import math
import os
import re
import struct
import sys
import time

import torch
import torch.nn.functional as F

# ------------------------------------------------------------------ safetensors (BF16/F16/F32), single or sharded

_DT = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def read_safetensors(path):
    out = {}
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        data = bytearray(fh.read())
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        dt = _DT[h["dtype"]]
        t = torch.frombuffer(data, dtype=dt, offset=a, count=(b - a) // torch.tensor([], dtype=dt).element_size()) if b > a else torch.empty(0, dtype=dt)
        out[name] = t.reshape(h["shape"]).float()
    return out


def read_folder(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(d, f)))
    return w


# ------------------------------------------------------------------ models


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_attention(q, k, v):
    """q [B,H,T,d], k/v [B,H,T,d] -> [B,H,T,d]"""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    s = s.masked_fill(mask, float("-inf"))
    return torch.softmax(s.float(), dim=-1).to(q.dtype) @ v


class Gpt2:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.p = "transformer." if "transformer.wte.weight" in w else ""
        self.L = cfg["n_layer"]
        self.H = cfg["n_head"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)

    def block_names(self, l):
        return [k for k in self.w if k.startswith(f"{self.p}h.{l}.")]

    def embed(self, ids):
        T = ids.shape[1]
        return self.w[f"{self.p}wte.weight"][ids] + self.w[f"{self.p}wpe.weight"][:T]

    def block(self, l, x):
        w, p, H = self.w, f"{self.p}h.{l}.", self.H
        B, T, C = x.shape
        h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
        qkv = torch.addmm(w[p + "attn.c_attn.bias"], h.reshape(-1, C), w[p + "attn.c_attn.weight"]).reshape(B, T, 3, H, C // H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B * T, C)
        x = x + torch.addmm(w[p + "attn.c_proj.bias"], a, w[p + "attn.c_proj.weight"]).reshape(B, T, C)
        h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps).reshape(-1, C)
        h = gelu_new(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]))
        return x + torch.addmm(w[p + "mlp.c_proj.bias"], h, w[p + "mlp.c_proj.weight"]).reshape(B, T, C)

    def head(self, x):
        C = x.shape[-1]
        x = F.layer_norm(x, (C,), self.w[f"{self.p}ln_f.weight"], self.w[f"{self.p}ln_f.bias"], self.eps)
        return x @ self.w.get("lm_head.weight", self.w[f"{self.p}wte.weight"]).t()


def rope_inv_freq(cfg, hd):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        mid = (1 - smooth) * out / factor + smooth * out
        is_mid = ~(wl < hi_wl) & ~(wl > lo_wl)
        return torch.where(is_mid, mid, out)
    return inv


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Llama:
    """Llama / Qwen2 / SmolLM: pre-RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU, optional qkv bias."""

    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads", self.H)
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.H
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.inv = rope_inv_freq(cfg, self.hd)

    def block_names(self, l):
        return [k for k in self.w if k.startswith(f"model.layers.{l}.")]

    def rms(self, x, weight):
        xf = x.float()
        return weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

    def lin(self, x, name):
        b = self.w.get(name + ".bias")
        return F.linear(x, self.w[name + ".weight"], b)

    def embed(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device).float()
        f = torch.outer(pos, self.inv.to(ids.device))
        emb = torch.cat((f, f), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        return self.w["model.embed_tokens.weight"][ids]

    def block(self, l, x):
        p = f"model.layers.{l}."
        B, T, C = x.shape
        h = self.rms(x, self.w[p + "input_layernorm.weight"])
        q = self.lin(h, p + "self_attn.q_proj").view(B, T, self.H, self.hd).transpose(1, 2)
        k = self.lin(h, p + "self_attn.k_proj").view(B, T, self.KV, self.hd).transpose(1, 2)
        v = self.lin(h, p + "self_attn.v_proj").view(B, T, self.KV, self.hd).transpose(1, 2)
        cos, sin = self.cos.to(q.dtype), self.sin.to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.KV != self.H:
            k = k.repeat_interleave(self.H // self.KV, dim=1)
            v = v.repeat_interleave(self.H // self.KV, dim=1)
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, self.H * self.hd)
        x = x + self.lin(a, p + "self_attn.o_proj")
        h = self.rms(x, self.w[p + "post_attention_layernorm.weight"])
        h = F.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj")
        return x + self.lin(h, p + "mlp.down_proj")

    def head(self, x):
        x = self.rms(x, self.w["model.norm.weight"])
        tied = self.cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in self.w
        return x @ (self.w["model.embed_tokens.weight"] if tied else self.w["lm_head.weight"]).t()


def make_model(cfg, w):
    if cfg["model_type"] == "gpt2":
        return Gpt2(cfg, w)
    if cfg["model_type"] in ("llama", "qwen2", "mistral"):
        return Llama(cfg, w)
    raise SystemExit(f"model_type {cfg['model_type']} not supported here")


def token_losses(logits, ids):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V).float(), ids[:, 1:].reshape(-1), reduction="none")


# ------------------------------------------------------------------ bench


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, reps, warm, dev):
    for _ in range(warm):
        fn()
    sync(dev)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        out.append(time.perf_counter() - t0)
    s = sorted(out)
    return s[len(s) // 2], out


def peak_reset(dev):
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_mib(dev):
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if dev.type == "cuda" else None


def autocast(mode, dev):
    if mode == "bf16":
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=dev.type, enabled=False)


def run(args):
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    t0 = time.perf_counter()
    base = {k: v.to(dev) for k, v in read_folder(args.dir).items()}
    load_s = time.perf_counter() - t0
    sizes = []
    for f in glob.glob(os.path.join(args.dir, "ids-*x*.json")):
        B, T = map(int, re.search(r"ids-(\d+)x(\d+)\.json$", f).groups())
        sizes.append((B, T, f))
    sizes.sort(key=lambda s: s[0] * s[1])
    train_blocks = args.train_blocks
    result = {
        "torch": torch.__version__,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "tf32": False,
        "sdpa": hasattr(F, "scaled_dot_product_attention"),
        "load_s": round(load_s, 2),
        "params": sum(v.numel() for v in base.values()),
        "cases": [],
    }

    def save():
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)

    for mode in args.modes.split(","):
        for B, T, f in sizes:
            ids = torch.tensor(json.load(open(f)), dtype=torch.int64, device=dev)
            m = make_model(cfg, base)
            # forward: per-token losses to the host, as a scoring pass
            c = {"kind": "forward", "mode": mode, "B": B, "T": T, "tokens": B * T}
            result["cases"].append(c)
            try:

                def fwd():
                    with torch.no_grad(), autocast(mode, dev):
                        x = m.embed(ids)
                        for l in range(m.L):
                            x = m.block(l, x)
                        return token_losses(m.head(x), ids).cpu()

                peak_reset(dev)
                c["loss"] = float(fwd().mean())
                med, allt = timed(fwd, args.reps, 0, dev)
                c.update(median_s=round(med, 5), all_s=[round(x, 5) for x in allt], tokens_per_s=round(B * T / med), peak_mib=peak_mib(dev))
            except Exception as e:  # noqa: BLE001 (recorded, the next case still runs)
                c["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            save()
            print(f"[torch {mode}] forward {B}x{T}: {c.get('tokens_per_s')} tokens/s {c.get('error', '')}", flush=True)

            # train: the last blocks' tensors as parameters (fresh copies of the same weights)
            c = {"kind": "train", "mode": mode, "B": B, "T": T, "tokens": B * T, "trainBlocks": train_blocks}
            result["cases"].append(c)
            try:
                low = m.L - train_blocks
                w = dict(base)
                params = []
                for l in range(low, m.L):
                    for k in m.block_names(l):
                        w[k] = base[k].clone().requires_grad_(True)
                        params.append(w[k])
                mt = make_model(cfg, w)
                opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)

                def step():
                    opt.zero_grad(set_to_none=True)
                    with autocast(mode, dev):
                        with torch.no_grad():
                            x = mt.embed(ids)
                            for l in range(low):
                                x = mt.block(l, x)
                        for l in range(low, mt.L):
                            x = mt.block(l, x)
                        loss = token_losses(mt.head(x), ids).mean()
                    loss.backward()
                    opt.step()
                    return loss

                peak_reset(dev)
                c["loss_step1"] = float(step())
                med, allt = timed(step, args.reps, 0, dev)
                c.update(median_s=round(med, 5), all_s=[round(x, 5) for x in allt], tokens_per_s=round(B * T / med), peak_mib=peak_mib(dev))
                del opt, params, mt, w
            except Exception as e:  # noqa: BLE001
                c["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            save()
            print(f"[torch {mode}] train {B}x{T}: {c.get('tokens_per_s')} tokens/s {c.get('error', '')}", flush=True)
    save()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--modes", default="fp32,bf16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--train-blocks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run(args)


if __name__ == "__main__":
    sys.exit(main())
