// bench/conv: a LeNet-like dropout conv net — NHWC input 28×28×1, dropout keep 0.9 → conv 5×5×32
// ('same', stride 1) ReLU → max-pool 2×2/2 → dropout 0.75 → conv 5×5×64 ReLU → max-pool 2 →
// dropout 0.75 → flatten 3136 → dense 1024 ReLU → dropout 0.5 → dense 10, softmax cross-entropy,
// SGD momentum 0.9 (lr 0.01), batch 100 — trained and run by thinnet (1 and 2 threads), by
// TensorFlow.js (tfjs-core + tfjs-backend-wasm; tfjs-backend-cpu for the complete own-gradient
// step) and by PyTorch on the CPU (bench/torch_conv.py, 1 and 2 threads), all in this one run.
//
//   npm run build && node --experimental-wasm-relaxed-simd bench/conv.mjs [--quick] [--batches 20] [--blocks 2]
//        [--tfjs-cpu [--cpu-steps 1]] [--no-torch] [--profile] [--rss]
//
// Every measurement runs in its own child process (bench/conv-child.mjs; tn.ready() takes its
// thread count once per process): thinnet at 1 and 2 threads in `--blocks` alternating blocks
// (1, 2, 1, 2: passing load falls on both; samples pooled), then tfjs-wasm, (tfjs-cpu), torch.
//
// thinnet: the model API (tn.sequential + conv2d/maxPool2d/flatten layers); a training step is
// the time of one model.fit() epoch over `--batches` batches of 100 (synthetic pixels, shuffle
// off) divided by the batch count, after a warm-up fit; inference is model.predict at batch 1 and
// at batch 100. Medians of the runs.
//
// tfjs: the same net in tfjs ops (tf.fused.conv2d / tf.maxPool / tf.dropout / tf.fused.matMul, as
// tfjs-layers builds it), trained with tfjs's own gradients (optimizer.minimize). tfjs-core's Node
// bundle registers no gradient functions (variableGrads fails: "gradient function not found"), so
// the child registers tfjs-core's own (dist/register_all_gradients.js, what @tensorflow/tfjs
// does). On the wasm backend the step then fails: tfjs-backend-wasm 4.22 has no
// Conv2DBackpropFilter kernel and tfjs does not fall back to another backend for a missing
// kernel — engine.runKernel throws "Kernel 'Conv2DBackpropFilter' not registered for backend
// 'wasm'" (the child records the message). The table's tfjs-wasm training row therefore uses a
// Conv2DBackpropFilter kernel that this bench registers for the wasm backend (a forward conv of
// the transposed input and gradient, on the wasm backend's own Transpose and XNNPACK Conv2D
// kernels: checked against plain loops), everything else being tfjs's; the tfjs-cpu row is the
// unmodified own-gradient step on tfjs-backend-cpu (plain JavaScript), the backend a tfjs user
// can switch to for training — only with --tfjs-cpu: its Conv2DBackpropFilter (element-wise
// TensorBuffer loops) makes one step take minutes (~6 min here), so it is timed over
// --cpu-steps steps (default 1) after two warm-up steps on a 4-example batch. tfjs-backend-wasm has no threads in Node (its flag
// WASM_HAS_MULTITHREAD_SUPPORT is false under Node, tfjs issue #3830; forcing it fails with
// ERR_WORKER_PATH), so tfjs rows are 1 thread.
//
// torch: bench/torch_conv.py, one process per thread count with OMP_NUM_THREADS =
// OPENBLAS_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE (as bench/mlp.mjs) and
// torch.set_num_threads(threads); NCHW; step = forward, loss, backward, SGD step; inference in
// eval mode under torch.no_grad.
//
// --rss also runs bench/conv-rss.mjs (one epoch on the full 60k MNIST in a fresh process, peak
// RSS) at 1 and 2 threads. --profile prints tfjs's time per kernel for one step.
// Ratios are thinnet's speed over the peer's (> 1: thinnet faster), for latency too.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const BATCHES = Number(opt('--batches', quick ? 10 : 20));
const BLOCKS = Number(opt('--blocks', quick ? 1 : 2));
const root = fileURLToPath(new URL('../', import.meta.url));
const childScript = `${root}bench/conv-child.mjs`;
const BATCH = 100;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };
const la = () => loadavg().map((v) => v.toFixed(2)).join(' ');

/** Runs a node child with the relaxed-SIMD flag; its stderr passes through; returns its last JSON line. */
function nodeChild(script, args) {
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', script, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000, maxBuffer: 64 << 20 });
  const last = (r.stdout || '').trim().split('\n').pop();
  try { return JSON.parse(last); } catch { return { error: `child ${args.join(' ')} exited ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ''}; last line: ${last}` }; }
}

