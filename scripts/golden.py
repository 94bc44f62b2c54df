#!/usr/bin/python3
"""Golden values for gradmesh's layers, computed by PyTorch.

For each case: build the torch.nn module the Go layer mirrors, draw its
parameters, a batch of inputs and an upstream gradient from a fixed seed, and
record the output and the gradients autograd gives. The Go tests
(nn/*_test.go) read nn/testdata/golden/GROUP.json, so they need no PyTorch.

Needs Debian's python3-torch:  apt-get install python3-torch
Run from the repository root:  /usr/bin/python3 scripts/golden.py [GROUP...]
"""
import json
import zlib
import sys

import torch
import torch.nn as tnn

OUT = "nn/testdata/golden"
GROUPS = {}


def group(fn):
    """Registers a function that returns a list of cases for GROUP.json."""
    GROUPS[fn.__name__] = fn
    return fn


def flat(ts):
    return [float(v) for t in ts for v in t.detach().reshape(-1).tolist()]


def case(name, module, x, config, differentiable=True):
    """Runs module on x and records everything the Go test compares."""
    torch.manual_seed(zlib.crc32(name.encode()))
    with torch.no_grad():
        for p in module.parameters():
            # Off the initial values, so zero biases and unit gains are tested too.
            p.add_(0.1 * torch.randn_like(p))
    x = x.clone().requires_grad_(differentiable)
    y = module(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    named = list(module.named_parameters())
    return {
        "name": name,
        "config": config,
        "n": x.shape[0],
        "names": [n for n, _ in named],
        "shapes": [list(p.shape) for _, p in named],
        "params": flat(p for _, p in named),
        "x": flat([x]),
        "y": flat([y]),
        "dy": flat([dy]),
        "dx": flat([x.grad]) if differentiable else [],
        "grads": flat(p.grad for _, p in named),
    }


@group
def linear():
    torch.manual_seed(1)
    cases = []
    for n, pos, i, o in [(3, 1, 5, 4), (2, 7, 6, 9)]:
        m = tnn.Linear(i, o)
        cases.append(case(f"linear_{n}x{pos}_{i}to{o}", m, torch.randn(n, pos, i),
                          {"in": i, "out": o, "positions": pos}))
    block = tnn.Sequential(tnn.Linear(6, 6), tnn.ReLU(), tnn.Linear(6, 6))

    class Res(tnn.Module):
        def __init__(self):
            super().__init__()
            self.body = block

        def forward(self, x):
            return x + self.body(x)

    cases.append(case("residual_linear_relu_linear", Res(), torch.randn(4, 6), {"width": 6}))
    return cases


def main(names):
    torch.set_num_threads(1)
    for name in names or GROUPS:
        cases = GROUPS[name]()
        path = f"{OUT}/{name}.json"
        with open(path, "w") as f:
            json.dump(cases, f)
        print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main(sys.argv[1:])
