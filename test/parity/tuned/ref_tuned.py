"""
PyTorch's logits for the tuned-model fixture (test/fixtures/parity/tuned/, written by make-fixture.ts from Winnow's
training): the full tuned folder loaded as an HF folder, and the changed-tensors form loaded the way a PyTorch user
would — the base's state dict, then the delta's tensors over it (load_state_dict(strict=False) semantics), after
checking winnow_delta.json lists exactly the stored tensors. Both must give the same logits (asserted here); writes
expected.safetensors: logits (of both forms) and token_loss. Run: /usr/bin/python3 test/parity/tuned/ref_tuned.py   (torch CPU; plain-PyTorch reference models)
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIX = os.path.join(ROOT, "test", "fixtures", "parity", "tuned")
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from ref_models import Config, forward, load_folder, read_safetensors, token_losses, write_safetensors  # noqa: E402


def load_delta(folder):
    with open(os.path.join(folder, "winnow_delta.json")) as f:
        manifest = json.load(f)
    assert manifest["format"] == "winnow-delta/1", manifest["format"]
    base_dir = os.path.normpath(os.path.join(folder, manifest["base"]["path"]))
    cfg, state = load_folder(base_dir)
    delta = read_safetensors(os.path.join(folder, "model.safetensors"))
    assert sorted(delta) == sorted(manifest["tensors"]), "winnow_delta.json must list the stored tensors"
    for name, t in delta.items():
        assert name in state and state[name].shape == t.shape, name
        state[name] = t
    with open(os.path.join(folder, "config.json")) as f:
        assert json.load(f) == cfg.raw, "the delta's config.json is the base's"
    return cfg, state


def main():
    torch.set_num_threads(1)
    with open(os.path.join(FIX, "inputs.json")) as f:
        inputs = json.load(f)
    ids = torch.tensor(inputs["ids"])
    mask = torch.tensor(inputs["attention_mask"])
    cfg, full = load_folder(os.path.join(FIX, "full"))
    dcfg, delta = load_delta(os.path.join(FIX, "delta"))
    with torch.no_grad():
        logits_full = forward(cfg, full, ids, mask)
        logits_delta = forward(dcfg, delta, ids, mask)
    # the two forms are the same weights: PyTorch must see no difference at all
    assert torch.equal(logits_full, logits_delta), (logits_full - logits_delta).abs().max()
    _, base = load_folder(os.path.join(FIX, "base"))
    changed = [n for n in base if not torch.equal(base[n], full[n])]
    write_safetensors(os.path.join(FIX, "expected.safetensors"), {
        "logits": logits_full, "token_loss": token_losses(logits_full, ids),
    })
    print(f"torch {torch.__version__}: {len(changed)} tensors differ from the base; logits max |x| {logits_full.abs().max():.4f}")


if __name__ == "__main__":
    main()
