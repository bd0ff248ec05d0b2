"""PyTorch CPU reference for bench/gemm.mjs and bench/mlp.mjs (issue 3's peer figures).

Prints one JSON object: SGEMM GFLOP/s for the bench shapes, the paper's MNIST training step
(784-1024-1024-10, ReLU, dropout keep 0.8 input / 0.5 hidden, softmax cross-entropy, SGD
momentum 0.95, max-norm 2, batch 100) in examples/s with and without dropout, and inference
latency (batch 1) / throughput (batch 100) -- each at the thread counts given.

Needs torch importable by /usr/bin/python3 (Debian: apt-get install python3-torch).
Usage: /usr/bin/python3 bench/torch_ref.py [--threads 1,2] [--quick] [--skip-gemm]
Set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS to the same count when measuring one thread count
(torch.set_num_threads does not reach a system BLAS such as OpenBLAS; bench/mlp.mjs does this).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def median_seconds(fn, warm=3, min_runs=7, budget=1.0):
    for _ in range(warm):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    return statistics.median(times)


GEMM_SHAPES = [  # (op, M, K, N): C[M,N] = op(A) op(B)
    ("nn", 100, 784, 1024), ("nn", 100, 1024, 1024), ("nn", 1024, 1024, 1024), ("nn", 1, 784, 1024),
    ("tn", 784, 100, 1024), ("nt", 100, 1024, 784),
]


def gemm(op, M, K, N):
    g = torch.Generator().manual_seed(0)
    if op == "nn":
        a, b = torch.rand(M, K, generator=g), torch.rand(K, N, generator=g)
        f = lambda: torch.mm(a, b)
    elif op == "tn":  # A stored K x M
        a, b = torch.rand(K, M, generator=g), torch.rand(K, N, generator=g)
        f = lambda: torch.mm(a.t(), b)
    else:  # nt: B stored N x K
        a, b = torch.rand(M, K, generator=g), torch.rand(N, K, generator=g)
        f = lambda: torch.mm(a, b.t())
    return 2.0 * M * K * N / median_seconds(f) / 1e9


class Net:
    def __init__(self, sizes=(784, 1024, 1024, 10)):
        g = torch.Generator().manual_seed(1)
        self.W = [torch.randn(o, i, generator=g) * (1.0 / i) ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
        self.b = [torch.zeros(o) for o in sizes[1:]]
        for t in self.W + self.b:
            t.requires_grad_(True)
        self.params = self.W + self.b
        self.opt = torch.optim.SGD(self.params, lr=0.1, momentum=0.95)

    def forward(self, x, dropout):
        h = F.dropout(x, p=0.2, training=dropout)
        for l, (w, b) in enumerate(zip(self.W, self.b)):
            h = F.linear(h, w, b)
            if l < len(self.W) - 1:
                h = F.relu(h)
                h = F.dropout(h, p=0.5, training=dropout)
        return h

    def step(self, x, y, dropout):
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.forward(x, dropout), y)
        loss.backward()
        self.opt.step()
        with torch.no_grad():  # max-norm c = 2 on each unit's incoming weights
            for w in self.W:
                n = w.norm(dim=1, keepdim=True)
                w.mul_(torch.clamp(2.0 / n, max=1.0))


def blas_library():
    """The BLAS library torch's generic BLAS calls resolve to (Debian: the libblas.so.3 alternative)."""
    import os
    for path in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"):
        if os.path.exists(path):
            return os.path.realpath(path)
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-gemm", action="store_true", help="skip the SGEMM shapes (bench/mlp.mjs needs only the net)")
    args = ap.parse_args()
    out = {"torch": torch.__version__, "blas": blas_library(), "threads": {}}
    g = torch.Generator().manual_seed(2)
    x = torch.rand(100, 784, generator=g)
    y = torch.randint(0, 10, (100,), generator=g)
    x1 = torch.rand(1, 784, generator=g)
    for t in [int(s) for s in args.threads.split(",")]:
        torch.set_num_threads(t)
        net = Net()
        r = {} if args.skip_gemm else {"gemm_gflops": {f"{op} {M}x{K}x{N}": gemm(op, M, K, N) for op, M, K, N in GEMM_SHAPES}}
        budget = 0.5 if args.quick else 2.0
        for dropout in (True, False):
            s = median_seconds(lambda: net.step(x, y, dropout), budget=budget)
            r["train_examples_per_s_" + ("dropout" if dropout else "no_dropout")] = 100 / s
        with torch.no_grad():
            r["infer_batch1_ms"] = 1e3 * median_seconds(lambda: net.forward(x1, False), budget=budget)
            r["infer_batch100_examples_per_s"] = 100 / median_seconds(lambda: net.forward(x, False), budget=budget)
        out["threads"][str(t)] = r
    print(json.dumps(out))


if __name__ == "__main__":
    main()
