// The README's quick start as a runnable file: a dropout MLP on MNIST, then weight-scaling vs
// Monte-Carlo prediction, uncertainty, folding the weight scaling, and save/load.
//   npm run build && node --experimental-wasm-relaxed-simd examples/mnist-mlp.mjs
import * as tn from 'thinnet';

await tn.ready();
const { train, test } = await tn.data.loadMnist();
const model = tn.sequential({ inputShape: [784], seed: 1, layers: [
  tn.layers.dropout({ keep: 0.8 }),
  tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 3, kernelInitializer: 'heUniform' }),
  tn.layers.dropout({ keep: 0.5 }),
  tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 3, kernelInitializer: 'heUniform' }),
  tn.layers.dropout({ keep: 0.5 }),
  tn.layers.dense({ units: 10, maxNorm: 3 }),
] });
model.compile({
  optimizer: tn.optimizers.sgd({
    learningRate: tn.schedules.exponentialDecay({ initial: 3, rate: 0.95 }),
    momentum: { start: 0.5, end: 0.95, epochs: 10 },
    dampening: true, // the paper's Δw = p·Δw − (1 − p)·ε·∇L
  }),
  loss: 'softmaxCrossEntropy',
});
await model.fit(train.x, train.y, {
  epochs: 3, batchSize: 100, validationData: test,
  onEpochEnd: (e, l) => console.log(`epoch ${e + 1}: loss ${l.loss.toFixed(4)}, test error ${(100 * l.valError).toFixed(2)}%`),
});
const x = test.x.subarray(0, 1000 * 784), y = test.y.subarray(0, 1000);
const err = (p) => { let bad = 0; for (let i = 0; i < y.length; i++) { let b = 0; for (let j = 1; j < 10; j++) if (p[i * 10 + j] > p[i * 10 + b]) b = j; if (b !== y[i]) bad++; } return bad / y.length; };
console.log('weight scaling error', err(model.predict(x)), ' MC (50) error', err(model.predict(x, { mc: 50 })));
const u = model.predictWithUncertainty(x.subarray(0, 5 * 784), { samples: 50 });
console.log('entropy', Array.from(u.entropy, (v) => v.toFixed(3)), 'mutual information', Array.from(u.mutualInformation, (v) => v.toFixed(3)));
const folded = model.foldDropout();
console.log('folded model error', err(folded.predict(x)));
await model.save('/tmp/mnist-mlp.tnet');
const again = await tn.loadModel('/tmp/mnist-mlp.tnet');
console.log('reloaded error', err(again.predict(x)));
await tn.close();
