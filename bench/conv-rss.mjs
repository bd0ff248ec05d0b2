// bench/conv-rss: peak resident memory of training bench/conv.mjs's LeNet-like dropout conv net
// one epoch on the full MNIST training set (60,000 examples, batch 100), in this fresh process.
//
//   npm run build && node --experimental-wasm-relaxed-simd bench/conv-rss.mjs [--threads 1|2] [--float32] [--eval]
//
// The pixels go to fit() as loadMnist() returns them (Uint8Array, 47 MB; fit gathers and scales
// each batch in wasm); --float32 converts them to a Float32Array first (188 MB in JavaScript plus
// its copy in wasm memory), to show what that costs. --eval also predicts the 10,000 test images
// afterwards and prints the test error (its RSS is printed separately; the goal is on training).
// Peak RSS is process.resourceUsage().maxRSS (the kernel's high-water mark of the whole process,
// node itself included: a bare node process is ~40-50 MB). Prints progress, then one JSON line.
import { performance } from 'node:perf_hooks';
import { lenet } from './nets.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const threads = Number(arg('--threads', 1));
const float32 = argv.includes('--float32');
const doEval = argv.includes('--eval');
const MB = (kb) => kb / 1024;
const rss = () => MB(process.resourceUsage().maxRSS);
const out = { threads, input: float32 ? 'float32' : 'uint8', rssStartMB: rss() };

const tn = await import('../dist/index.node.js');
const missing = ['conv2d', 'maxPool2d', 'flatten'].filter((n) => typeof tn.layers?.[n] !== 'function');
if (missing.length) {
  console.log(`bench/conv-rss: skipped: dist/index.node.js has no tn.layers.${missing.join(', tn.layers.')} (thinnet's conv layers not built yet)`);
  console.log(JSON.stringify({ ...out, skipped: 'no conv layers' }));
  process.exit(0);
}
const info = await tn.ready({ threads });
out.build = info.backend; out.threadsUsed = info.threads;
out.rssAfterReadyMB = rss();
const { train, test } = await tn.data.loadMnist();
const x = float32 ? Float32Array.from(train.x, (v) => v / 255) : train.x;
const y = Int32Array.from(train.y);
out.examples = train.count;
out.rssAfterLoadMB = rss();
const model = lenet(tn);
model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }) });
out.rssAfterBuildMB = rss();
console.error(`bench/conv-rss: build ${info.backend}, ${info.threads} thread(s), ${train.count} examples (${out.input}); training one epoch...`);
let last = 0;
const t0 = performance.now();
const hist = await model.fit(x, y, {
  epochs: 1, batchSize: 100, shuffle: true,
  onBatchEnd: (b, logs) => { if (b - last >= 100 || b === logs.batches - 1) { last = b; console.error(`  batch ${b + 1}/${logs.batches}  loss ${logs.loss.toFixed(4)}  ${Math.round(logs.examplesPerSecond)} ex/s  maxRSS ${rss().toFixed(0)} MB`); } },
});
out.fitSeconds = (performance.now() - t0) / 1e3;
out.examplesPerSecond = train.count / out.fitSeconds;
out.loss = hist.loss[0];
out.trainError = hist.epochs[0]?.error;
out.peakRssTrainMB = rss();
try { out.wasmMemoryMB = tn.memoryInfo().memoryBytes / 2 ** 20; } catch { /* optional */ }
if (doEval) {
  const p = model.predict(test.x, { batchSize: 100 });
  let wrong = 0;
  for (let i = 0; i < test.count; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + best]) best = c;
    if (best !== test.y[i]) wrong++;
  }
  out.testErrorPercent = (100 * wrong) / test.count;
  out.peakRssAfterEvalMB = rss();
}
console.error(`bench/conv-rss: one epoch in ${out.fitSeconds.toFixed(1)} s (${Math.round(out.examplesPerSecond)} ex/s), loss ${out.loss.toFixed(4)}; peak RSS ${out.peakRssTrainMB.toFixed(1)} MB (goal <= 300 MB: ${out.peakRssTrainMB <= 300 ? 'met' : 'MISSED'})`);
console.log(JSON.stringify(out));
process.exit(0);
