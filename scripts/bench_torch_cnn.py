#!/usr/bin/python3
"""Time PyTorch's CPU training step of gradmesh's convolutional models.

The step is what BenchmarkCNNTrainStep (training/bench_test.go) times: the
forward pass of a batch of 1x28x28 images, the mean cross-entropy, and the
backward pass into every parameter's gradient, after zero_grad; no
optimizer. The modules are the ones scripts/golden.py checks gradmesh's
models against (LeNet5, ResNet): real nn.Conv2d, nn.GroupNorm and
nn.Linear modules, so PyTorch computes with its own CPU kernels (oneDNN
where it has them).

It prints one line: model, batch, threads and the best of --repeats mean
step times in milliseconds (the best, because other processes on a shared
machine only ever make a step slower). scripts/bench_cnn.sh runs it beside
the Go benchmark and prints the ratio.

    /usr/bin/python3 scripts/bench_torch_cnn.py --model lenet5 --batch 64 --threads 1
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import LeNet5, ResNet  # noqa: E402  (the modules gradmesh is checked against)


def build(spec, classes=10):
    """A gradmesh model spec (lenet5, resnet:DEPTH[,WIDTH[,GROUPS]]) as a module on 1x28x28."""
    name, _, arg = spec.partition(":")
    if name == "lenet5":
        return LeNet5(1, 28, 28, classes)
    if name == "resnet":
        # The defaults of training.ResNet: width 16, two groups per norm.
        depth, width, groups = ([int(f) for f in arg.split(",")] + [16, 2][arg.count(","):])[:3]
        return ResNet(1, depth, width, groups, classes)
    raise SystemExit(f"unknown model {spec!r}: want lenet5 or resnet:DEPTH[,WIDTH[,GROUPS]]")


def step_time(model, x, y, seconds):
    """Mean seconds per step over a run of at least `seconds`."""
    steps, start = 0, time.perf_counter()
    while True:
        model.zero_grad(set_to_none=False)
        F.cross_entropy(model(x), y).backward()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lenet5", help="lenet5 or resnet:DEPTH[,WIDTH[,GROUPS]] (default lenet5)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed run per repeat (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = build(args.model)
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    step_time(model, x, y, 0.2)  # warm up: allocations, oneDNN's kernel choice
    best = min(step_time(model, x, y, args.seconds) for _ in range(args.repeats))
    print(f"{args.model} {args.batch} {args.threads} {best * 1e3:.3f}")


if __name__ == "__main__":
    main()
