#!/usr/bin/env python3
"""
PyTorch side of the export parity check: load a model folder (Hugging Face Llama layout, safetensors), apply an
export bundle's token mask (labels, -100 = masked) and layer mask (requires_grad only on the mask's tensors) to one
batch, and write the masked loss and the parameters with non-zero gradients to a JSON fixture. The vitest test
test/unit/export/parity.test.ts recomputes both with Winnow (training/loss.ts weightedLmLoss) and compares.

A minimal Llama in plain torch (float64), written from the HF modeling_llama semantics: RMSNorm, RoPE with
rotate_half, grouped-query attention (repeat_kv), SiLU-gated MLP, tied or separate lm_head. Needs only torch.

  /usr/bin/python3 test/parity/export/apply_masks.py --model resources/models/stories260K \
      --bundle /tmp/bundle --rows 4 --out test/fixtures/parity/export-hft1.json
"""
import argparse
import json
import math
import os
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


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
        out[name] = t.to(torch.float64)
    return out


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    weights = {}
    for f in sorted(os.listdir(model_dir)):
        if f.endswith(".safetensors"):
            weights.update(read_safetensors(os.path.join(model_dir, f)))
    params = {n: torch.nn.Parameter(t) for n, t in weights.items()}
    return cfg, params


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, p, ids):
    B, T = ids.shape
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    causal = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

    def lin(x, name):
        y = x @ p[name + ".weight"].T
        return y + p[name + ".bias"] if name + ".bias" in p else y

    x = p["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{l}"
        h = rms_norm(x, p[f"{b}.input_layernorm.weight"], eps)
        q = lin(h, f"{b}.self_attn.q_proj").view(B, T, nh, hd).transpose(1, 2)
        k = lin(h, f"{b}.self_attn.k_proj").view(B, T, nkv, hd).transpose(1, 2)
        v = lin(h, f"{b}.self_attn.v_proj").view(B, T, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, nh * hd)
        x = x + lin(o, f"{b}.self_attn.o_proj")
        h = rms_norm(x, p[f"{b}.post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, f"{b}.mlp.gate_proj")) * lin(h, f"{b}.mlp.up_proj"), f"{b}.mlp.down_proj")
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["lm_head.weight"] if "lm_head.weight" in p else p["model.embed_tokens.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--bundle", required=True, help="export bundle folder (token_masks.jsonl, layer_mask.json)")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    cfg, params = load(a.model)
    rows = [json.loads(l) for l in open(os.path.join(a.bundle, "token_masks.jsonl"), encoding="utf-8") if l.strip()][: a.rows]
    mask = json.load(open(os.path.join(a.bundle, "layer_mask.json"), encoding="utf-8"))["trainable_tensors"]
    unknown = sorted(set(mask) - set(params))
    if unknown:
        raise SystemExit(f"layer_mask.json names tensors the model does not have: {unknown[:5]}")

    # right-pad (pad id 0, label -100): causal attention never looks right, so no attention mask is needed
    T = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros((len(rows), T), dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
        labels[i, : len(r["labels"])] = torch.tensor(r["labels"])

    for name, prm in params.items():
        prm.requires_grad_(name in mask)
    logits = forward(cfg, params, ids)
    # the HF causal-LM loss: position t predicts token t+1; mean over the labels that are not -100
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward()
    nonzero = sorted(n for n, prm in params.items() if prm.grad is not None and bool(prm.grad.abs().sum() > 0))

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({
            "generator": "test/parity/export/apply_masks.py",
            "torch": torch.__version__,
            "model": os.path.relpath(os.path.abspath(a.model), os.getcwd()),
            "input_ids": ids.tolist(),
            "labels": labels.tolist(),
            "layer_mask": mask,
            "masked_tokens": int((labels[:, 1:] != -100).sum()),
            "loss": float(loss),
            "nonzero_grad": nonzero,
        }, f)
        f.write("\n")
    print(f"loss {float(loss):.8f}; {len(nonzero)} tensors with non-zero gradients; wrote {a.out}")


if __name__ == "__main__":
    main()
