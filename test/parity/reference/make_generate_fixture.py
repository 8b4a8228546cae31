"""
Greedy continuations from the plain-PyTorch reference (ref_models.py), written to test/fixtures/parity/generate.json
for test/parity/generate.test.ts. Each step re-runs the whole sequence (no cache) and takes torch.argmax of the last
position's logits; no EOS stopping (the test turns EOS off), so every case runs its full length.

  /usr/bin/python3 test/parity/reference/make_generate_fixture.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from ref_models import Config, forward, load_folder, read_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures", "parity")
CASES = ["gpt2", "llama-gqa", "qwen2-bias-untied", "llama-rope-linear", "llama-rope-llama3"]


def greedy(cfg, w, prompt, n):
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            logits = forward(cfg, w, torch.tensor([seq]))
            seq.append(int(torch.argmax(logits[0, -1])))
    return seq[len(prompt):]


def main():
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "cases": {}}
    prompts = [[5, 17, 42, 3], [60, 1, 9], [33]]
    for name in CASES:
        cfg, w = load_folder(os.path.join(FIX, name))
        n = 20
        out["cases"][name] = [{"prompt": p, "ids": greedy(cfg, w, p, n)} for p in prompts]
    sdir = os.path.join(ROOT, "resources", "models", "stories260K")
    with open(os.path.join(sdir, "config.json")) as f:
        cfg = Config(json.load(f))
    w = read_safetensors(os.path.join(sdir, "model.safetensors"))
    # "Once upon a time, there was a little girl named Lily. She" / "The dog ran to the park." (BOS first)
    sp = [[1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338],
          [1, 291, 400, 428, 352, 303, 267, 265, 282, 295, 433, 426]]
    out["cases"]["stories260K"] = [{"prompt": p, "ids": greedy(cfg, w, p, 40)} for p in sp]
    with open(os.path.join(FIX, "generate.json"), "w") as f:
        json.dump(out, f)
    for k, v in out["cases"].items():
        print(k, [r["ids"][:8] for r in v])


if __name__ == "__main__":
    main()
