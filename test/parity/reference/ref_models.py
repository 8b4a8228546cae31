"""
Plain-PyTorch reference of the two model families Winnow runs (no transformers): GPT-2 and the Llama family
(llama, mistral, qwen2 — GQA, q/k/v bias, tied or untied head, RoPE default/linear/llama3). Written from the
transformers modeling code's equations, float32, eager attention. Loads HF folders (config.json + model.safetensors).
Run with Debian's python (/usr/bin/python3, torch 1.13 CPU).
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = t.to(torch.float32) if t.is_floating_point() else t
    return out


def write_safetensors(path, tensors):
    """tensors: name -> float32 tensor; written F32, names sorted."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Config:
    """HF config.json with transformers' defaults for the fields Winnow reads."""

    def __init__(self, raw):
        self.raw = raw
        self.model_type = raw["model_type"]
        if self.model_type == "gpt2":
            self.hidden = raw.get("n_embd", 768)
            self.layers = raw.get("n_layer", 12)
            self.heads = raw.get("n_head", 12)
            self.kv_heads = self.heads
            self.head_dim = self.hidden // self.heads
            self.vocab = raw.get("vocab_size", 50257)
            self.eps = raw.get("layer_norm_epsilon", 1e-5)
            self.tie = raw.get("tie_word_embeddings", True)
        else:
            self.hidden = raw["hidden_size"]
            self.layers = raw["num_hidden_layers"]
            self.heads = raw["num_attention_heads"]
            self.kv_heads = raw.get("num_key_value_heads") or self.heads
            self.head_dim = raw.get("head_dim") or self.hidden // self.heads
            self.vocab = raw.get("vocab_size", 32000)
            self.eps = raw.get("rms_norm_eps", 1e-6)
            self.tie = raw.get("tie_word_embeddings", False)
            self.theta = raw.get("rope_theta", 10000.0)
            self.rope_scaling = raw.get("rope_scaling")
            self.sliding_window = raw.get("sliding_window") if self.model_type == "mistral" else None


def load_folder(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = Config(json.load(f))
    return cfg, read_safetensors(os.path.join(folder, "model.safetensors"))


# ---------------------------------------------------------------- GPT-2 (modeling_gpt2, eager attention)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_bias(T, mask, window=None):
    """additive [B|1, 1, T, T]: 0 where query i sees key j (j <= i, key real, within window), finfo.min elsewhere"""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    ok = j <= i
    if window is not None and window < T:
        ok = ok & (i - j < window)
    ok = ok[None, None]
    if mask is not None:
        ok = ok & mask[:, None, None, :].bool()
    return torch.zeros(ok.shape).masked_fill(~ok, torch.finfo(torch.float32).min)


def gpt2_forward(cfg, w, ids, mask=None):
    p = "transformer." if "transformer.wte.weight" in w else ""
    B, T = ids.shape
    h = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][torch.arange(T)][None]
    bias = causal_bias(T, mask)
    H, hd = cfg.heads, cfg.head_dim
    for l in range(cfg.layers):
        q = f"{p}h.{l}."
        x = F.layer_norm(h, (cfg.hidden,), w[q + "ln_1.weight"], w[q + "ln_1.bias"], cfg.eps)
        qkv = torch.addmm(w[q + "attn.c_attn.bias"], x.view(-1, cfg.hidden), w[q + "attn.c_attn.weight"]).view(B, T, -1)
        qq, kk, vv = qkv.split(cfg.hidden, dim=2)
        qq, kk, vv = (t.view(B, T, H, hd).transpose(1, 2) for t in (qq, kk, vv))
        att = torch.matmul(qq, kk.transpose(-1, -2)) / (float(hd) ** 0.5)
        att = torch.softmax(att + bias, dim=-1)
        a = torch.matmul(att, vv).transpose(1, 2).reshape(B, T, cfg.hidden)
        o = torch.addmm(w[q + "attn.c_proj.bias"], a.view(-1, cfg.hidden), w[q + "attn.c_proj.weight"]).view(B, T, -1)
        h = h + o
        y = F.layer_norm(h, (cfg.hidden,), w[q + "ln_2.weight"], w[q + "ln_2.bias"], cfg.eps)
        m = torch.addmm(w[q + "mlp.c_fc.bias"], y.view(-1, cfg.hidden), w[q + "mlp.c_fc.weight"])
        m = torch.addmm(w[q + "mlp.c_proj.bias"], gelu_new(m), w[q + "mlp.c_proj.weight"]).view(B, T, -1)
        h = h + m
    h = F.layer_norm(h, (cfg.hidden,), w[p + "ln_f.weight"], w[p + "ln_f.bias"], cfg.eps)
    head = w["lm_head.weight"] if ("lm_head.weight" in w and not cfg.tie) else w[p + "wte.weight"]
    return F.linear(h, head)


# ---------------------------------------------------------------- Llama family (modeling_llama, eager attention)


def rope_inv_freq(cfg):
    dim = cfg.head_dim
    inv = 1.0 / (cfg.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.rope_scaling
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled)
    raise ValueError(f"rope type {kind}")


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(cfg, w, ids, mask=None):
    B, T = ids.shape
    H, KV, hd = cfg.heads, cfg.kv_heads, cfg.head_dim
    h = w["model.embed_tokens.weight"][ids]
    inv = rope_inv_freq(cfg)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    bias = causal_bias(T, mask, cfg.sliding_window)

    def lin(x, name):
        b = w.get(name + ".bias")
        return F.linear(x, w[name + ".weight"], b)

    def rms(x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + cfg.eps))

    for l in range(cfg.layers):
        p = f"model.layers.{l}."
        x = rms(h, w[p + "input_layernorm.weight"])
        q = lin(x, p + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = lin(x, p + "self_attn.k_proj").view(B, T, KV, hd).transpose(1, 2)
        v = lin(x, p + "self_attn.v_proj").view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // KV
        k = k[:, :, None].expand(B, KV, rep, T, hd).reshape(B, H, T, hd)
        v = v[:, :, None].expand(B, KV, rep, T, hd).reshape(B, H, T, hd)
        att = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5)
        att = torch.softmax(att + bias, dim=-1, dtype=torch.float32)
        a = torch.matmul(att, v).transpose(1, 2).reshape(B, T, H * hd)
        h = h + lin(a, p + "self_attn.o_proj")
        y = rms(h, w[p + "post_attention_layernorm.weight"])
        h = h + lin(F.silu(lin(y, p + "mlp.gate_proj")) * lin(y, p + "mlp.up_proj"), p + "mlp.down_proj")
    h = rms(h, w["model.norm.weight"])
    head = w["lm_head.weight"] if ("lm_head.weight" in w and not cfg.tie) else w["model.embed_tokens.weight"]
    return F.linear(h, head)


def forward(cfg, w, ids, mask=None):
    return (gpt2_forward if cfg.model_type == "gpt2" else llama_forward)(cfg, w, ids, mask)


def token_losses(logits, ids):
    """per-token loss [B, T-1]: -log p(ids[:, t] | ids[:, <t]) read from logits at t-1"""
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    return -logp.gather(-1, ids[:, 1:, None])[..., 0]
