"""
Writes the parity fixtures under test/fixtures/parity/<case>/ from the plain-PyTorch reference (ref_models.py):
  config.json, model.safetensors (random tiny weights; stories260K uses the bundled real weights instead),
  inputs.json (ids [B,T], attention mask), expected.safetensors (F32): logits [B,T,V], token_loss [B,T-1],
  mean_loss [1], and grad.<param> for every parameter — gradients of the mean loss over real target tokens.
Run: /usr/bin/python3 test/parity/reference/make_fixtures.py   (torch 1.13 CPU; deterministic)
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "parity")
sys.path.insert(0, HERE)
from ref_models import Config, forward, read_safetensors, token_losses, write_safetensors  # noqa: E402

V = 96
BASE_LLAMA = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": V, "hidden_size": 32,
    "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
    "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True,
    "bos_token_id": 1, "eos_token_id": 2,
}
CASES = {
    "gpt2": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": 32, "n_layer": 2,
             "n_head": 4, "n_positions": 32, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"},
    "llama-gqa": {**BASE_LLAMA, "num_attention_heads": 8, "num_key_value_heads": 2},
    "qwen2-bias-untied": {**BASE_LLAMA, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
                          "num_key_value_heads": 2, "tie_word_embeddings": False, "rope_theta": 1000000.0,
                          "rms_norm_eps": 1e-6},
    "llama-rope-linear": {**BASE_LLAMA, "tie_word_embeddings": False, "rope_scaling": {"rope_type": "linear", "factor": 2.0}},
    "llama-rope-llama3": {**BASE_LLAMA, "rope_theta": 500000.0, "head_dim": 16, "num_attention_heads": 4,
                          "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 16}},
}


def param_shapes(cfg):
    """name → shape, HF names (GPT-2 with the transformer. prefix)"""
    c = cfg
    s = {}
    if c.model_type == "gpt2":
        H, I = c.hidden, 4 * c.hidden
        s["transformer.wte.weight"] = [c.vocab, H]
        s["transformer.wpe.weight"] = [c.raw["n_positions"], H]
        for l in range(c.layers):
            p = f"transformer.h.{l}."
            s.update({p + "ln_1.weight": [H], p + "ln_1.bias": [H], p + "attn.c_attn.weight": [H, 3 * H],
                      p + "attn.c_attn.bias": [3 * H], p + "attn.c_proj.weight": [H, H], p + "attn.c_proj.bias": [H],
                      p + "ln_2.weight": [H], p + "ln_2.bias": [H], p + "mlp.c_fc.weight": [H, I], p + "mlp.c_fc.bias": [I],
                      p + "mlp.c_proj.weight": [I, H], p + "mlp.c_proj.bias": [H]})
        s["transformer.ln_f.weight"] = [H]
        s["transformer.ln_f.bias"] = [H]
        return s
    H, I, hd = c.hidden, c.raw["intermediate_size"], c.head_dim
    qd, kvd = c.heads * hd, c.kv_heads * hd
    bias = c.model_type == "qwen2"
    s["model.embed_tokens.weight"] = [c.vocab, H]
    for l in range(c.layers):
        p = f"model.layers.{l}."
        s.update({p + "input_layernorm.weight": [H], p + "self_attn.q_proj.weight": [qd, H],
                  p + "self_attn.k_proj.weight": [kvd, H], p + "self_attn.v_proj.weight": [kvd, H],
                  p + "self_attn.o_proj.weight": [H, qd], p + "post_attention_layernorm.weight": [H],
                  p + "mlp.gate_proj.weight": [I, H], p + "mlp.up_proj.weight": [I, H], p + "mlp.down_proj.weight": [H, I]})
        if bias:
            s.update({p + "self_attn.q_proj.bias": [qd], p + "self_attn.k_proj.bias": [kvd], p + "self_attn.v_proj.bias": [kvd]})
    s["model.norm.weight"] = [H]
    if not c.tie:
        s["lm_head.weight"] = [c.vocab, H]
    return s


def random_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape in param_shapes(cfg).items():
        if ("norm" in name or "ln_" in name) and name.endswith("weight"):
            w[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            w[name] = 0.15 * torch.randn(shape, generator=g)
    return w


def run_case(name, cfg, w, ids, mask, write_model):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    params = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    logits = forward(cfg, params, ids, mask)
    losses = token_losses(logits, ids)
    tw = mask[:, 1:].float()
    mean = (losses * tw).sum() / tw.sum()
    mean.backward()
    expected = {"logits": logits.detach(), "token_loss": losses.detach(), "mean_loss": mean.detach().reshape(1)}
    for k, p in params.items():
        expected["grad." + k] = p.grad
    write_safetensors(os.path.join(d, "expected.safetensors"), expected)
    if write_model:
        write_safetensors(os.path.join(d, "model.safetensors"), w)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg.raw, f, indent=1)
    with open(os.path.join(d, "inputs.json"), "w") as f:
        json.dump({"ids": ids.tolist(), "attention_mask": mask.tolist(), "torch": torch.__version__}, f)
    print(f"{name}: mean loss {mean.item():.6f}, {len(params)} params")


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    for i, (name, raw) in enumerate(CASES.items()):
        cfg = Config(raw)
        ids = torch.randint(0, V, (2, 9), generator=g)
        mask = torch.ones(2, 9, dtype=torch.int64)
        mask[1, 6:] = 0  # right padding in the second row
        run_case(name, cfg, random_weights(cfg, 100 + i), ids, mask, True)
    # the real stories260K weights (bundled in resources/), not copied into the fixture
    sdir = os.path.join(ROOT, "resources", "models", "stories260K")
    with open(os.path.join(sdir, "config.json")) as f:
        cfg = Config(json.load(f))
    w = read_safetensors(os.path.join(sdir, "model.safetensors"))
    # "Once upon a time, there was a little girl named Lily. She" / "The dog ran to the park." (stories260K tokenizer)
    ids = torch.tensor([[1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338],
                        [1, 291, 400, 428, 352, 303, 267, 265, 282, 295, 433, 426, 0, 0, 0, 0, 0]])
    mask = (torch.arange(17)[None, :] < torch.tensor([[17], [12]])).long()
    run_case("stories260K", cfg, w, ids, mask, False)


if __name__ == "__main__":
    main()
