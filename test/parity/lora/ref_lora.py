"""
Reference for LoRA parity (test/parity/lora.test.ts), written from PEFT's definitions without PEFT or transformers:
a targeted module's weight W becomes W + scale * (B @ A) (transposed for GPT-2's Conv1D, PEFT's fan_in_fan_out),
scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora. Targets follow PEFT's check_target_module_exists:
a module key matches when it equals an entry or ends with "." + the entry, and its block index is in
layers_to_transform. The forward is test/parity/reference/ref_models.py's plain-PyTorch model on those weights.

Per case it records:
  - the logits of base + adapter, with A and B both nonzero (seeded torch.randn), for the forward check;
  - one training step: the mean weighted token loss (as Winnow's weightedLmLoss: sum of w*loss / sum of w over the
    targets), its gradient with respect to A and B only (the base frozen), clip_grad_norm_ to 1.0, then one
    torch.optim.AdamW step; the A and B after it.

Run with Debian's python (/usr/bin/python3, torch CPU):
  /usr/bin/python3 test/parity/lora/ref_lora.py > test/fixtures/parity/lora.json
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import ref_models  # noqa: E402

FIX = os.path.join(HERE, "..", "..", "fixtures", "parity")

LLAMA_MODULES = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
GPT2_MODULES = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]

CASES = [
    # GPT-2: c_proj matches both the attention and the MLP projection (suffix rule); every block
    {"model": "gpt2", "r": 4, "alpha": 8.0, "rslora": False, "targets": ["c_attn", "c_proj"], "layers": None, "seed": 1},
    # Llama with GQA: only block 1, rsLoRA scale
    {"model": "llama-gqa", "r": 3, "alpha": 6.0, "rslora": True, "targets": ["q_proj", "v_proj", "down_proj"], "layers": [1], "seed": 2},
]
LR = 1e-2
WEIGHT_DECAY = 0.01
MAX_NORM = 1.0


def modules(cfg, w, targets, layers):
    """module keys PEFT would adapt, block by block in module order"""
    prefix = "transformer.h" if cfg.model_type == "gpt2" else "model.layers"
    rels = GPT2_MODULES if cfg.model_type == "gpt2" else LLAMA_MODULES
    out = []
    for l in range(cfg.layers):
        if layers is not None and l not in layers:
            continue
        for rel in rels:
            key = f"{prefix}.{l}.{rel}"
            if any(key == t or key.endswith("." + t) for t in targets):
                assert key + ".weight" in w, key
                out.append(key)
    return out


def in_out(cfg, weight):
    # nn.Linear stores [out, in]; GPT-2's Conv1D [in, out]
    return (weight.shape[0], weight.shape[1]) if cfg.model_type == "gpt2" else (weight.shape[1], weight.shape[0])


def merged(cfg, w, adapters, scale):
    """the weights with W + scale * B @ A (transposed for Conv1D) at each adapted module; differentiable in A, B"""
    out = dict(w)
    for key, (A, B) in adapters.items():
        delta = (B @ A) * scale
        out[key + ".weight"] = w[key + ".weight"] + (delta.T if cfg.model_type == "gpt2" else delta)
    return out


def weighted_loss(logits, ids, weights):
    tl = ref_models.token_losses(logits, ids)  # [B, T-1]
    wt = weights[:, 1:]
    return (tl * wt).sum() / wt.sum()


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def run_case(c):
    cfg, w = ref_models.load_folder(os.path.join(FIX, c["model"]))
    with open(os.path.join(FIX, c["model"], "inputs.json")) as f:
        inputs = json.load(f)
    ids = torch.tensor(inputs["ids"], dtype=torch.long)
    mask = torch.tensor(inputs["attention_mask"], dtype=torch.long)
    # train on every real token after the first (the weights Winnow's padBatch gives for policy "all")
    weights = mask.clone().to(torch.float32)
    weights[:, 0] = 0
    r = c["r"]
    scale = c["alpha"] / math.sqrt(r) if c["rslora"] else c["alpha"] / r
    g = torch.Generator().manual_seed(c["seed"])
    adapters = {}
    for key in modules(cfg, w, c["targets"], c["layers"]):
        n_in, n_out = in_out(cfg, w[key + ".weight"])
        A = (torch.randn(r, n_in, generator=g) / math.sqrt(n_in)).requires_grad_(True)
        B = (torch.randn(n_out, r, generator=g) * 0.1).requires_grad_(True)
        adapters[key] = (A, B)
    init = {k: (flat(A), flat(B)) for k, (A, B) in adapters.items()}

    logits = ref_models.forward(cfg, merged(cfg, w, adapters, scale), ids, mask)
    loss = weighted_loss(logits, ids, weights)
    params = [p for ab in adapters.values() for p in ab]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY)
    opt.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
    opt.step()
    return {
        **c,
        "scale": scale,
        "ids": inputs["ids"],
        "attention_mask": inputs["attention_mask"],
        "modules": [
            {"key": k, "A": init[k][0], "B": init[k][1], "A_shape": list(A.shape), "B_shape": list(B.shape),
             "A_after": flat(A), "B_after": flat(B)}
            for k, (A, B) in adapters.items()
        ],
        "logits": flat(logits),
        "logits_shape": list(logits.shape),
        "loss": float(loss),
        "grad_norm": float(norm),
    }


def main():
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "lr": LR, "weight_decay": WEIGHT_DECAY, "max_norm": MAX_NORM, "cases": [run_case(c) for c in CASES]}
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
