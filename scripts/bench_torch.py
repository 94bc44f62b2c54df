#!/usr/bin/env python3
"""Time gradmesh's train step in PyTorch, to compare with BenchmarkTrainStep.

The step is the one a gradmesh peer runs each round: the MLP's forward pass,
mean softmax cross-entropy, and the gradient of every parameter, with the
parameters held in gradmesh's flat layout (per layer the in x out row-major
weights, then the biases). Two variants:

  torch       everything stays on the GPU: the best case for the library;
  torch+copy  what a gradmesh peer does: upload the parameters (mixed on the
              CPU each round) and the batch from pageable host memory,
              download the gradient and the loss.

FLOPs per sample follow Model.TrainFLOPs: forward 2*in*out per layer, the
same again for weight gradients, and again for input gradients past the
first layer. Matrix products run in full FP32 (TF32 off), as in gradmesh.
Each timing warms up, then runs until --seconds have passed, synchronising
the device before reading the clock.

    python3 scripts/bench_torch.py [--device cuda] [--seconds 2]
"""

import argparse
import math
import time

import torch
import torch.nn.functional as F

MODELS = {
    "784-256-128-10": [784, 256, 128, 10],
    "784-1024-1024-10": [784, 1024, 1024, 10],
}
BATCHES = [64, 512]
HEADER = f"{'backend':<12} {'model':<18} {'batch':>6} {'ms/step':>10} {'samples/s':>12} {'GFLOP/s':>10}"


def train_flops(sizes):
    """Model.TrainFLOPs: floating-point work of one train step per sample."""
    flops = 0
    for layer in range(1, len(sizes)):
        mac = sizes[layer - 1] * sizes[layer]
        flops += 4 * mac
        if layer > 1:
            flops += 2 * mac
    return flops


def init_params(sizes, generator):
    """gradmesh's MLP.Init: He-uniform hidden layers, Glorot-uniform output, zero biases."""
    parts = []
    for layer in range(1, len(sizes)):
        fan_in, fan_out = sizes[layer - 1], sizes[layer]
        bound = math.sqrt(6 / fan_in) if layer < len(sizes) - 1 else math.sqrt(6 / (fan_in + fan_out))
        parts.append((torch.rand(fan_in * fan_out, generator=generator) * 2 - 1) * bound)
        parts.append(torch.zeros(fan_out))
    return torch.cat(parts)


def forward(flat, sizes, x):
    """The MLP over a flat parameter vector in gradmesh's layout."""
    off, h = 0, x
    for layer in range(1, len(sizes)):
        fan_in, fan_out = sizes[layer - 1], sizes[layer]
        weights = flat[off:off + fan_in * fan_out].view(fan_in, fan_out)
        off += fan_in * fan_out
        bias = flat[off:off + fan_out]
        off += fan_out
        h = torch.addmm(bias, h, weights)
        if layer < len(sizes) - 1:
            h = torch.relu(h)
    return h


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device, seconds, warmup=10):
    """Seconds per step: warm up, then run whole steps for at least `seconds`."""
    for _ in range(warmup):
        step()
    sync(device)
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        if steps % 10 == 0:
            sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return elapsed / steps


def bench(name, sizes, batch, device, seconds, copy):
    gen = torch.Generator().manual_seed(1)
    host_params = init_params(sizes, gen)
    host_x = torch.randn(batch, sizes[0], generator=gen)
    host_y = torch.randint(0, sizes[-1], (batch,), generator=gen)
    host_grad = torch.empty_like(host_params)
    flat = host_params.to(device).requires_grad_(True)
    x, y = host_x.to(device), host_y.to(device)

    def resident():
        flat.grad = None
        F.cross_entropy(forward(flat, sizes, x), y).backward()

    def with_copies():
        with torch.no_grad():
            flat.copy_(host_params)
            x.copy_(host_x)
            y.copy_(host_y)
        flat.grad = None
        loss = F.cross_entropy(forward(flat, sizes, x), y)
        loss.backward()
        host_grad.copy_(flat.grad)
        loss.item()

    per_step = time_steps(with_copies if copy else resident, device, seconds)
    backend = "torch+copy" if copy else "torch"
    if device.type == "cpu":
        backend += "-cpu"
    samples = batch / per_step
    print(f"{backend:<12} {name:<18} {batch:>6} {per_step * 1e3:>10.3f} {samples:>12.0f} {samples * train_flops(sizes) / 1e9:>10.1f}",
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed run per row (default 2)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# PyTorch {torch.__version__} on {name}")
    print(HEADER)
    for copy in (False, True):
        for model, sizes in MODELS.items():
            for batch in BATCHES:
                bench(model, sizes, batch, device, args.seconds, copy)


if __name__ == "__main__":
    main()
