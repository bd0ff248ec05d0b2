// Single-row inference, this tree against another build of thinnet (A/B): the raw M = 1 nt
// product (gemm_nt_f32 with one row: the dense forward of one example) at N x K = 1024 x 1024 and
// 1024 x 784, and model.predict(row) of the MNIST MLP 784-1024-1024-10 (ReLU, dropout 0.8 / 0.5 /
// 0.5, weight scaling, seeded initial weights). Each measurement runs in a fresh child process
// holding only its own operands (so the weights it streams are the only ones it keeps in the
// caches), `--calls` timed calls after a warm-up; children alternate between the trees and the
// contenders for `--rounds` rounds, so passing load on the machine falls on all of them. Printed:
// the median over the rounds of each child's median, and the minimum of its minima (the least
// disturbed call), per contender.
//
//   node --experimental-wasm-relaxed-simd bench/gemv.mjs --base DIR [--rounds 7] [--calls 300] [--threads 1] [--backend relaxed]
//
// DIR is the root of another thinnet tree with build/ and dist/ built (e.g. an older commit:
// `git archive <commit> | tar -x -C DIR`, node_modules linked, `npm run build` there). The base
// tree also times predict of [row, row] (what the server's old batchInvariant path ran for a
// lone row).
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadavg, cpus } from 'node:os';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };

function fill(arr, seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < arr.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; arr[i] = s / 4294967296 - 0.5; }
  return arr;
}

/** One contender in this process: seconds of each of `calls` calls after a warm-up. */
async function child({ root, what, calls, threads, backend }) {
  let fn, done = () => {};
  if (what.startsWith('nt')) {
    const [N, K] = what === 'nt1024' ? [1024, 1024] : [1024, 784];
    const { instance } = await WebAssembly.instantiate(readFileSync(`${root}/build/${backend}.wasm`), {});
    const x = instance.exports;
    const alloc = (bytes) => x.memory.grow(Math.ceil((bytes + 64) / 65536)) * 65536; // pages of our own
    const f32 = (p, n) => new Float32Array(x.memory.buffer, p, n);
    const pa = alloc(K * 4), pb = alloc(N * K * 4), pc = alloc(N * 4), ws = alloc(x.gemm_workspace_bytes(1, N, K));
    fill(f32(pa, K), 1); fill(f32(pb, N * K), 2);
    fn = () => x.gemm_nt_f32(pc, pa, pb, ws, 0, 1, N, K, K, K, N);
  } else {
    const tn = await import(pathToFileURL(`${root}/dist/index.node.js`).href);
    await tn.ready({ threads, backend });
    const model = tn.sequential({ inputShape: [784], seed: 7, layers: [
      tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 1024, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 1024, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 10, activation: 'softmax' })] });
    const row = fill(new Float32Array(784), 3).map((v) => v + 0.5);
    const two = new Float32Array(2 * 784); two.set(row); two.set(row, 784);
    fn = what === 'predict2' ? () => model.predict(two, { batchSize: 2 }) : () => model.predict(row);
    done = async () => { model.dispose(); await tn.close(); };
  }
  for (let i = 0; i < 50; i++) fn();
  const t = [];
  for (let i = 0; i < calls; i++) { const t0 = performance.now(); fn(); t.push((performance.now() - t0) / 1e3); }
  await done();
  return { median: median(t), min: Math.min(...t) };
}

const { values } = parseArgs({ options: {
  base: { type: 'string' }, rounds: { type: 'string', default: '7' }, calls: { type: 'string', default: '300' },
  threads: { type: 'string', default: '1' }, backend: { type: 'string', default: 'relaxed' }, child: { type: 'string' },
} });

if (values.child) {
  console.log(JSON.stringify(await child(JSON.parse(values.child))));
} else {
  if (!values.base) throw new Error('--base DIR: the other thinnet tree (with build/ and dist/)');
  const here = fileURLToPath(new URL('..', import.meta.url));
  const trees = { this: resolve(here), base: resolve(values.base) };
  const rounds = Number(values.rounds), calls = Number(values.calls), threads = Number(values.threads), backend = values.backend;
  const contenders = [['nt1024', 'this'], ['nt1024', 'base'], ['nt784', 'this'], ['nt784', 'base'],
    ['predict', 'this'], ['predict', 'base'], ['predict2', 'base']];
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, ${backend} build, ${threads} thread(s), ` +
    `${rounds} rounds x ${calls} calls per contender, each in its own process`);
  console.log(`this tree ${trees.this}, base tree ${trees.base}; load average at start ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const res = Object.fromEntries(contenders.map((c) => [c.join(' '), []]));
  for (let r = 0; r < rounds; r++) {
    for (const [what, tree] of r % 2 ? [...contenders].reverse() : contenders) {
      const spec = JSON.stringify({ root: trees[tree], what, calls, threads, backend });
      const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', spec], { encoding: 'utf8' });
      res[`${what} ${tree}`].push(JSON.parse(out.trim().split('\n').pop()));
    }
  }
  const label = { nt1024: 'gemm_nt_f32 M=1 N=1024 K=1024', nt784: 'gemm_nt_f32 M=1 N=1024 K=784 ',
    predict: 'model.predict(row) 784-1024-1024-10', predict2: 'model.predict([row, row])        ' };
  const show = (s) => s < 1e-3 ? `${(s * 1e6).toFixed(1)} µs` : `${(s * 1e3).toFixed(3)} ms`;
  for (const [key, rs] of Object.entries(res)) {
    const [what, tree] = key.split(' ');
    console.log(`${label[what]}  ${tree.padEnd(4)}  median ${show(median(rs.map((x) => x.median))).padStart(9)}   min ${show(Math.min(...rs.map((x) => x.min))).padStart(9)}`);
  }
  for (const what of ['nt1024', 'nt784', 'predict']) {
    const m = (t) => median(res[`${what} ${t}`].map((x) => x.median));
    console.log(`${label[what]}  this / base ${(m('this') / m('base')).toFixed(2)} (medians)`);
  }
  console.log(`load average at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
}
