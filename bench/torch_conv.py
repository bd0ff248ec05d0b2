"""PyTorch CPU reference for bench/conv.mjs: the LeNet-like dropout conv net.

conv 5x5x32 ('same') -> ReLU -> max-pool 2 -> conv 5x5x64 ('same') -> ReLU -> max-pool 2 ->
flatten (64*7*7 = 3136) -> dense 1024 ReLU -> dense 10, softmax cross-entropy, SGD with momentum
0.9 (lr 0.01), batch 100; dropout retention 0.9 on the input, 0.75 after each pool, 0.5 after the
dense 1024 (torch's p is the drop probability: 0.1 / 0.25 / 0.5; inverted dropout). NCHW, torch's
layout (input 100x1x28x28).

Prints one JSON object (the last line): torch's version, BLAS, its thread settings, and per
thread count the median training step (forward, loss, backward, SGD step) in ms and examples/s,
and inference (torch.no_grad, eval mode: no dropout) at batch 1 and batch 100 in ms and
examples/s -- medians of several runs after warm-up.

Needs torch importable by /usr/bin/python3 (Debian: apt-get install python3-torch
libopenblas0-pthread).
Usage: /usr/bin/python3 bench/torch_conv.py [--threads 1,2] [--quick]
Set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS to the same count when measuring one thread count
(torch.set_num_threads does not reach a system BLAS such as OpenBLAS; bench/conv.mjs runs one
process per thread count with these set).
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_seconds(fn, warm=3, min_runs=7, budget=1.0, max_runs=200):
    for _ in range(warm):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= max_runs:
            break
    return statistics.median(times), len(times)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        h = F.dropout(x, p=0.1, training=self.training)
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)
        h = F.dropout(h, p=0.25, training=self.training)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.dropout(h, p=0.25, training=self.training)
        h = F.relu(self.fc1(torch.flatten(h, 1)))
        h = F.dropout(h, p=0.5, training=self.training)
        return self.fc2(h)


def blas_library():
    """The BLAS library torch's generic BLAS calls resolve to (Debian: the libblas.so.3 alternative)."""
    for path in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"):
        if os.path.exists(path):
            return os.path.realpath(path)
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(1)
    out = {
        "torch": torch.__version__, "blas": blas_library(), "mkldnn": torch.backends.mkldnn.is_available(),
        "threads_before_set": torch.get_num_threads(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")},
        "threads": {},
    }
    g = torch.Generator().manual_seed(2)
    x = torch.rand(100, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (100,), generator=g)
    x1 = x[:1].clone()
    budget = 1.0 if args.quick else 4.0
    for t in [int(s) for s in args.threads.split(",")]:
        torch.set_num_threads(t)
        net = Net()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        losses = []

        def step():
            net.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())

        s, n = median_seconds(step, warm=5, min_runs=9, budget=budget)
        r = {"num_threads": torch.get_num_threads(), "train_ms": 1e3 * s, "train_examples_per_s": 100 / s, "train_runs": n,
             "loss_first": losses[0], "loss_last": losses[-1]}
        net.eval()
        with torch.no_grad():
            s1, n1 = median_seconds(lambda: net(x1), warm=10, min_runs=50, budget=budget / 2, max_runs=2000)
            s100, n100 = median_seconds(lambda: net(x), warm=3, min_runs=9, budget=budget / 2)
        r.update({"infer_batch1_ms": 1e3 * s1, "infer_batch1_runs": n1,
                  "infer_batch100_ms": 1e3 * s100, "infer_batch100_examples_per_s": 100 / s100, "infer_batch100_runs": n100})
        out["threads"][str(t)] = r
    print(json.dumps(out))


if __name__ == "__main__":
    main()
