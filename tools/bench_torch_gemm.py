#!/usr/bin/python3
"""bench_torch_gemm: PyTorch's float32 GEMM speed on this CPU, the yardstick for `digitlab bench kernels`.

Times torch.mm (C = A·B, all row-major float32) at the sizes the models use and at 1024³ / 2048³,
for 1 and 2 threads: warm-up, then the median of several repetitions, printed as GFLOP/s in the
same format as the C# benchmark. Usage: /usr/bin/python3 tools/bench_torch_gemm.py [--reps 7] [--no-2048]

Debian's torch sends torch.mm to OpenBLAS (pthreads build), which keeps its own thread pool and
ignores torch.set_num_threads: without OPENBLAS_NUM_THREADS a "1 thread" run really uses every core.
So each thread count runs in a child process with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set before
torch loads, and torch.set_num_threads as well.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

# (m, n, k, op) for C(m×n) = op(A)·op(B), the same list as `digitlab bench kernels`: N = as stored,
# T = transposed (a stored k×m, or b stored n×k, passed as a .t() view, which BLAS reads without a copy).
MODEL_SHAPES = [
    (64, 128, 784, "NT"),      # mlp fc1 forward: Y = X·Wᵀ
    (64, 784, 128, "NN"),      # mlp fc1 backward dX = dY·W
    (128, 784, 64, "TN"),      # mlp fc1 backward dW = dYᵀ·X
    (64, 10, 128, "NT"),       # mlp fc2 forward
    (32, 64 * 784, 9, "NN"),   # cnn conv1 forward (im2col over the batch)
    (32, 9, 64 * 784, "NT"),   # cnn conv1 backward dW
    (64, 64 * 196, 288, "NN"), # cnn conv2 forward
    (64, 288, 64 * 196, "NT"), # cnn conv2 backward dW
    (288, 64 * 196, 64, "TN"), # cnn conv2 backward dX
]


def time_mm(m, n, k, op, reps, min_seconds=0.2):
    import torch
    a = torch.randn(k, m, dtype=torch.float32).t() if op[0] == "T" else torch.randn(m, k, dtype=torch.float32)
    b = torch.randn(n, k, dtype=torch.float32).t() if op[1] == "T" else torch.randn(k, n, dtype=torch.float32)
    c = torch.empty(m, n, dtype=torch.float32)
    torch.mm(a, b, out=c)  # warm-up
    # Enough calls per repetition that one repetition lasts a measurable time.
    t0 = time.perf_counter()
    torch.mm(a, b, out=c)
    once = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(min_seconds / reps / once))
    for _ in range(calls):
        torch.mm(a, b, out=c)
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b, out=c)
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--no-2048", action="store_true", help="skip the 2048³ size")
    parser.add_argument("--threads", type=int, help="run one thread count in this process (used by the parent run)")
    args = parser.parse_args()
    if args.threads is None:
        for threads in (1, 2):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
            subprocess.run([sys.executable, __file__, "--threads", str(threads), "--reps", str(args.reps)]
                           + (["--no-2048"] if args.no_2048 else []), env=env, check=True)
        return
    import torch
    threads = args.threads
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"load average {os.getloadavg()[0]:.2f}")
    shapes = MODEL_SHAPES + [(1024, 1024, 1024, "NN")] + ([] if args.no_2048 else [(2048, 2048, 2048, "NN")])
    for m, n, k, op in shapes:
        seconds = time_mm(m, n, k, op, args.reps)
        gflops = 2.0 * m * n * k / seconds / 1e9
        print(f"torch.mm {m}x{n}x{k} {op}  {threads} thread{'s' if threads > 1 else ' '}  {gflops:7.1f} GFLOP/s  {seconds * 1e3:9.3f} ms")


if __name__ == "__main__":
    main()
