/**
 * train_hf.py, written into every bundle with trainer configs: a plain PyTorch + transformers (+ PEFT for LoRA)
 * trainer that applies the bundle's token mask, layer mask (or LoRA block) and the Winnow run's hyper-parameters
 * from winnow_train.json, under python, torchrun (DDP) or accelerate launch (FSDP / DeepSpeed). Its torch-only parts
 * (data order, collator, masks, loss, step, the changed-tensors writer) are checked against Winnow's own training
 * step by test/unit/export/train-hf.test.ts. The script is fixed text: everything bundle-specific is in
 * winnow_train.json (train-hf.ts winnowTrainJson).
 */
export const TRAIN_HF_PY = String.raw`#!/usr/bin/env python3
"""
Train on this Winnow bundle with plain PyTorch + transformers (and PEFT for LoRA); no TRL.

It applies what the bundle carries and trains the way Winnow's run was set up (winnow_train.json):
  - token mask: token_masks.jsonl is already tokenized; labels are -100 where the loss is masked and are used as
    they are (padding adds -100, nothing is re-tokenized);
  - layer mask: requires_grad is True only for the tensors named in layer_mask.json (Hugging Face names);
    or, when winnow_train.json has a "lora" block, a PEFT LoRA adapter with those settings;
  - parameter mask (param_mask.safetensors, when the bundle has one): only its tensors train, their gradients are
    masked before clipping and the entries it leaves frozen keep their exact base values (python and torchrun);
  - the loss of a micro-batch is the sum of the trained tokens' losses over the number of trained tokens in the
    whole micro-batch (across every process), optionally DFT-weighted; accumulation averages micro-batches;
  - the data order, held-out rows, optimizer (AdamW or SGD, decoupled weight decay), warm-up + schedule and
    gradient clipping are Winnow's, so one process or N give the same steps.

Commands (from this folder):
  python train_hf.py [--model DIR] [--output-dir DIR] [--save changed|full|adapter]
  torchrun --nproc_per_node 2 train_hf.py
  accelerate launch --config_file accelerate_fsdp.yaml train_hf.py
  accelerate launch --config_file accelerate_deepspeed.yaml train_hf.py
With N processes the micro-batch (batch_size rows) is split between them, so the result does not depend on N.
Needs torch and transformers; peft for LoRA; accelerate (and deepspeed) only under "accelerate launch".
The functions above main() need only torch.
"""
import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_FILE = "winnow_train.json"
IGNORE = -100
DELTA_FILE = "winnow_delta.json"
DELTA_FORMAT = "winnow-delta/1"
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                   "tokenizer.model", "chat_template.jinja"]


# ------------------------------------------------------------------ the bundle


def load_train_config(bundle=HERE):
    with open(os.path.join(bundle, CONFIG_FILE), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("format") != "winnow-train/1":
        raise SystemExit(f"{CONFIG_FILE}: format {cfg.get('format')!r}, expected 'winnow-train/1'")
    return cfg


def load_rows(path):
    """token_masks.jsonl rows in example-id order (the order Winnow's training reads them)."""
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in rows:
        if len(r["input_ids"]) != len(r["labels"]):
            raise SystemExit(f"{path}: example {r.get('example_id')}: input_ids and labels differ in length")
    return sorted(rows, key=lambda r: r["example_id"])


def load_layer_mask(path):
    with open(path, encoding="utf-8") as f:
        return list(json.load(f)["trainable_tensors"])


# ------------------------------------------------------------------ Winnow's data order (training/data.ts)


def mulberry32(seed):
    """Winnow's seeded generator (util/random.ts): floats in [0, 1), bit for bit."""
    state = [seed & 0xFFFFFFFF]
    m = 0xFFFFFFFF

    def rand():
        state[0] = (state[0] + 0x6D2B79F5) & m
        t = state[0]
        t = ((t ^ (t >> 15)) * (t | 1)) & m
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & m)) & m
        return ((t ^ (t >> 14)) & m) / 4294967296

    return rand


def trainable_rows(rows, max_tokens=None):
    """Rows with at least one trained token within max_tokens (Winnow leaves the others out)."""
    return [r for r in rows if any(l != IGNORE for l in r["labels"][:max_tokens])]


def split_eval(rows, eval_fraction, seed):
    """(eval, train): a seeded shuffle whose first round(n * eval_fraction) rows are held out (data.ts splitEval)."""
    rand = mulberry32((seed ^ 0x5EED) & 0xFFFFFFFF)
    keyed = [(rand(), r) for r in rows]
    order = [r for _, r in sorted(keyed, key=lambda x: x[0])]
    n_eval = max(1, math.floor(len(order) * eval_fraction + 0.5)) if eval_fraction > 0 and len(order) >= 2 else 0
    return order[:n_eval], order[n_eval:]


_perms = {}


def _permutation(n, seed):
    key = (n, seed)
    if key not in _perms:
        p = list(range(n))
        rand = mulberry32(seed)
        for i in range(n - 1, 0, -1):
            j = int(rand() * (i + 1))
            p[i], p[j] = p[j], p[i]
        if len(_perms) > 8:
            _perms.clear()
        _perms[key] = p
    return _perms[key]


def micro_batch(train, seed, micro, size):
    """The rows of micro-batch "micro" (global index): epoch-wise seeded permutations (data.ts microBatch)."""
    n = len(train)
    out = []
    for k in range(size):
        pos = micro * size + k
        epoch = pos // n
        out.append(train[_permutation(n, seed + epoch * 7919)[pos % n]])
    return out


def rank_rows(batch, rank, world):
    """This process's contiguous share of a micro-batch (the first len % world processes get one row more)."""
    if len(batch) < world:
        raise SystemExit(f"a micro-batch of {len(batch)} rows cannot be split over {world} processes; raise --batch-size")
    q, r = divmod(len(batch), world)
    start = rank * q + min(rank, r)
    return batch[start:start + q + (1 if rank < r else 0)]


def count_targets(rows, max_tokens):
    """Trained tokens of a micro-batch: labels that count, after position 0, within max_tokens."""
    return sum(sum(1 for l in r["labels"][1:max_tokens] if l != IGNORE) for r in rows)


def collate(rows, pad_id, max_tokens=None):
    """Right-pad to the longest row (capped at max_tokens): ids with pad_id, attention 0, labels -100."""
    n = max(len(r["input_ids"]) for r in rows)
    if max_tokens:
        n = min(n, max_tokens)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    att = torch.zeros((len(rows), n), dtype=torch.long)
    lab = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    for i, r in enumerate(rows):
        k = min(n, len(r["input_ids"]))
        ids[i, :k] = torch.tensor(r["input_ids"][:k], dtype=torch.long)
        att[i, :k] = torch.tensor(r.get("attention_mask", [1] * k)[:k], dtype=torch.long)
        lab[i, :k] = torch.tensor(r["labels"][:k], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": att, "labels": lab}


# ------------------------------------------------------------------ masks


def match_names(names, have):
    """Checkpoint tensor name -> the model's parameter name: the same, or with a "transformer." / "model." prefix
    more or less (GPT-2 checkpoints store "h.0.attn..." for transformers' "transformer.h.0.attn..."). Returns
    (mapping, names not found)."""
    out, unknown = {}, []
    for n in names:
        tail = n.split(".", 1)[1] if "." in n else n
        for c in (n, "transformer." + n, "model." + n, tail):
            if c in have:
                out[n] = c
                break
        else:
            unknown.append(n)
    return out, sorted(unknown)


def apply_layer_mask(model, names):
    """requires_grad only on the named tensors (checkpoint names, matched as match_names does); returns the
    trainable parameter names. Unknown names are refused."""
    params = dict(model.named_parameters())
    mapping, unknown = match_names(names, params)
    if unknown:
        raise SystemExit(f"the layer mask names tensors this model does not have: {unknown[:5]}")
    wanted = set(mapping.values())
    for name, p in params.items():
        p.requires_grad_(name in wanted)
    return sorted(n for n, p in params.items() if p.requires_grad)


def no_dropout(model):
    """Winnow trains without dropout (GPT-2's configs set 0.1): every torch Dropout of the model gets p = 0."""
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):
            m.p = 0.0
            n += 1
    return n


_ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "U8": torch.uint8, "I64": torch.int64}


def read_safetensors(path):
    """name -> tensor of a .safetensors file (the dtypes Winnow writes)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=_ST_DTYPES[e["dtype"]]).reshape(e["shape"]) if b > a else \
            torch.zeros(e["shape"], dtype=_ST_DTYPES[e["dtype"]])
    return out


class ParamMask:
    """Winnow's parameter mask (param_mask.safetensors: 1 = trainable; tensors not listed are frozen). Only the listed
    tensors get requires_grad; mask_gradients() zeroes the frozen entries' gradients (before clipping, so the norm and
    the moments see only trainable entries) and restore_frozen() puts back their base values after each optimizer
    step (weight decay would move them), so every frozen entry stays bit-identical, as in Winnow."""

    def __init__(self, model, masks):
        params = dict(model.named_parameters())
        mapping, _ = match_names(list(masks), params)
        masks = {mapping.get(n, n): m for n, m in masks.items()}  # keyed by the model's parameter names
        bad = sorted(n for n, m in masks.items() if n not in params or tuple(params[n].shape) != tuple(m.shape))
        if bad:
            raise SystemExit(f"the parameter mask names tensors this model does not have with that shape: {bad[:5]}")
        for name, p in params.items():
            p.requires_grad_(name in masks)
        self.masks = {n: m.to(params[n].device).bool() for n, m in masks.items()}
        self.base = {n: params[n].detach().clone() for n in masks}

    def _on(self, name, p):
        if self.masks[name].device != p.device:  # the model moved to its device after the mask was read
            self.masks[name] = self.masks[name].to(p.device)
            self.base[name] = self.base[name].to(p.device)
        return self.masks[name]

    def mask_gradients(self, model):
        for name, p in model.named_parameters():
            if name in self.masks and p.grad is not None:
                p.grad.mul_(self._on(name, p).to(p.grad.dtype))

    @torch.no_grad()
    def restore_frozen(self, model):
        for name, p in model.named_parameters():
            if name in self.masks:
                p.copy_(torch.where(self._on(name, p), p, self.base[name]))


def load_param_mask(path):
    return {n: t.bool() for n, t in read_safetensors(path).items()}


def trainable_names(model):
    return sorted(n for n, p in model.named_parameters() if p.requires_grad)


# ------------------------------------------------------------------ loss and step


def lr_at(schedule, base_lr, step, total_steps, warmup_steps):
    """Winnow's schedule (training/schedule.ts): linear warm-up, then constant, linear or cosine decay; step is 0-based."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / span))
    if schedule == "linear":
        return base_lr * (1 - progress)
    return base_lr * 0.5 * (1 + math.cos(math.pi * progress))


def masked_loss_sum(logits, labels, dft=False):
    """Sum over trained tokens of -log p(label_t | <t) (read from logits at t-1); with DFT each term is scaled by
    p(label_t), gradient stopped. Returns (sum, number of trained tokens)."""
    z = logits[:, :-1].float()
    y = labels[:, 1:]
    keep = y != IGNORE
    nll = F.cross_entropy(z.reshape(-1, z.shape[-1]), y.clamp(min=0).reshape(-1), reduction="none").view(y.shape)
    w = keep.to(nll.dtype)
    if dft:
        w = w * torch.exp(-nll).detach()
    return (nll * w).sum(), int(keep.sum())


def logits_of(model, batch):
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return out.logits if hasattr(out, "logits") else out


def all_reduce_sum(x):
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        x = x.clone()
        torch.distributed.all_reduce(x)
    return x


def accumulate_gradients(model, parts, dft=False, world=1, backward=None, no_sync=None, scale_by_accum=True, device=None):
    """Forward and backward over one step's micro-batches. parts: [(this process's collated rows, trained tokens of
    the whole micro-batch)]. Each micro-batch's loss is its loss sum over its global token count; under N processes
    each one's gradient is scaled by N, as DDP / FSDP / DeepSpeed average them. Returns the step's loss (the mean of
    the micro-batch losses, the same on every process)."""
    backward = backward or (lambda loss: loss.backward())
    total = 0.0
    for i, (batch, n_global) in enumerate(parts):
        if device is not None:
            batch = {k: v.to(device) for k, v in batch.items()}
        last = i == len(parts) - 1
        ctx = no_sync(model) if (no_sync is not None and not last) else contextlib.nullcontext()
        with ctx:
            s, _ = masked_loss_sum(logits_of(model, batch), batch["labels"], dft)
            denom = max(float(n_global), 1e-8)
            loss = s * (world / denom)
            if scale_by_accum:
                loss = loss / len(parts)
            backward(loss)
        total += float(all_reduce_sum(s.detach().float().reshape(1))[0]) / denom
    return total / len(parts)


def make_optimizer(params, hyper):
    if hyper.get("optimizer", "adamw") == "sgd":
        return torch.optim.SGD(params, lr=hyper["lr"], weight_decay=hyper.get("weight_decay", 0.0))
    return torch.optim.AdamW(params, lr=hyper["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=hyper.get("weight_decay", 0.0))


def optimizer_step(optimizer, params, lr, clip_norm, clip=None, param_mask=None, model=None):
    """Set the step's learning rate, mask the gradients (a parameter mask), clip the global gradient norm
    (torch.nn.utils.clip_grad_norm_), step, and put back the parameter mask's frozen entries."""
    for g in optimizer.param_groups:
        g["lr"] = lr
    if param_mask is not None:
        param_mask.mask_gradients(model)
    norm = None
    if clip_norm:
        norm = float((clip or torch.nn.utils.clip_grad_norm_)(params, clip_norm))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if param_mask is not None:
        param_mask.restore_frozen(model)
    return norm


def step_parts(train, hyper, step, rank, world, pad_id):
    """The collated rows of this process for each micro-batch of "step", with each micro-batch's token count."""
    parts = []
    for a in range(hyper["grad_accum"]):
        rows = micro_batch(train, hyper["seed"], step * hyper["grad_accum"] + a, hyper["batch_size"])
        parts.append((collate(rank_rows(rows, rank, world), pad_id, hyper["max_tokens"]), count_targets(rows, hyper["max_tokens"])))
    return parts


# ------------------------------------------------------------------ saving in the forms Winnow reads


_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors):
    """name -> float tensor, written in its dtype (F32, F16 or BF16), names sorted."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            t = t.float()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


_IGNORED = re.compile(r"\.attn\.(bias|masked_bias)$|rotary_emb\.inv_freq$")


def winnow_model_hash(model_dir):
    """Winnow's content hash of an HF folder (LoadedModel.hash): sha256 of config.json and every tensor's name and
    stored bytes, in file and header order; the first 16 hex digits. A delta names its base by it."""
    h = hashlib.sha256()
    with open(os.path.join(model_dir, "config.json"), "rb") as f:
        h.update(f.read())
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            files = list(dict.fromkeys(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for name in files:
        with open(os.path.join(model_dir, name), "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            start = 8 + n
            for key, e in header.items():
                if key == "__metadata__" or _IGNORED.search(key):
                    continue
                a, b = e["data_offsets"]
                f.seek(start + a)
                h.update(key.encode("utf-8"))
                h.update(f.read(b - a))
    return h.hexdigest()[:16]


def changed_tensors(state, initial):
    """The tensors whose values differ from their values before training."""
    return {n: t for n, t in state.items() if n in initial and not torch.equal(t.detach().cpu(), initial[n])}


def checkpoint_names(base_dir):
    """The tensor names stored in a model folder's safetensors."""
    index = os.path.join(base_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            return list(json.load(f)["weight_map"])
    with open(os.path.join(base_dir, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return [k for k in json.loads(f.read(n)) if k != "__metadata__"]


def save_changed(out_dir, state, initial, base_dir, extra=None):
    """Winnow's changed-tensors form: model.safetensors with only the changed tensors (under the base checkpoint's
    names), config.json and tokenizer files of the base, and winnow_delta.json naming the base folder and its
    content hash."""
    os.makedirs(out_dir, exist_ok=True)
    to_model, _ = match_names(checkpoint_names(base_dir), set(state))
    to_ckpt = {m: c for c, m in to_model.items()}
    changed = {to_ckpt.get(n, n): t for n, t in changed_tensors(state, initial).items()}
    write_safetensors(os.path.join(out_dir, "model.safetensors"), changed)
    for f in ["config.json"] + TOKENIZER_FILES:
        if os.path.exists(os.path.join(base_dir, f)):
            shutil.copyfile(os.path.join(base_dir, f), os.path.join(out_dir, f))
    manifest = {"format": DELTA_FORMAT, "base": {"path": os.path.abspath(base_dir), "hash": winnow_model_hash(base_dir)},
                "tensors": sorted(changed), **(extra or {})}
    with open(os.path.join(out_dir, DELTA_FILE), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return sorted(changed)


# ------------------------------------------------------------------ main (transformers, peft, accelerate)


def save_tokenizer(tok, model_dir, out_dir):
    if tok is not None:
        tok.save_pretrained(out_dir)
    elif os.path.isdir(model_dir):
        for f in TOKENIZER_FILES:
            if os.path.exists(os.path.join(model_dir, f)):
                shutil.copyfile(os.path.join(model_dir, f), os.path.join(out_dir, f))


def apply_lora(model, lora):
    from peft import LoraConfig, get_peft_model

    keys = ["r", "lora_alpha", "lora_dropout", "target_modules", "bias", "layers_to_transform", "layers_pattern", "modules_to_save",
            "use_rslora", "use_dora"]
    conf = {k: lora[k] for k in keys if k in lora and lora[k] is not None}
    if "alpha" in lora and "lora_alpha" not in conf:
        conf["lora_alpha"] = lora["alpha"]
    if "dropout" in lora and "lora_dropout" not in conf:
        conf["lora_dropout"] = lora["dropout"]
    return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **conf))


def main():
    cfg = load_train_config()
    hyper = dict(cfg["hyper"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=cfg["model"]["path"], help="the base model folder (default: the one the bundle was made for)")
    ap.add_argument("--output-dir", default=os.path.join(HERE, "hf-out"))
    ap.add_argument("--save", choices=["changed", "full", "adapter"], default=None,
                    help="changed: only the trained tensors + winnow_delta.json (default with a layer mask); full: an HF folder; "
                         "adapter: a PEFT adapter (default with LoRA)")
    ap.add_argument("--steps", type=int, default=hyper["steps"])
    ap.add_argument("--lr", type=float, default=hyper["lr"])
    ap.add_argument("--batch-size", type=int, default=hyper["batch_size"], help="rows per micro-batch, over all processes")
    ap.add_argument("--grad-accum", type=int, default=hyper["grad_accum"])
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32", help="Winnow trains in float32")
    a = ap.parse_args()
    hyper.update(steps=a.steps, lr=a.lr, batch_size=a.batch_size, grad_accum=a.grad_accum)
    lora = cfg.get("lora")
    pm_file = cfg.get("param_mask")
    masked = cfg.get("layer_mask") or pm_file
    save = a.save or ("adapter" if lora else "changed" if masked and os.path.isdir(a.model) else "full")
    if save == "adapter" and not lora:
        raise SystemExit("--save adapter needs a LoRA bundle (winnow_train.json has no lora block)")
    if save == "changed" and not os.path.isdir(a.model):
        raise SystemExit("--save changed needs --model to be a local folder (the delta names it as its base)")
    if save == "changed" and lora:
        raise SystemExit("with LoRA, save the adapter (--save adapter) or the merged model (--save full)")

    from transformers import AutoModelForCausalLM, AutoTokenizer

    acc = None
    use_ds = os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
    if pm_file and (use_ds or os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"):
        raise SystemExit("a parameter mask needs whole tensors on each process: run with python or torchrun, not FSDP or DeepSpeed")
    if any(k.startswith("ACCELERATE_") for k in os.environ):  # started by "accelerate launch"
        from accelerate import Accelerator

        # DeepSpeed accumulates itself (and divides the loss by the accumulation); elsewhere this script does
        acc = Accelerator(gradient_accumulation_steps=hyper["grad_accum"] if use_ds else 1)
        rank, world, device = acc.process_index, acc.num_processes, acc.device
        if use_ds:
            # no DataLoader is prepared, so DeepSpeed is told the per-process micro-batch, accumulation and clipping here
            ds = acc.state.deepspeed_plugin.deepspeed_config
            ds["train_micro_batch_size_per_gpu"] = max(1, hyper["batch_size"] // world)
            ds["gradient_accumulation_steps"] = hyper["grad_accum"]
            ds["train_batch_size"] = ds["train_micro_batch_size_per_gpu"] * hyper["grad_accum"] * world
            ds["gradient_clipping"] = hyper["clip_norm"] or 0.0
    else:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
        if torch.cuda.is_available():
            torch.cuda.set_device(device)
        if world > 1:
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank = torch.distributed.get_rank() if world > 1 else 0
    main_proc = rank == 0

    torch.manual_seed(hyper["seed"])
    try:
        tok = AutoTokenizer.from_pretrained(a.model)
    except Exception as err:  # the ids are in token_masks.jsonl: the tokenizer is only copied into a full save
        print(f"no transformers tokenizer for {a.model} ({err}); its files are copied as they are")
        tok = None
    pad_id = cfg["model"].get("pad_id")
    if pad_id is None:
        pad_id = (tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)) if tok is not None else 0
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=getattr(torch, a.dtype))
    no_dropout(model)  # before LoRA: its own lora_dropout stays as the bundle sets it
    param_mask = None
    if lora:
        model = apply_lora(model, lora)
    elif pm_file:
        param_mask = ParamMask(model, load_param_mask(os.path.join(HERE, pm_file)))  # its tensors, not the layer mask's
    elif cfg.get("layer_mask"):
        apply_layer_mask(model, load_layer_mask(os.path.join(HERE, cfg["layer_mask"])))
    names = trainable_names(model)
    initial = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad} if save == "changed" else {}
    if main_proc:
        print(f"trainable tensors: {len(names)} of {sum(1 for _ in model.parameters())}; processes: {world}")

    if not cfg.get("token_masks"):
        raise SystemExit("this bundle has no token_masks.jsonl: export it with token masks")
    rows = trainable_rows(load_rows(os.path.join(HERE, cfg["token_masks"])), hyper["max_tokens"])
    if not rows:
        raise SystemExit("token_masks.jsonl has no row with a trained token")
    held, train = split_eval(rows, hyper["eval_fraction"], hyper["seed"])
    if main_proc:
        print(f"rows: {len(train)} to train, {len(held)} held out (as in Winnow)")

    scale_by_accum = not use_ds
    if acc is not None and use_ds:
        optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], hyper)
        model, optimizer = acc.prepare(model, optimizer)  # DeepSpeed wants both at once
    elif acc is not None:
        model = acc.prepare(model)  # FSDP: wrap first, then the optimizer over the wrapped parameters
        optimizer = acc.prepare(make_optimizer([p for p in model.parameters() if p.requires_grad], hyper))
    else:
        model.to(device)
        inner = model
        if world > 1:
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], hyper)
    params = [p for p in model.parameters() if p.requires_grad]
    if acc is not None:
        backward, no_sync, clip = acc.backward, acc.no_sync, acc.clip_grad_norm_
    else:
        backward, no_sync, clip = None, (lambda m: m.no_sync()) if world > 1 else None, None
    model.train()

    for step in range(hyper["steps"]):
        lr = lr_at(hyper["schedule"], hyper["lr"], step, hyper["steps"], hyper["warmup_steps"])
        for g in optimizer.param_groups:
            g["lr"] = lr  # before the backward passes: DeepSpeed steps inside the last one
        parts = step_parts(train, hyper, step, rank, world, pad_id)
        loss = accumulate_gradients(model, parts, hyper.get("dft_weight", False), world, backward, no_sync, scale_by_accum, device)
        if use_ds:
            optimizer.step()  # a no-op: DeepSpeed clipped (gradient_clipping) and stepped at the accumulation boundary
            optimizer.zero_grad()
            norm = None
        else:
            norm = optimizer_step(optimizer, params, lr, hyper["clip_norm"], clip, param_mask, inner if acc is None else acc.unwrap_model(model))
        if main_proc:
            print(json.dumps({"step": step + 1, "loss": loss, "lr": lr, "grad_norm": norm}), flush=True)

    if acc is not None:
        acc.wait_for_everyone()
        state = acc.get_state_dict(model)
        inner = acc.unwrap_model(model)
    else:
        inner = model.module if world > 1 else model
        state = inner.state_dict()
    if main_proc:
        if save == "changed":
            # state_dict() names are the checkpoint's (tied heads appear twice; only trained tensors can differ)
            saved = save_changed(a.output_dir, {n: state[n] for n in initial if n in state}, initial, a.model,
                                 {"trainedBy": "train_hf.py", "steps": hyper["steps"]})
            print(f"saved {len(saved)} changed tensor(s) and {DELTA_FILE} to {a.output_dir}")
        elif save == "full" and lora:
            inner.merge_and_unload().save_pretrained(a.output_dir, safe_serialization=True)
            save_tokenizer(tok, a.model, a.output_dir)
            print(f"saved the model with the LoRA update merged to {a.output_dir}")
        else:
            inner.save_pretrained(a.output_dir, state_dict=state, safe_serialization=True)
            save_tokenizer(tok, a.model, a.output_dir)
            print(f"saved the {'PEFT adapter' if save == 'adapter' else 'model'} to {a.output_dir}")
    if acc is None and world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
`;
