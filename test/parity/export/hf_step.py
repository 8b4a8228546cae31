#!/usr/bin/env python3
"""
One training step of an export bundle's train_hf.py, with only torch: the model is the plain-PyTorch reference
(test/parity/reference/ref_models.py) as an nn.Module whose parameters carry the checkpoint's Hugging Face names, and
everything else is train_hf.py's own torch-only parts, imported from the bundle: Winnow's data order and held-out
split, the collator, the layer mask (or the parameter mask when the bundle has one), the (DFT-weighted) loss normalized over all processes, the step, the
changed-tensors writer and Winnow's content hash. Runs as one process or under torch.distributed.run (gloo, CPU, DDP).

  /usr/bin/python3 -m torch.distributed.run --standalone --nproc_per_node 2 test/parity/export/hf_step.py --bundle B --out O

Rank 0 writes to O: step.json (requires_grad names, micro-batch example ids, losses, changed tensors, content hash),
grads.safetensors ("dft/NAME" and "plain/NAME": the first step's accumulated gradients, as DDP averaged them),
after1.safetensors and after.safetensors (the trainable tensors after the first and the last step of the run's steps),
step losses, and delta/ (the changed-tensors form of the final weights). test/unit/export/train-hf.test.ts
compares them with Winnow's own step.
"""
import argparse
import datetime
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from ref_models import forward, load_folder, write_safetensors  # noqa: E402


class RefLM(torch.nn.Module):
    """The reference forward over parameters registered under their checkpoint names (model.layers.0.mlp...)."""

    def __init__(self, cfg, state):
        super().__init__()
        self.cfg = cfg
        for name, t in state.items():
            mod = self
            *path, leaf = name.split(".")
            for p in path:
                if p not in mod._modules:
                    mod.add_module(p, torch.nn.Module())
                mod = mod._modules[p]
            mod.register_parameter(leaf, torch.nn.Parameter(t.clone()))

    def forward(self, input_ids, attention_mask=None):
        return forward(self.cfg, dict(self.named_parameters()), input_ids, attention_mask)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    sys.path.insert(0, a.bundle)
    import train_hf as th  # the bundle's own script; importing it needs only torch

    cfg = th.load_train_config(a.bundle)
    hyper = cfg["hyper"]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        # a stalled rendezvous or collective fails within a minute instead of the default half hour
        torch.distributed.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank = torch.distributed.get_rank() if world > 1 else 0

    base_dir = cfg["model"]["path"]
    mcfg, state = load_folder(base_dir)
    model = RefLM(mcfg, state)
    assert th.no_dropout(model) == 0  # the reference has no dropout; train_hf.py zeroes an HF model's
    # checkpoint names without transformers' prefix (GPT-2's "h.0...") map onto the model's parameter names
    assert th.match_names(["h.0.attn.c_attn.weight", "nope"], {"transformer.h.0.attn.c_attn.weight"}) == (
        {"h.0.attn.c_attn.weight": "transformer.h.0.attn.c_attn.weight"}, ["nope"])
    pm = None
    if cfg.get("param_mask"):  # its tensors train, and only its entries change
        pm = th.ParamMask(model, th.load_param_mask(os.path.join(a.bundle, cfg["param_mask"])))
        trainable = th.trainable_names(model)
    else:
        trainable = th.apply_layer_mask(model, th.load_layer_mask(os.path.join(a.bundle, cfg["layer_mask"])))
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    rows = th.trainable_rows(th.load_rows(os.path.join(a.bundle, cfg["token_masks"])), hyper["max_tokens"])
    held, train = th.split_eval(rows, hyper["eval_fraction"], hyper["seed"])
    pad_id = cfg["model"]["pad_id"]
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    no_sync = (lambda m: m.no_sync()) if world > 1 else None
    params = [p for p in model.parameters() if p.requires_grad]

    grads, losses = {}, {}
    for dft in (True, False):
        parts = th.step_parts(train, hyper, 0, rank, world, pad_id)
        losses["dft" if dft else "plain"] = th.accumulate_gradients(net, parts, dft, world, None, no_sync)
        for n, p in model.named_parameters():
            if p.grad is not None:
                grads[f"{'dft' if dft else 'plain'}/{n}"] = p.grad.detach().clone()
            p.grad = None

    # the step as train_hf.py takes it: the run's DFT setting, learning rate of step 0, clipping, optimizer
    dft = hyper["dft_weight"]
    lr = th.lr_at(hyper["schedule"], hyper["lr"], 0, hyper["steps"], hyper["warmup_steps"])
    optimizer = th.make_optimizer(params, hyper)
    step_loss = th.accumulate_gradients(net, th.step_parts(train, hyper, 0, rank, world, pad_id), dft, world, None, no_sync)
    norm = th.optimizer_step(optimizer, params, lr, hyper["clip_norm"], None, pm, model)
    after1 = {n: p.detach().clone() for n, p in model.named_parameters() if n in trainable}
    # the run's remaining steps, as main() takes them
    step_losses = [step_loss]
    for step in range(1, hyper["steps"]):
        lr_k = th.lr_at(hyper["schedule"], hyper["lr"], step, hyper["steps"], hyper["warmup_steps"])
        step_losses.append(th.accumulate_gradients(net, th.step_parts(train, hyper, step, rank, world, pad_id), dft, world, None, no_sync))
        th.optimizer_step(optimizer, params, lr_k, hyper["clip_norm"], None, pm, model)
    now = dict(model.named_parameters())
    changed = sorted(th.changed_tensors(now, initial))

    if rank == 0:
        os.makedirs(a.out, exist_ok=True)
        saved = th.save_changed(os.path.join(a.out, "delta"), {n: now[n] for n in trainable}, {n: initial[n] for n in trainable}, base_dir,
                                {"trainedBy": "hf_step.py"})
        write_safetensors(os.path.join(a.out, "grads.safetensors"), grads)
        write_safetensors(os.path.join(a.out, "after1.safetensors"), after1)
        write_safetensors(os.path.join(a.out, "after.safetensors"), {n: now[n] for n in trainable})
        micro = [[r["example_id"] for r in th.micro_batch(train, hyper["seed"], k, hyper["batch_size"])] for k in range(hyper["grad_accum"])]
        with open(os.path.join(a.out, "step.json"), "w", encoding="utf-8") as f:
            json.dump({
                "world": world, "torch": torch.__version__, "requires_grad": sorted(th.trainable_names(model)),
                "train_ids": [r["example_id"] for r in train], "held_ids": [r["example_id"] for r in held],
                "micro_batches": micro, "tokens": [th.count_targets(th.micro_batch(train, hyper["seed"], k, hyper["batch_size"]), hyper["max_tokens"])
                                                   for k in range(hyper["grad_accum"])],
                "loss": losses, "step_loss": step_loss, "step_losses": step_losses, "lr": lr, "grad_norm": norm, "changed": changed, "saved": saved,
                "hash": th.winnow_model_hash(base_dir),
            }, f, indent=1)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
