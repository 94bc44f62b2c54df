#!/usr/bin/python3
"""Time one training step of a gradmesh model in PyTorch on the CPU, for
internal/cpubench.

The step is the one gradmesh's Model.LossGrad computes: the forward pass,
the mean softmax cross-entropy (over every position, for a language model)
and the backward pass to every parameter's gradient (no optimizer step).
PyTorch runs real torch.nn modules of the same sizes, so it computes with
its own CPU kernels (oneDNN convolutions where it has them):

  softmax, mlp:H1[,H2...]   nn.Linear and nn.ReLU on flattened samples
  lenet5, resnet:D[,W[,G]]  scripts/golden.py's LeNet5 and ResNet (nn.Conv2d,
                            nn.GroupNorm, nn.Linear), the modules gradmesh's
                            models are checked against
  gpt:L,W,H                 scripts/golden.py's GPT (nn.Embedding,
                            nn.LayerNorm, nn.Linear, nn.GELU); --shape is
                            the window, context+1 tokens, --classes the
                            vocabulary

Timing, as internal/cpubench times gradmesh: warm up for a tenth of
--seconds, then run whole steps in chunks of a tenth of --seconds each until
--seconds have passed, and keep the best chunk. The last line printed is a
JSON object with "ms_per_step". Run it under /usr/bin/python3 (Debian's
python3-torch); internal/cpubench sets OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS to --threads, as torch.set_num_threads alone leaves
OpenBLAS's own pool at every core.

    /usr/bin/python3 scripts/bench_torch_step.py --model mlp:256,128 --shape 1x28x28 \\
        --classes 10 --batch 64 --threads 1 --seconds 2
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import GPT, LeNet5, ResNet  # noqa: E402  (the modules gradmesh is checked against)


def build(spec, shape, classes):
    """The torch.nn module of a gradmesh model spec on samples of shape."""
    name, _, arg = spec.partition(":")
    if name == "lenet5":
        return LeNet5(*shape, classes)
    if name == "resnet":
        # training.ResNet's defaults: width 16, two groups per norm.
        depth, width, groups = ([int(f) for f in arg.split(",")] + [16, 2][arg.count(","):])[:3]
        return ResNet(shape[0], depth, width, groups, classes)
    if name == "gpt":
        layers, width, heads = (int(f) for f in arg.split(","))
        return GPT(layers, width, heads, shape[0] - 1, classes, loss=True)
    if spec == "softmax":
        hidden = []
    elif name == "mlp":
        hidden = [int(h) for h in arg.split(",")]
    else:
        raise SystemExit(f"bench_torch_step.py: no PyTorch twin for model {spec!r}")
    layers, width = [nn.Flatten()], math.prod(shape)
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
    model = build(args.model, shape, args.classes)
    x = torch.randn(args.batch, *shape)
    y = torch.randint(0, args.classes, (args.batch,))
    if args.model.startswith("gpt:"):
        # Windows of token ids; the module computes its own loss.
        x = torch.randint(0, args.classes, (args.batch, *shape)).float()

    def step():
        model.zero_grad(set_to_none=True)
        loss = model(x) if args.model.startswith("gpt:") else F.cross_entropy(model(x), y)
        loss.backward()

    per = best_seconds_per_call(step, args.seconds)
    print(json.dumps({"model": args.model, "batch": args.batch, "threads": args.threads,
                      "torch": torch.__version__, "ms_per_step": per * 1e3}))


if __name__ == "__main__":
    main()
