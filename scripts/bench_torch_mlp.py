#!/usr/bin/env python3
"""Time one MLP training step in PyTorch on the CPU, for internal/cpubench.

The step is the one gradmesh's Model.LossGrad computes: the forward pass of
torch.nn.Linear and ReLU modules with gradmesh's layer sizes, the mean
softmax cross-entropy, and the backward pass to every parameter's gradient
(no optimizer step). Specs are gradmesh's: "softmax" (one Linear layer) or
"mlp:H1[,H2...]" (ReLU hidden layers), on flattened samples.

Timing, as internal/cpubench times gradmesh: warm up for a tenth of
--seconds, then run whole steps in chunks of a tenth of --seconds each until
--seconds have passed, and keep the best chunk. The last line printed is a
JSON object with "ms_per_step". Run it under /usr/bin/python3 (Debian's
python3-torch); internal/cpubench sets OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS to --threads, as torch.set_num_threads alone leaves
OpenBLAS's own pool at every core.

    /usr/bin/python3 scripts/bench_torch_mlp.py --model mlp:256,128 --shape 1x28x28 \\
        --classes 10 --batch 64 --threads 1 --seconds 2
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


def build(spec, inputs, classes):
    """The torch.nn modules of a gradmesh softmax or mlp spec."""
    if spec == "softmax":
        hidden = []
    elif spec.startswith("mlp:"):
        hidden = [int(h) for h in spec[len("mlp:"):].split(",")]
    else:
        raise SystemExit(f"bench_torch_mlp.py: {spec!r} is not softmax or mlp:H1[,H2...]")
    layers, width = [nn.Flatten()], inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def best_seconds_per_call(fn, seconds):
    """internal/cpubench's timeCalls: warm up, then the best chunk's time per call."""
    chunk = seconds / 10
    start = time.perf_counter()
    while time.perf_counter() - start < chunk:
        fn()
    best, end = math.inf, time.perf_counter() + seconds
    while time.perf_counter() < end:
        calls, start = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - start < chunk:
            fn()
            calls += 1
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--shape", default="1x28x28", help="sample shape, e.g. 1x28x28 or 784")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    shape = [int(d) for d in args.shape.split("x")]
    model = build(args.model, math.prod(shape), args.classes)
    x = torch.randn(args.batch, *shape)
    y = torch.randint(0, args.classes, (args.batch,))

    def step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    per = best_seconds_per_call(step, args.seconds)
    print(json.dumps({"model": args.model, "batch": args.batch, "threads": args.threads,
                      "torch": torch.__version__, "ms_per_step": per * 1e3}))


if __name__ == "__main__":
    main()