const passArgs = [...(quick ? ['--quick'] : []), '--batches', String(BATCHES), ...(argv.includes('--profile') ? ['--profile'] : [])];

console.log(`bench/conv: LeNet-like dropout conv net (conv5x5x32-pool-conv5x5x64-pool-1024-10, keep 0.9/0.75/0.75/0.5), SGD momentum 0.9, batch ${BATCH}${quick ? ' (--quick)' : ''}`);
console.log(`command: node --experimental-wasm-relaxed-simd bench/conv.mjs ${argv.join(' ')}`.trimEnd());
{
  const head = spawnSync('git', ['log', '-1', '--format=%h %cs'], { cwd: root, encoding: 'utf8' }).stdout?.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'assembly'], { cwd: root, encoding: 'utf8' }).stdout?.trim();
  let built = '?';
  try { built = statSync(`${root}dist/index.node.js`).mtime.toISOString().replace(/\.\d+Z$/, 'Z'); } catch { /* not built */ }
  console.log(`thinnet: commit ${head || '?'}${dirty ? ' + uncommitted changes in src/ or assembly/' : ''}; dist/index.node.js built ${built}`);
}
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}; load average at start ${la()}`);

const cores = [nodeChild(childScript, ['corecheck'])];

// ---- thinnet (alternating blocks of 1 and 2 threads) ----------------------------------------------

const thin = { 1: null, 2: null };
let thinSkip = null;
for (let b = 0; b < BLOCKS && !thinSkip; b++) {
  for (const t of [1, 2]) {
    const r = nodeChild(childScript, ['thinnet', String(t), ...passArgs]);
    if (r.skipped || r.error) { thinSkip = r.skipped || r.error; break; }
    if (!thin[t]) thin[t] = { ...r, train: [], b1: [], b100: [], rss: [] };
    thin[t].train.push(...r.train); thin[t].b1.push(...r.b1); thin[t].b100.push(...r.b100); thin[t].rss.push(r.maxRssMB);
    thin[t].lossLast = r.lossLast;
  }
}
if (thinSkip) console.log(`thinnet: SKIPPED — ${thinSkip}`);

// ---- peers -----------------------------------------------------------------------------------------

const tfw = nodeChild(childScript, ['tfjs-wasm', ...passArgs]);
const tfc = argv.includes('--tfjs-cpu') ? nodeChild(childScript, ['tfjs-cpu', ...passArgs, '--cpu-steps', opt('--cpu-steps', '1')])
  : { skipped: 'not run; add --tfjs-cpu (its own-gradient step takes minutes: Conv2DBackpropFilter in plain JS)' };

function torchRun() {
  if (argv.includes('--no-torch')) return { skipped: '--no-torch' };
  const py = '/usr/bin/python3';
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OMP|OPENBLAS|MKL)_/.test(k)));
  const probe = spawnSync(py, ['-c', 'import torch; print(torch.get_num_threads())'], { encoding: 'utf8', env: clean });
  if (probe.error || probe.status !== 0) {
    return { skipped: `\`${py} -c "import torch"\` failed (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}); install: apt-get install python3-torch libopenblas0-pthread` };
  }
  const out = { defaultThreads: Number(probe.stdout.trim()) };
  for (const t of [1, 2]) {
    const env = { ...process.env, OMP_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t), MKL_NUM_THREADS: String(t), OMP_WAIT_POLICY: 'PASSIVE' };
    const r = spawnSync(py, [`${root}bench/torch_conv.py`, '--threads', String(t), ...(quick ? ['--quick'] : [])], { env, encoding: 'utf8', timeout: 900_000 });
    if (r.status !== 0) return { skipped: `torch_conv.py failed (${t} threads): ${r.stderr || r.error}` };
    const j = JSON.parse(r.stdout.trim().split('\n').pop());
    Object.assign(out, { version: j.torch, blas: j.blas, mkldnn: j.mkldnn });
    out[t] = j.threads[String(t)];
  }
  return out;
}
const torch = torchRun();

let rss = null;
if (argv.includes('--rss')) {
  rss = {};
  for (const t of [1, 2]) rss[t] = nodeChild(`${root}bench/conv-rss.mjs`, ['--threads', String(t)]);
}

cores.push(nodeChild(childScript, ['corecheck']));

// ---- report ----------------------------------------------------------------------------------------

/** { trainMs, trainExS, b1Ms, b1ExS, b100Ms, b100ExS } from per-call seconds. */
function fromSamples(r) {
  const o = {};
  if (r.train?.length) { o.trainMs = median(r.train) * 1e3; o.trainExS = BATCH / median(r.train); }
  if (r.b1?.length) { o.b1Ms = median(r.b1) * 1e3; o.b1ExS = 1 / median(r.b1); }
  if (r.b100?.length) { o.b100Ms = median(r.b100) * 1e3; o.b100ExS = BATCH / median(r.b100); }
  return o;
}
const fromTorch = (m) => ({ trainMs: m.train_ms, trainExS: m.train_examples_per_s, b1Ms: m.infer_batch1_ms, b1ExS: 1e3 / m.infer_batch1_ms, b100Ms: m.infer_batch100_ms, b100ExS: m.infer_batch100_examples_per_s });

