#!/usr/bin/python3
"""Writes the benches' PyTorch-made ONNX file: the MLP as a PyTorch user writes and exports it.

    /usr/bin/python3 bench/make_onnx_peer.py --out PATH [--sizes 784,1024,1024,10] [--seed N]
                                             [--softmax] [--weights FILE]

(Debian's python3-torch 1.13; the `python3` on PATH may have no torch.) The net is
torch.nn.Sequential(Dropout(0.2), Linear, ReLU, Dropout(0.5), Linear, ReLU, Dropout(0.5), Linear)
for the default sizes: the paper's MNIST net (issue 17, item 4: onnxruntime-web runs on a file
from ONNX's usual producer, not only on thinnet's own export). It is put in eval mode, so
torch.onnx.export leaves the dropout out (inverted dropout is the identity at test time) and the
graph is Gemm/Relu only: the function thinnet's predict computes after folding the dropout.

  --softmax       append nn.Softmax(dim=1): the graph then ends as thinnet's export of a
                  softmaxCrossEntropy model does (predict's probabilities), for like-for-like timing
  --weights FILE  load the Linear layers' weights from FILE instead of the seeded initialization:
                  raw float32 little-endian, per layer W [in, out] row-major then b [out] (the
                  layout of bench/coldstart/tfjs-weights.f32), so the file computes the same
                  function as the other libraries' cases
  --seed N        torch.manual_seed for the default initialization (default 7)

Export: opset 13 (thinnet's exporter's), input `input`, output `output`, dynamic batch axis,
constant folding on. Written to a temporary file beside PATH and renamed over it (os.replace), so a
reader never sees half a file. Prints one JSON line: path, torch version, opset, node op types.
"""
import argparse
import json
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn

OPSET = 13


def build(sizes, softmax):
    """Sequential MLP, ReLU between Linears, Dropout(0.2) on the input and Dropout(0.5) after each ReLU."""
    mods = []
    for i in range(len(sizes) - 1):
        mods += [nn.Dropout(0.2 if i == 0 else 0.5), nn.Linear(sizes[i], sizes[i + 1])]
        if i < len(sizes) - 2:
            mods.append(nn.ReLU())
    if softmax:
        mods.append(nn.Softmax(dim=1))
    return nn.Sequential(*mods)


def load_weights(net, path, sizes):
    """Sets the Linear layers from raw float32 W [in, out] + b [out] per layer (torch stores W as [out, in])."""
    data = np.fromfile(path, dtype='<f4')
    want = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    if data.size != want:
        raise SystemExit(f'{path}: {data.size} floats, the sizes {sizes} need {want}')
    off = 0
    with torch.no_grad():
        for lin in (m for m in net if isinstance(m, nn.Linear)):
            n_in, n_out = lin.in_features, lin.out_features
            lin.weight.copy_(torch.from_numpy(data[off:off + n_in * n_out].reshape(n_in, n_out).T.copy()))
            off += n_in * n_out
            lin.bias.copy_(torch.from_numpy(data[off:off + n_out].copy()))
            off += n_out


def op_types(path):
    """The graph's node op types, read from the protobuf wire format (the onnx package is not in Debian).

    ModelProto.graph is field 7, GraphProto.node field 1, NodeProto.op_type field 4.
    """
    def fields(buf):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            num, wire = key >> 3, key & 7
            if wire == 0:
                _, i = varint(buf, i)
                continue
            if wire == 2:
                n, i = varint(buf, i)
                yield num, buf[i:i + n]
                i += n
                continue
            i += {1: 8, 5: 4}[wire]

    def varint(buf, i):
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v, i

    with open(path, 'rb') as f:
        model = memoryview(f.read())
    graph = next(b for n, b in fields(model) if n == 7)
    return [bytes(v).decode() for n, node in fields(graph) if n == 1 for k, v in fields(node) if k == 4]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--sizes', default='784,1024,1024,10')
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--softmax', action='store_true')
    ap.add_argument('--weights')
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(',')]
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    net = build(sizes, a.softmax)
    if a.weights:
        load_weights(net, a.weights, sizes)
    net.eval()
    example = torch.rand(2, sizes[0], generator=torch.Generator().manual_seed(a.seed))
    out = os.path.abspath(a.out)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out), prefix='.' + os.path.basename(out) + '.', suffix='.tmp')
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; the file is no secret
    try:
        torch.onnx.export(net, example, tmp, opset_version=OPSET, input_names=['input'], output_names=['output'],
                          dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
        ops = op_types(tmp)
        if 'Dropout' in ops:
            raise SystemExit(f'eval-mode export kept Dropout nodes: {ops}')
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(json.dumps({'path': out, 'torch': torch.__version__, 'opset': OPSET, 'sizes': sizes,
                      'seed': None if a.weights else a.seed, 'weights': a.weights, 'ops': ops}))


if __name__ == '__main__':
    main()
