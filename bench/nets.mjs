// The nets the benches share, built with the thinnet module passed in (each bench imports dist/
// itself, in its own child process).

/**
 * The LeNet-like dropout conv net of bench/conv.mjs, bench/conv-rss.mjs and bench/memory.mjs:
 * NHWC 28×28×1 → dropout 0.9 → conv 5×5×32 'same' ReLU → max-pool 2 → dropout 0.75 → conv 5×5×64
 * 'same' ReLU → max-pool 2 → dropout 0.75 → flatten 3136 → dense 1024 ReLU → dropout 0.5 → dense 10.
 */
export function lenet(tn) {
  return tn.sequential({ inputShape: [28, 28, 1], seed: 1, layers: [
    tn.layers.dropout({ keep: 0.9 }),
    tn.layers.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' }),
    tn.layers.maxPool2d({ poolSize: 2, strides: 2 }),
    tn.layers.dropout({ keep: 0.75 }),
    tn.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: 'relu' }),
    tn.layers.maxPool2d({ poolSize: 2 }),
    tn.layers.dropout({ keep: 0.75 }),
    tn.layers.flatten(),
    tn.layers.dense({ units: 1024, activation: 'relu' }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 10 }),
  ] });
}