const rows = [];
if (!thinSkip) for (const t of [1, 2]) rows.push({ key: `thin${t}`, name: `thinnet (${thin[t].build})`, threads: thin[t].threads, ...fromSamples(thin[t]) });
if (!tfw.skipped && !tfw.error) rows.push({ key: 'tfw', name: 'tfjs-backend-wasm' + (tfw.train ? ' (training: + bench Conv2DBackpropFilter †)' : ''), threads: 1, ...fromSamples(tfw) });
if (!tfc.skipped && !tfc.error) rows.push({ key: 'tfc', name: 'tfjs-backend-cpu (own gradients, plain JS)', threads: 1, ...fromSamples(tfc) });
if (!torch.skipped) for (const t of [1, 2]) rows.push({ key: `torch${t}`, name: `PyTorch ${torch.version} CPU`, threads: torch[t].num_threads, ...fromTorch(torch[t]) });
const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));

console.log('');
if (cores.every((c) => c.one)) {
  const cc = (c) => `1 thread ${c.one.toFixed(1)}, 2 threads together ${c.two.toFixed(1)} GFLOP/s (${(c.two / c.one).toFixed(2)}x)`;
  console.log(`machine check, f32x4 multiply-add peak: before ${cc(cores[0])}; after ${cc(cores[1])}`);
  if (Math.min(...cores.map((c) => c.two / c.one)) < 1.8) console.log('  (well below 2x: the second core was busy with other work; the 2-thread figures suffer)');
}
if (!thinSkip) for (const t of [1, 2]) console.log(`thinnet ${t} thread(s): build ${thin[t].build}, ${thin[t].threads} thread(s); fit of ${thin[t].batchesPerFit} batches, ${thin[t].train.length} timed fits, ${thin[t].b1.length} / ${thin[t].b100.length} predict calls; last epoch loss ${thin[t].lossLast?.toFixed?.(4)}; child peak RSS ${Math.max(...thin[t].rss).toFixed(0)} MB`);
if (tfw.error) console.log(`tfjs-wasm: ERROR ${tfw.error}`);
else if (tfw.skipped) console.log(`tfjs-wasm: skipped (${tfw.skipped})`);
else {
  console.log(`${tfw.desc}`);
  console.log(`  tfjs-core alone (no gradients registered), tf.variableGrads: ${tfw.gradsCoreOnly}`);
  console.log(`  with tfjs-core's gradients registered, the training step on wasm: ${tfw.trainOwnGradients}`);
  console.log(`  wasm kernels present: ${Object.entries(tfw.hasKernel).map(([k, v]) => `${k} ${v ? 'yes' : 'NO'}`).join(', ')}`);
  console.log(`  † training measured with a Conv2DBackpropFilter registered by this bench for 'wasm' (wasm Transpose + XNNPACK Conv2D; max |err| vs loops ${tfw.filterGradMaxErr.toExponential(1)}); all else tfjs's own gradients/kernels`);
  if (tfw.trainError) console.log(`  training failed even so: ${tfw.trainError}`);
  else console.log(`  training loss ${tfw.lossFirst.toFixed(4)} -> ${tfw.lossLast.toFixed(4)}; ${tfw.train.length} timed steps`);
}
if (tfc.error) console.log(`tfjs-cpu: ERROR ${tfc.error}`);
else if (tfc.skipped) console.log(`tfjs-cpu: skipped (${tfc.skipped})`);
else console.log(`${tfc.desc}; own gradients; training loss ${tfc.lossFirst?.toFixed(4)} -> ${tfc.lossLast?.toFixed(4)}; ${tfc.train?.length ?? 0} timed steps${tfc.trainError ? `; training failed: ${tfc.trainError}` : ''}`);
if (torch.skipped) console.log(`PyTorch: skipped — ${torch.skipped}`);
else console.log(`torch ${torch.version}, BLAS ${torch.blas}, mkldnn ${torch.mkldnn}; torch.get_num_threads() with no thread settings: ${torch.defaultThreads}; per run OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE, set_num_threads(threads); NCHW`);

