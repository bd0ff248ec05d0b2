// bench/coldstart: Node cold start — process spawn → first prediction of the paper's MNIST net
// (784-1024-1024-10, ReLU, dropout keep 0.8 input / 0.5 hidden) for thinnet and for TensorFlow.js
// on its wasm backend, each case in a fresh child `node` process (no flags, as a user runs it).
//
//   npm run build && node bench/coldstart.mjs [--runs 9] [--baseline DIR]
//
// Cases thinnet-onnx and ort load the same net from bench/coldstart/mnist.onnx (made by thinnet's
// exporter from the dropout-folded model): thinnet through tn.io.loadOnnx, onnxruntime-web (wasm
// backend, one thread) through InferenceSession.create. Case ort-torch is the same onnxruntime-web
// cold start on bench/coldstart/mnist-torch.onnx: the same weights (tfjs-weights.f32) in
// torch.nn.Sequential, written by torch.onnx.export (bench/make_onnx_peer.py --weights, Debian's
// python3-torch at /usr/bin/python3; the case is left out, with a message, without it), so ORT
// also runs on a file from its usual producer.
//
// --baseline DIR adds the cases `base` and `base-1`: the same cold starts with thinnet imported
// from another checkout's build (DIR/dist/index.node.js, its wasm from DIR/build), e.g. the last
// commit's (git archive HEAD | tar -x -C DIR; npm run build there), measured in the same run.
//
// Weights: the bench makes them once (bench/coldstart/*.tnet, *.f32; remade when missing) with
// thinnet, seed 1, default initializer: `mnist.tnet` is the model saved by model.save() (with its
// dropout layers, paper convention); `tfjs-weights.f32` holds the same weights after
// model.foldDropout() (the paper's weight scaling folded in), transposed to tfjs's [in, out]
// layout, as raw float32 — tfjs loads them with tf.tensor2d, so both libraries compute the same
// function and the bench checks that their predictions agree. Both read one 784-pixel example
// from `input.f32`.
//
// Timing: process.hrtime in this process, from just before spawn() to the arrival of the
// child's prediction line on its stdout. The child reports its own breakdown (boot = process
// start → script's first line, then import, ready, load of the weights, predict). Cases run
// interleaved (a round runs each case once, in a rotated order), after one untimed warm-up round
// (file cache). Medians over the rounds; the ratios also as the median of per-round ratios
// (each round's cases ran back to back, so a drifting machine load cancels), with quartiles.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const RUNS = Number(arg('--runs') ?? 9);
const BASELINE = arg('--baseline');
const baseEntry = BASELINE ? pathToFileURL(resolve(BASELINE, 'dist/index.node.js')).href : undefined;
if (BASELINE && !existsSync(resolve(BASELINE, 'dist/index.node.js'))) throw new Error(`--baseline ${BASELINE}: no dist/index.node.js there (build it first)`);
const dir = fileURLToPath(new URL('./coldstart/', import.meta.url)).replace(/\/$/, '');
const child = `${dir}/child.mjs`;
const SIZES = [784, 1024, 1024, 10];
const CASES = ['node', 'thinnet', 'thinnet-1', 'thinnet-onnx', 'ort', 'ort-torch', 'tfjs', ...(BASELINE ? ['base', 'base-1'] : [])];

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };
/** Quartiles (linear interpolation). */
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * q, lo = Math.floor(i); return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo); };

/** Deterministic pixel values in [0, 1) (xorshift32). */
function pixels(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; out[i] = s / 4294967296; }
  return out;
}

