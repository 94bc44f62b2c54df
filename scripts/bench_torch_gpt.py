#!/usr/bin/python3
"""Time a character-level GPT's training step in PyTorch on the CPU and in
gradmesh, side by side, and print the ratio.

The step is what a gradmesh peer computes each round (Network.LossGrad):
forward pass over a batch of windows, mean next-token cross-entropy over every
position, and the gradient of every parameter. PyTorch runs the same GPT as
scripts/golden.py's (real nn.Embedding, nn.LayerNorm, nn.Linear and nn.GELU
modules, nanoGPT's layout) under torch.set_num_threads(1) and (2); gradmesh
runs BenchmarkGPTTrainStep (training/transformer_bench_test.go, the same
sizes) under -cpu 1 and 2 (GOMAXPROCS). The machine may be shared, so the two
alternate: each row times gradmesh, then PyTorch, --repeat times, and reports
the median of each and their ratio.

Needs Debian's python3-torch. From the repository root:

    /usr/bin/python3 scripts/bench_torch_gpt.py [--seconds 2] [--repeat 3] [--no-go]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import GPT  # noqa: E402  (the module the golden values come from)

# (layers, width, heads, context, vocab, batch): gptBenchCases.
CASES = [
    (2, 64, 4, 64, 96, 16),
    (4, 128, 4, 64, 96, 16),
]


def case_name(layers, width, heads, context, batch):
    return f"gpt:{layers},{width},{heads}-ctx{context}-batch{batch}"


def torch_step_seconds(layers, width, heads, context, vocab, batch, seconds):
    """Seconds per training step, after a warm-up, over at least `seconds`."""
    gen = torch.Generator().manual_seed(1)
    model = GPT(layers, width, heads, context, vocab, loss=True)
    windows = torch.randint(0, vocab, (batch, context + 1), generator=gen).float()

    def step():
        model.zero_grad(set_to_none=True)
        model(windows).backward()

    for _ in range(3):
        step()
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= 3:
            return elapsed / steps


def go_step_seconds(name, threads, seconds):
    """Seconds per step of one case of BenchmarkGPTTrainStep."""
    pattern = "^BenchmarkGPTTrainStep$/^" + re.escape(name) + "$"
    out = subprocess.run(
        ["go", "test", "./training/", "-run", "^$", "-bench", pattern,
         "-benchtime", f"{seconds}s", "-cpu", str(threads), "-count", "1"],
        check=True, capture_output=True, text=True).stdout
    m = re.search(r"^BenchmarkGPTTrainStep/\S+\s+\d+\s+([\d.]+) ns/op", out, re.M)
    if not m:
        sys.exit(f"no timing for {name} in go test's output:\n{out}")
    return float(m.group(1)) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed run per measurement (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating measurements per row (default 3)")
    parser.add_argument("--no-go", action="store_true", help="time PyTorch only")
    args = parser.parse_args()
    print(f"# PyTorch {torch.__version__} on the CPU; gradmesh with its default BLAS; medians of {args.repeat}")
    print(f"{'model':<28} {'threads':>7} {'torch ms':>9} {'torch tok/s':>12} "
          f"{'gradmesh ms':>12} {'gradmesh tok/s':>15} {'gradmesh/torch':>15}")
    for layers, width, heads, context, vocab, batch in CASES:
        name = case_name(layers, width, heads, context, batch)
        tokens = batch * context
        for threads in (1, 2):
            torch.set_num_threads(threads)
            tt, gt = [], []
            for _ in range(args.repeat):
                if not args.no_go:
                    gt.append(go_step_seconds(name, threads, args.seconds))
                tt.append(torch_step_seconds(layers, width, heads, context, vocab, batch, args.seconds))
            t = statistics.median(tt)
            row = f"{name:<28} {threads:>7} {t * 1e3:>9.2f} {tokens / t:>12.0f}"
            if gt:
                g = statistics.median(gt)
                row += f" {g * 1e3:>12.2f} {tokens / g:>15.0f} {t / g:>14.2f}x"
            print(row, flush=True)


if __name__ == "__main__":
    main()
