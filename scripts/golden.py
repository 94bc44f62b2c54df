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


@group
def conv():
    """Conv2d, pooling and GroupNorm on odd sizes, strides, padding."""
    torch.manual_seed(2)
    cases = []
    for n, c, h, w, o, k, stride, pad, bias in [
        (2, 3, 7, 5, 4, 3, 2, 1, True),    # odd sizes, stride 2, padding
        (2, 1, 7, 6, 4, 5, 1, 2, True),    # LeNet's first layer, smaller
        (3, 2, 6, 6, 3, 3, 1, 0, False),   # no padding, no bias
        (2, 3, 7, 7, 5, 1, 2, 0, False),   # a ResNet projection shortcut
        (1, 2, 4, 3, 2, 3, 3, 2, True),    # padding wider than the stride
    ]:
        m = tnn.Conv2d(c, o, k, stride=stride, padding=pad, bias=bias)
        cfg = {"kind": "conv", "c": c, "h": h, "w": w, "out": o, "kernel": k, "stride": stride, "pad": pad, "bias": bias}
        cases.append(case(f"conv_{c}x{h}x{w}_to{o}_k{k}s{stride}p{pad}", m, torch.randn(n, c, h, w), cfg))
    for kind, mod, n, c, h, w, k, stride in [
        ("maxpool", tnn.MaxPool2d, 2, 3, 7, 7, 2, 2),   # odd size: the last row and column drop
        ("maxpool", tnn.MaxPool2d, 2, 2, 9, 8, 3, 2),   # overlapping windows
        ("avgpool", tnn.AvgPool2d, 2, 3, 7, 6, 2, 2),
        ("avgpool", tnn.AvgPool2d, 2, 2, 5, 5, 3, 1),   # overlapping windows
    ]:
        cfg = {"kind": kind, "c": c, "h": h, "w": w, "kernel": k, "stride": stride}
        cases.append(case(f"{kind}_{c}x{h}x{w}_k{k}s{stride}", mod(k, stride), torch.randn(n, c, h, w), cfg))
    cases.append(case("global_avgpool_4x5x3", tnn.AdaptiveAvgPool2d(1), torch.randn(3, 4, 5, 3),
                      {"kind": "global_avgpool", "c": 4, "h": 5, "w": 3}))
    for n, c, h, w, groups in [(2, 6, 5, 4, 3), (2, 4, 3, 3, 1), (3, 5, 2, 3, 5)]:
        m = tnn.GroupNorm(groups, c)
        cfg = {"kind": "groupnorm", "c": c, "h": h, "w": w, "groups": groups}
        # Off-centre inputs: the mean must come out, not be assumed zero.
        cases.append(case(f"groupnorm_{c}x{h}x{w}_g{groups}", m, 2 * torch.randn(n, c, h, w) + 0.5, cfg))
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
