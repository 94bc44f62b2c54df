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
        path = f"{OUT}/{name}.json"
        with open(path, "w") as f:
            json.dump(cases, f)
        print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main(sys.argv[1:])