/** Makes the model files once; returns thinnet's prediction on the example (made in this process). */
async function makeFiles() {
  const files = ['mnist.tnet', 'tfjs-weights.f32', 'input.f32'].map((f) => `${dir}/${f}`);
  const tn = await import('thinnet');
  await tn.ready({ threads: 1 });
  const input = pixels(SIZES[0], 2014);
  let model;
  if (files.every(existsSync)) {
    model = await tn.loadModel(files[0]);
  } else {
    mkdirSync(dir, { recursive: true });
    model = tn.sequential({ inputShape: [784], seed: 1, layers: [
      tn.layers.dropout({ keep: 0.8 }),
      tn.layers.dense({ units: 1024, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 1024, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 10 }),
    ] });
    await model.save(files[0]);
    const folded = model.foldDropout();
    const parts = [];
    for (const { shape: [outF, inF], kernel, bias } of folded.getWeights()) {
      const w = new Float32Array(inF * outF); // [out, in] → [in, out]
      for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) w[i * outF + o] = kernel[o * inF + i];
      parts.push(w, bias);
    }
    folded.dispose();
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { all.set(p, off); off += p.length; }
    writeFileSync(files[1], new Uint8Array(all.buffer));
    writeFileSync(files[2], new Uint8Array(input.buffer));
  }
  // mnist.onnx: the dropout-folded net (the function tfjs gets) as ONNX, one input, for the
  // thinnet-onnx and ort cases; written by thinnet's exporter (docs/INTEROP.md)
  const onnxFile = `${dir}/mnist.onnx`;
  if (!existsSync(onnxFile)) {
    const folded = model.foldDropout();
    writeFileSync(onnxFile, await folded.toOnnx({ trainingModeInput: false }));
    folded.dispose();
  }
  // mnist-torch.onnx: the same weights (tfjs-weights.f32, dropout folded) in torch.nn.Sequential,
  // exported by torch.onnx.export, for the ort-torch case; remade when older than the weights
  const torchFile = `${dir}/mnist-torch.onnx`;
  if (!existsSync(torchFile) || statSync(torchFile).mtimeMs < statSync(files[1]).mtimeMs) {
    const script = fileURLToPath(new URL('./make_onnx_peer.py', import.meta.url));
    const r = spawnSync('/usr/bin/python3', [script, '--out', torchFile, '--sizes', SIZES.join(','), '--softmax', '--weights', files[1]],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
    if (r.error || r.status !== 0) {
      const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
      console.log(`case ort-torch skipped: /usr/bin/python3 bench/make_onnx_peer.py failed (${why}; it needs python3-torch)`);
      CASES.splice(CASES.indexOf('ort-torch'), 1);
    }
  }
  const probs = Array.from(model.predict(input));
  model.dispose();
  await tn.close();
  return probs;
}

