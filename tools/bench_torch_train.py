#!/usr/bin/python3
"""bench_torch_train: PyTorch's training and inference speed on the zoo models, the yardstick for `digitlab bench train`.

Same protocol as the C# command: per model, 20 warm-up training steps then 300 timed ones (batch 64,
Adam 1e-3, MNIST in memory, shuffled, normalised 0.1307/0.3081), train samples/s over the timed steps;
inference images/s as the fastest of 5 passes over one batch of 1000 images in eval mode under
torch.no_grad(); single-image latency as the median of 200 calls after 20 warm-up calls.

Usage: /usr/bin/python3 tools/bench_torch_train.py [--models mlp,cnn,lenet5,net3,resnet18] [--steps 300]
       [--threads 2] [--repeat 1] [--json] [--data-dir ~/.digitlab/data]

Debian's torch runs convolutions on oneDNN (OpenMP) and matrix products on OpenBLAS (pthreads), and
OpenBLAS ignores torch.set_num_threads: the thread count is put into OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS before torch is imported, and torch.set_num_threads as well. oneDNN is 2-4x slower
on its first steps (it picks and JIT-compiles kernels), which the warm-up absorbs.
"""
import argparse
import json
import os
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mlp,cnn,lenet5,net3,resnet18")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--inference-batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="time the training steps this many times, report the fastest")
    p.add_argument("--data-dir", default=os.environ.get("DIGITLAB_DATA", os.path.expanduser("~/.digitlab/data")))
    p.add_argument("--json", action="store_true")
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402  (after the thread variables)
import torch.nn as nn  # noqa: E402


def load_images(data_dir):
    """MNIST train images (uint8, N×28×28) and labels from the IDX files, or random ones when absent."""
    images_path = os.path.join(data_dir, "mnist", "train-images-idx3-ubyte")
    labels_path = os.path.join(data_dir, "mnist", "train-labels-idx1-ubyte")
    if os.path.exists(images_path) and os.path.exists(labels_path):
        with open(images_path, "rb") as f:
            images = torch.frombuffer(bytearray(f.read()[16:]), dtype=torch.uint8).view(-1, 28, 28)
        with open(labels_path, "rb") as f:
            labels = torch.frombuffer(bytearray(f.read()[8:]), dtype=torch.uint8).long()
        return images, labels, f"MNIST train ({len(labels):,} images)"
    g = torch.Generator().manual_seed(7)
    images = (torch.rand(10000, 28, 28, generator=g) * 255).to(torch.uint8)
    images[torch.rand(10000, 28, 28, generator=g) < 0.8] = 0
    return images, torch.arange(10000) % 10, "random images (MNIST not found)"


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402  (the zoo's architectures, shared with train_torch.py)


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def measure(name, images, labels):
    torch.manual_seed(1)
    model = build(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x_all = ((images.float() / 255.0 - 0.1307) / 0.3081).unsqueeze(1)  # (N, 1, 28, 28), in memory
    n, batch = len(labels), ARGS.batch_size
    order, position = torch.randperm(n), 0

    def step():
        nonlocal order, position
        if position + batch > n:
            order, position = torch.randperm(n), 0
        idx = order[position:position + batch]
        position += batch
        x, y = x_all[idx], labels[idx]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    model.train()
    for _ in range(ARGS.warmup):
        step()
    best = float("inf")
    for _ in range(ARGS.repeat):
        start = time.perf_counter()
        for _ in range(ARGS.steps):
            step()
        best = min(best, time.perf_counter() - start)
    train_rate = ARGS.steps * batch / best

    model.eval()
    with torch.no_grad():
        xb = x_all[:ARGS.inference_batch].contiguous()
        model(xb)
        fastest = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            model(xb)
            fastest = min(fastest, time.perf_counter() - start)
        one = x_all[:1].contiguous()
        for _ in range(20):
            model(one)
        latencies = []
        for _ in range(200):
            start = time.perf_counter()
            model(one)
            latencies.append((time.perf_counter() - start) * 1e3)
    return {
        "model": name, "parameters": sum(p.numel() for p in model.parameters()), "threads": ARGS.threads,
        "batch": batch, "steps": ARGS.steps, "trainSamplesPerSecond": train_rate,
        "inferenceImagesPerSecond": len(xb) / fastest, "latencyP50Ms": statistics.median(latencies),
        "loadAverage": load_average(),
    }


def main():
    torch.set_num_threads(ARGS.threads)
    images, labels, note = load_images(ARGS.data_dir)
    log = sys.stderr if ARGS.json else sys.stdout
    print(f"PyTorch {torch.__version__} training benchmark: {os.cpu_count()} cores, {ARGS.threads} threads, batch {ARGS.batch_size}, "
          f"{ARGS.warmup} warm-up + {ARGS.steps} timed steps{f' (fastest of {ARGS.repeat})' if ARGS.repeat > 1 else ''}, Adam; "
          f"data: {note}; load average {load_average():.2f}", file=log, flush=True)
    results = []
    for name in [m.strip() for m in ARGS.models.split(",") if m.strip()]:
        r = measure(name, images, labels)
        results.append(r)
        if not ARGS.json:
            print(f"{name:<9} {r['trainSamplesPerSecond']:9,.0f} train samples/s  {r['inferenceImagesPerSecond']:9,.0f} inference img/s  "
                  f"latency p50 {r['latencyP50Ms']:7.3f} ms  (load {r['loadAverage']:.1f})", flush=True)
    if ARGS.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
