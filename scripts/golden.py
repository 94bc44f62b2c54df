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
import math
import sys
import zlib

import torch
import torch.nn as tnn
import torch.nn.functional as F

OUT = "nn/testdata/golden"
GROUPS = {}
# Groups whose file lives elsewhere than OUT (model-level cases, read by the
# training package's tests).
PATHS = {"models": "training/testdata/golden/models.json"}


def group(fn):
    """Registers a function that returns a list of cases for GROUP.json."""
    GROUPS[fn.__name__] = fn
    return fn


def flat(ts):
    # Nine significant digits name a float32 exactly, at half the characters
    # of a float64's shortest repr: the committed files stay small.
    return [float(f"{v:.9g}") for t in ts for v in t.detach().reshape(-1).tolist()]


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


class LeNet5(tnn.Module):
    """training.LeNet5: the classic LeNet-5 with ReLU and max pooling."""

    def __init__(self, c, h, w, classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(c, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(16 * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2), 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc3(F.relu(self.fc2(x)))


class BasicBlock(tnn.Module):
    def __init__(self, cin, width, stride, groups):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, width, 3, stride=stride, padding=1, bias=False)
        self.gn1 = tnn.GroupNorm(groups, width)
        self.conv2 = tnn.Conv2d(width, width, 3, padding=1, bias=False)
        self.gn2 = tnn.GroupNorm(groups, width)
        self.shortcut = tnn.Sequential()
        if stride != 1 or cin != width:
            self.shortcut = tnn.Sequential(tnn.Conv2d(cin, width, 1, stride=stride, bias=False),
                                           tnn.GroupNorm(groups, width))

    def forward(self, x):
        out = F.relu(self.gn1(self.conv1(x)))
        return F.relu(self.gn2(self.conv2(out)) + self.shortcut(x))


class ResNet(tnn.Module):
    """training.ResNet: ResNet-20 style, GroupNorm, depth 6n+2."""

    def __init__(self, c, depth, width, groups, classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(c, width, 3, padding=1, bias=False)
        self.gn1 = tnn.GroupNorm(groups, width)
        blocks, cin = (depth - 2) // 6, width
        for stage in range(3):
            layers = []
            for i in range(blocks):
                layers.append(BasicBlock(cin, width << stage, 2 if stage > 0 and i == 0 else 1, groups))
                cin = width << stage
            setattr(self, f"layer{stage + 1}", tnn.Sequential(*layers))
        self.fc = tnn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.gn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def formula_params(module):
    """Parameters the Go test writes too (training/cnn_test.go): tensor t,
    value i is 0.5·sin(0.7·i + 0.3·t + 0.1)/√fan_in, fan_in the product of
    the dimensions after the first (1 for vectors), rounded to float32."""
    with torch.no_grad():
        for t, p in enumerate(module.parameters()):
            fan = math.prod(p.shape[1:]) if p.dim() > 1 else 1
            i = torch.arange(p.numel(), dtype=torch.float64)
            p.copy_((0.5 * torch.sin(0.7 * i + 0.3 * t + 0.1) / math.sqrt(fan)).reshape(p.shape).float())


def formula_batch(n, shape, classes):
    """Inputs x_j = sin(1.7·j) + 0.5·cos(0.23·j) and labels (3s+1) mod classes."""
    j = torch.arange(n * math.prod(shape), dtype=torch.float64)
    x = (torch.sin(1.7 * j) + 0.5 * torch.cos(0.23 * j)).float().reshape(n, *shape)
    y = torch.tensor([(3 * s + 1) % classes for s in range(n)])
    return x, y


def model_case(name, spec, module, shape, classes, n):
    """The mean cross-entropy of a whole model and its gradient, as
    training.Network.LossGrad computes them."""
    formula_params(module)
    x, y = formula_batch(n, shape, classes)
    loss = F.cross_entropy(module(x), y)
    loss.backward()
    named = list(module.named_parameters())
    return {
        "name": name, "spec": spec, "shape": list(shape), "classes": classes, "n": n,
        "loss": loss.item(),
        "names": [k for k, _ in named],
        "shapes": [list(p.shape) for _, p in named],
        # Seven significant digits: rounding them costs far less than the
        # 1e-4 the test allows, and the file stays small.
        "grads": [float(f"{v:.7g}") for _, p in named for v in p.grad.reshape(-1).tolist()],
    }


@group
def models():
    """Whole models, for training's tests: LeNet-5 on a small odd-sized
    image (the pools round down) and a tiny ResNet with projections."""
    torch.manual_seed(3)
    return [
        model_case("lenet5_1x14x13", "lenet5", LeNet5(1, 14, 13, 3), (1, 14, 13), 3, 4),
        model_case("resnet8_w4_g2_2x9x7", "resnet:8,4,2", ResNet(2, 8, 4, 2, 3), (2, 9, 7), 3, 3),
    ]


def token_windows(n, context, vocab):
    """n windows of context+1 token ids, as float32 values (the Go layout)."""
    return torch.randint(0, vocab, (n, context + 1)).float()


class Embeddings(tnn.Module):
    """GPT's input: token embedding wte plus learned position embedding wpe.
    Reads the first `context` ids of each window of context+1."""

    def __init__(self, vocab, dim, context):
        super().__init__()
        self.context = context
        self.wte = tnn.Embedding(vocab, dim)
        self.wpe = tnn.Embedding(context, dim)

    def forward(self, windows):
        ids = windows[:, :self.context].long()
        return self.wte(ids) + self.wpe(torch.arange(self.context))


class CausalSelfAttention(tnn.Module):
    """Multi-head self-attention with a causal mask, nanoGPT's layout: a
    fused query/key/value projection c_attn and an output projection c_proj."""

    def __init__(self, dim, heads, context):
        super().__init__()
        self.heads = heads
        self.c_attn = tnn.Linear(dim, 3 * dim)
        self.c_proj = tnn.Linear(dim, dim)
        self.register_buffer("mask", torch.tril(torch.ones(context, context, dtype=torch.bool)))

    def forward(self, x):
        n, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(n, t, self.heads, hd).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / hd ** 0.5
        scores = scores.masked_fill(~self.mask[:t, :t], float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(n, t, d))


class MLP(tnn.Module):
    def __init__(self, dim):
        super().__init__()
        self.c_fc = tnn.Linear(dim, 4 * dim)
        self.gelu = tnn.GELU(approximate="tanh")
        self.c_proj = tnn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(tnn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, dim, heads, context):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, context)
        self.ln_2 = tnn.LayerNorm(dim)
        self.mlp = MLP(dim)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(tnn.Module):
    """A character-level GPT with nanoGPT's parameter names; lm_head is
    untied from wte and has no bias. With loss set, forward returns the mean
    next-token cross-entropy over every position of every window."""

    def __init__(self, layers, dim, heads, context, vocab, loss=False):
        super().__init__()
        self.loss = loss
        self.transformer = tnn.ModuleDict(dict(
            wte=tnn.Embedding(vocab, dim),
            wpe=tnn.Embedding(context, dim),
            h=tnn.ModuleList(Block(dim, heads, context) for _ in range(layers)),
            ln_f=tnn.LayerNorm(dim),
        ))
        self.lm_head = tnn.Linear(dim, vocab, bias=False)
        self.context = context

    def forward(self, windows):
        ids = windows[:, :self.context].long()
        tr = self.transformer
        x = tr.wte(ids) + tr.wpe(torch.arange(self.context))
        for block in tr.h:
            x = block(x)
        logits = self.lm_head(tr.ln_f(x))
        if not self.loss:
            return logits
        targets = windows[:, 1:].long()
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@group
def gpt():
    torch.manual_seed(17)
    n, t, v = 3, 5, 7
    cases = [
        case("embedding_v7_d4_t5", Embeddings(v, 4, t), token_windows(n, t, v),
             {"vocab": v, "dim": 4, "context": t}, differentiable=False),
        case("layernorm_6x4", tnn.LayerNorm(6), torch.randn(n, 4, 6), {"dim": 6, "positions": 4}),
        case("gelu_tanh_10", tnn.GELU(approximate="tanh"), 2 * torch.randn(n, 10), {"size": 10}),
        case("attention_d8_h2_t5", CausalSelfAttention(8, 2, t), torch.randn(2, t, 8),
             {"dim": 8, "heads": 2, "context": t}),
        case("attention_d6_h3_t4", CausalSelfAttention(6, 3, 4), torch.randn(3, 4, 6),
             {"dim": 6, "heads": 3, "context": 4}),
        # Past 32 positions the Go layer runs its products by blocks of rows.
        case("attention_d4_h2_t40", CausalSelfAttention(4, 2, 40), torch.randn(2, 40, 4),
             {"dim": 4, "heads": 2, "context": 40}),
    ]
    cfg = {"layers": 2, "width": 8, "heads": 2, "context": t, "vocab": v}
    windows = token_windows(4, t, v)
    cases.append(case("gpt_2x8x2_loss", GPT(2, 8, 2, t, v, loss=True), windows, cfg, differentiable=False))
    return cases


def main(names):
    torch.set_num_threads(1)
    for name in names or GROUPS:
        cases = GROUPS[name]()
        path = PATHS.get(name, f"{OUT}/{name}.json")
        with open(path, "w") as f:
            json.dump(cases, f)
        print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main(sys.argv[1:])