const f = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(d));
console.log('');
console.log('| library | threads | train ms/step | train ex/s | infer batch 1 ms | batch 1 ex/s | infer batch 100 ms | batch 100 ex/s |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.threads} | ${f(r.trainMs)} | ${f(r.trainExS)} | ${f(r.b1Ms, 2)} | ${f(r.b1ExS)} | ${f(r.b100Ms)} | ${f(r.b100ExS)} |`);

const x2 = (v) => (v === undefined || Number.isNaN(v) ? '–' : `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`);
if (!thinSkip) {
  console.log('');
  console.log("thinnet's speed / the peer's (> 1: thinnet faster; batch 1 = peer's latency / thinnet's):");
  console.log('');
  console.log('| thinnet vs | training | inference batch 1 | inference batch 100 |');
  console.log('|---|---:|---:|---:|');
  const ratio = (a, b) => ({ train: a.trainExS / b.trainExS, b1: b.b1Ms / a.b1Ms, b100: a.b100ExS / b.b100ExS });
  const pairs = [];
  for (const t of [1, 2]) {
    if (byKey.tfw) pairs.push([`thinnet ${t} thr / tfjs-wasm (1 thr)${byKey.tfw.trainMs ? ' †' : ''}`, byKey[`thin${t}`], byKey.tfw]);
    if (byKey.tfc) pairs.push([`thinnet ${t} thr / tfjs-cpu (1 thr)`, byKey[`thin${t}`], byKey.tfc]);
    if (byKey[`torch${t}`]) pairs.push([`thinnet ${t} thr / PyTorch ${t} thr`, byKey[`thin${t}`], byKey[`torch${t}`]]);
  }
  pairs.push(['thinnet 2 threads / 1 thread', byKey.thin2, byKey.thin1]);
  for (const [name, a, b] of pairs) { const q = ratio(a, b); console.log(`| ${name} | ${x2(q.train)} | ${x2(q.b1)} | ${x2(q.b100)} |`); }
}
if (torch[1] && torch[2]) console.log(`\nPyTorch 2 threads / 1 thread: training ${x2(torch[1].train_ms / torch[2].train_ms)}, batch 1 ${x2(torch[1].infer_batch1_ms / torch[2].infer_batch1_ms)}, batch 100 ${x2(torch[1].infer_batch100_ms / torch[2].infer_batch100_ms)}`);

if (rss) {
  console.log('');
  console.log('MNIST 60k, one epoch, batch 100, shuffled (bench/conv-rss.mjs, a fresh process each); maxRSS high-water marks in MB:');
  console.log('');
  console.log('| thinnet | threads | input | after ready | after loadMnist | peak (training) | wasm memory | epoch s | ex/s | epoch loss |');
  console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of [1, 2]) {
    const r = rss[t];
    if (r.skipped || r.error) console.log(`| ${r.skipped || r.error} | ${t} | | | | | | | | |`);
    else console.log(`| ${r.build} | ${r.threadsUsed} | ${r.input} | ${r.rssAfterReadyMB.toFixed(0)} | ${r.rssAfterLoadMB.toFixed(0)} | **${r.peakRssTrainMB.toFixed(1)}** | ${r.wasmMemoryMB ?? '–'} | ${r.fitSeconds.toFixed(1)} | ${Math.round(r.examplesPerSecond)} | ${r.loss.toFixed(4)} |`);
  }
}

console.log('');
const goal = (name, v, want, ok) => console.log(`${name.padEnd(58)} ${String(v).padStart(9)}   goal ${want.padEnd(8)} ${ok === null ? 'n/a' : ok ? 'met' : 'MISSED'}`);
if (thinSkip) console.log('goals: not evaluated (thinnet skipped)');
else {
  const t1 = byKey.thin1, t2 = byKey.thin2;
  if (byKey.tfw?.trainExS) { const q = t1.trainExS / byKey.tfw.trainExS; goal('training, thinnet 1 thread / tfjs-wasm † (1 thread)', x2(q), '>= 10x', q >= 10); }
  else goal('training, thinnet / tfjs-wasm', '–', '>= 10x', null);
  if (byKey.tfc?.trainExS) { const q = t1.trainExS / byKey.tfc.trainExS; console.log(`${'  (thinnet 1 thread / tfjs-cpu, own gradients)'.padEnd(58)} ${x2(q).padStart(9)}`); }
  if (byKey.torch2) { const q = t2.trainExS / byKey.torch2.trainExS; goal('training, thinnet 2 threads / PyTorch 2 threads', x2(q), '>= 1.0x', q >= 1.0); }
  else goal('training, thinnet 2 threads / PyTorch 2 threads', '–', '>= 1.0x', null);
  { const q = t2.trainExS / t1.trainExS; goal('training, thinnet 2 threads / 1 thread', x2(q), '>= 1.7x', q >= 1.7); }
  if (rss) for (const t of [1, 2]) if (rss[t].peakRssTrainMB) goal(`peak RSS, MNIST 60k conv training, ${t} thread(s)`, `${rss[t].peakRssTrainMB.toFixed(0)} MB`, '<= 300MB', rss[t].peakRssTrainMB <= 300);
}
console.log(`load average at end ${la()}`);
