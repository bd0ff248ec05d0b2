// The worked example of docs/INTEROP.md ("PyTorch → ONNX → thinnet with uncertainty"), the part
// that is the same everywhere: the browser page (main.js) and the workerd worker (worker.mjs)
// each get the bytes their own way and call runExample. No fetch, no fs, no DOM in here.
//
// Inputs (the files scripts/make-onnx-fixtures.py writes to test/fixtures/onnx/):
//   model     cnn.onnx: torch.onnx.export of the MNIST conv net, exported in training mode so
//             that its Dropout nodes are kept (thinnet imports them as dropout layers)
//   images    mnist32.input.bin: float32 [N, 1, 28, 28], pixels / 255 (N = 32)
//   expected  cnn.expected.bin: float32 [N, 10], PyTorch's output in eval mode (logits)

/** Index of the largest of a[from .. from + n). */
function argmax(a, from, n) {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[from + j] > a[from + best]) best = j;
  return best;
}

/**
 * Loads the ONNX model, compares its weight-scaling prediction with PyTorch's eval output, then
 * runs Monte-Carlo dropout. `tn` is thinnet after `await tn.ready(...)`. Returns plain JSON-able
 * data: the difference, one summary row per image and (all float32 values, exactly) the
 * arrays the numbers come from.
 */
export async function runExample(tn, { model: onnxBytes, images, expected, samples = 200 }) {
  const model = await tn.io.loadOnnx(onnxBytes);
  try {
    const n = images.length / model.inputSize;
    if (!Number.isInteger(n)) throw new RangeError(`images: ${images.length} floats is not a whole number of ${model.inputSize}-pixel images`);

    // 1. Weight scaling (dropout off, as PyTorch's model.eval()): the graph ends in logits.
    const logits = model.predict(images);
    if (logits.length !== expected.length) throw new RangeError(`expected: ${expected.length} floats, the model gives ${logits.length}`);
    let maxAbsDiff = 0, maxRelDiff = 0;
    for (let i = 0; i < logits.length; i++) {
      const d = Math.abs(logits[i] - expected[i]);
      maxAbsDiff = Math.max(maxAbsDiff, d);
      maxRelDiff = Math.max(maxRelDiff, d / Math.max(Math.abs(expected[i]), 1)); // relative, absolute below 1
    }

    // 2. Probabilities: with softmax cross-entropy as its loss, the model's outputs are the
    //    softmax of the logits (the optimizer is needed by compile, not used here).
    model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.01 }), loss: 'softmaxCrossEntropy' });
    const probabilities = model.predict(images);

    // 3. Monte-Carlo dropout: `samples` thinned networks (reproducible masks).
    const u = model.predictWithUncertainty(images, { samples });
    const classes = logits.length / n;
    const perImage = [];
    for (let r = 0; r < n; r++) {
      const c = argmax(u.mean, r * classes, classes);
      perImage.push({
        image: r,
        class: c,
        mcMeanP: u.mean[r * classes + c],
        scalingP: probabilities[r * classes + c],
        entropy: u.entropy[r],
        mutualInformation: u.mutualInformation[r],
      });
    }
    return {
      images: n,
      classes,
      samples,
      layers: model.config.layers.map((l) => l.type),
      maxAbsDiff,
      maxRelDiff,
      perImage,
      logits: Array.from(logits),
      probabilities: Array.from(probabilities),
      uncertainty: {
        mean: Array.from(u.mean),
        variance: Array.from(u.variance),
        entropy: Array.from(u.entropy),
        mutualInformation: Array.from(u.mutualInformation),
      },
    };
  } finally {
    model.dispose();
  }
}