/** One cold start: ms from spawn to the prediction line, and the child's report. */
function run(which) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, [child, which, dir, ...(which.startsWith('base') ? [baseEntry] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', result;
    p.stdout.on('data', (d) => {
      if (result) return;
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('PRED ') && out.includes(`${l}\n`));
      if (line) result = { ms: Number(process.hrtime.bigint() - t0) / 1e6, ...JSON.parse(line.slice(5)) };
    });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      if (!result) reject(new Error(`${which}: exit ${code} without a prediction\n${out}${err}`));
      else resolve({ ...result, exitMs: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

console.log(`bench/coldstart: spawn → first prediction, MNIST ${SIZES.join('-')} ReLU, one 784-pixel example, ${RUNS} runs per case, interleaved`);
console.log(`node ${process.version} (children: no flags), ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}; load average at start ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
const reference = await makeFiles();

const res = Object.fromEntries(CASES.map((c) => [c, []]));
for (const c of CASES) await run(c); // warm-up round (file cache), not counted
for (let r = 0; r < RUNS; r++) {
  for (let k = 0; k < CASES.length; k++) {
    const c = CASES[(k + r) % CASES.length];
    res[c].push(await run(c));
  }
}

// The predictions agree across libraries (and with the parent's in-process thinnet prediction).
const argmax = (a) => a.indexOf(Math.max(...a));
const maxDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
for (const c of CASES.filter((x) => x !== 'node')) {
  const p = res[c][0].probs;
  console.log(`${c.padEnd(10)} ${res[c][0].t.info}; predicted class ${argmax(p)} (p = ${Math.max(...p).toFixed(4)}), max |Δp| vs reference ${maxDiff(p, reference).toExponential(1)}`);
}
if (BASELINE) console.log(`baseline: base and base-1 import ${baseEntry}`);
console.log('weights: thinnet loads bench/coldstart/mnist.tnet (tn.loadModel); tfjs loads the same weights, dropout-folded, from bench/coldstart/tfjs-weights.f32 (tf.tensor2d)');
if (res['ort-torch']) console.log('ort-torch: bench/coldstart/mnist-torch.onnx, those tfjs weights exported by torch.onnx.export (bench/make_onnx_peer.py --softmax --weights)');
console.log('');
const f1 = (v) => (v === undefined ? '-' : v.toFixed(1));
const cols = ['boot', 'import', 'ready', 'load', 'predict'];
console.log(`median ms          ${'spawn→pred'.padStart(10)} ${'→exit'.padStart(7)}  | child: ${cols.map((c) => c.padStart(7)).join(' ')}   min..max spawn→pred`);
const med = {};
for (const c of CASES) {
  const rs = res[c];
  med[c] = median(rs.map((x) => x.ms));
  const parts = cols.map((k) => f1(rs[0].t[k] === undefined ? undefined : median(rs.map((x) => x.t[k]))).padStart(7));
  const ms = rs.map((x) => x.ms);
  console.log(`${c.padEnd(18)} ${f1(med[c]).padStart(10)} ${f1(median(rs.map((x) => x.exitMs))).padStart(7)}  |        ${parts.join(' ')}   ${f1(Math.min(...ms))}..${f1(Math.max(...ms))}`);
}
console.log('');
const thinnetCases = CASES.filter((c) => c.startsWith('thinnet') || c.startsWith('base'));
const label = (c) => `${c.startsWith('base') ? 'baseline' : 'thinnet'} ${c.endsWith('-1') ? 'ready({threads:1})' : c.endsWith('-onnx') ? 'loadOnnx, 1 thread' : 'tn.ready()'}`;
/** Per-round ratios of case c to tfjs, optionally above the round's bare node process. */
const perRound = (c, above) => res[c].map((x, r) => (x.ms - (above ? res.node[r].ms : 0)) / (res.tfjs[r].ms - (above ? res.node[r].ms : 0)));
const spread = (xs) => `per-round median ${median(xs).toFixed(3)}x [quartiles ${quantile(xs, 0.25).toFixed(3)}..${quantile(xs, 0.75).toFixed(3)}]`;
for (const c of thinnetCases) {
  const ratio = med[c] / med.tfjs;
  console.log(`cold start ${(label(c) + ' / tfjs-wasm').padEnd(40)} ${ratio.toFixed(3)}x   goal <= 0.333x ${ratio <= 1 / 3 ? 'met' : 'MISSED'}   (${spread(perRound(c, false))})`);
}
for (const c of thinnetCases) {
  const ratio = (med[c] - med.node) / (med.tfjs - med.node);
  console.log(`  above a bare node process (${c}): ${f1(med[c] - med.node)} ms vs tfjs ${f1(med.tfjs - med.node)} ms = ${ratio.toFixed(3)}x   (${spread(perRound(c, true))})`);
}
// onnxruntime-web as a peer (issue 17): the same net, same file for thinnet-onnx and ort
for (const c of ['thinnet-1', 'thinnet-onnx']) {
  const xs = res[c].map((x, r) => x.ms / res.ort[r].ms);
  console.log(`cold start ${(label(c) + ' / onnxruntime-web').padEnd(40)} ${(med[c] / med.ort).toFixed(3)}x   (${spread(xs)})`);
}
// the same onnxruntime-web cold start on the torch.onnx.export file of the same weights
if (res['ort-torch']) {
  for (const c of ['thinnet-1', 'thinnet-onnx']) {
    const xs = res[c].map((x, r) => x.ms / res['ort-torch'][r].ms);
    console.log(`cold start ${(label(c) + ' / ort-web, torch file').padEnd(40)} ${(med[c] / med['ort-torch']).toFixed(3)}x   (${spread(xs)})`);
  }
  const xs = res['ort-torch'].map((x, r) => x.ms / res.ort[r].ms);
  console.log(`cold start ${'ort-web: torch file / thinnet export'.padEnd(40)} ${(med['ort-torch'] / med.ort).toFixed(3)}x   (${spread(xs)})`);
}
console.log(`load average at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
