"""
PyTorch side of `npm run bench` (bench/models.ts): the same forward and training step as Winnow, with the plain-torch
reference models of test/parity/reference/ref_models.py over the same safetensors.
Usage: /usr/bin/python3 bench/reference/models_ref.py '<json spec>'  → prints one JSON object.
spec: {"folder", "batch", "seq", "reps", "threads": [1, 2], "ids": [[...]] }
"""
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "parity", "reference"))

import torch  # noqa: E402
from ref_models import forward, load_folder, token_losses  # noqa: E402


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def timed(fn, reps):
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return median(out)


def main():
    spec = json.loads(sys.argv[1])
    cfg, w = load_folder(spec["folder"])
    ids = torch.tensor(spec["ids"], dtype=torch.int64)
    B, T = ids.shape
    reps = spec.get("reps", 3)
    result = {"torch": torch.__version__, "by_threads": {}}
    for threads in spec.get("threads", [1, 2]):
        torch.set_num_threads(threads)

        def fwd():
            with torch.no_grad():
                forward(cfg, w, ids)

        params = {k: v.clone().requires_grad_(True) for k, v in w.items()}
        opt = torch.optim.AdamW(list(params.values()), lr=1e-5, weight_decay=0.0)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = token_losses(forward(cfg, params, ids), ids).mean()
            loss.backward()
            opt.step()

        r = {"forward_s": timed(fwd, reps)}
        if spec.get("train", True):
            r["train_s"] = timed(step, max(1, reps - 1))
        result["by_threads"][str(threads)] = r
        del params, opt
    best = min(result["by_threads"].items(), key=lambda kv: kv[1].get("train_s", 0) + kv[1]["forward_s"])
    result["threads"] = int(best[0])
    result.update(best[1])
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
