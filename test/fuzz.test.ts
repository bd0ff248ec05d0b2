// A seeded fuzz test of the model file loader (issue 13, item 12): thousands of mutations of small
// valid .tnet files (a dense net, a conv net, an MSE regressor and a v2 checkpoint with optimizer
// state) — bit flips, byte sets, truncation, extension, preamble fields and header JSON edits —
// half of them with the CRC recomputed, so the checks behind the checksum are reached too. Every
// outcome must be one of two: a thrown Error with a thinnet message (never a wasm trap, a
// RangeError or TypeError from inside JavaScript, or a hang), or a model that loads and predicts
// finite numbers. Nothing may leak and wasm memory may not grow beyond a bound. Architecture
// edits that the library accepts are written as that model's file, so odd geometries that load
// are run too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { crc32 } from '../src/io/crc32';
import { plan } from '../src/model/network';
import { checkConfig } from '../src/model/sequential';
import { runtime } from '../src/wasm/runtime';

// THINNET_FUZZ_SEED / THINNET_FUZZ_PER_BASE explore further (the suite runs the fixed seed)
const SEED = Number(process.env.THINNET_FUZZ_SEED ?? 0x5eed13);
const PER_BASE = Number(process.env.THINNET_FUZZ_PER_BASE ?? 1500); // × 4 bases = 6,000 files per run

/** mulberry32: a small seeded generator of uniform [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

let rand: () => number;
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)];

// ---- the layout (io/format.ts): "TNET", u32 version, u32 H, H bytes of JSON, blocks, u32 CRC ----

function headerOf(bytes: Uint8Array): { H: number; header: any } {
  const H = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  return { H, header: JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + H))) };
}

/** The file with another header (JSON text as given, space-padded to a multiple of 4) and the same blocks. */
function withHeader(bytes: Uint8Array, json: string): Uint8Array {
  const { H } = headerOf(bytes);
  let j = new TextEncoder().encode(json);
  const pad = (4 - ((12 + j.length) % 4)) % 4;
  const padded = new Uint8Array(j.length + pad).fill(0x20);
  padded.set(j);
  j = padded;
  const body = bytes.subarray(12 + H);
  const out = new Uint8Array(12 + j.length + body.length);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, j.length, true);
  out.set(j, 12);
  out.set(body, 12 + j.length);
  return out;
}

function fixCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= 4) new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

// ---- mutations -------------------------------------------------------------------------------

const HOSTILE: unknown[] = [
  0, -1, 1, 2, 3, 0.5, 1.5, -0.5, 5, 1e9, 2 ** 24, 2 ** 24 + 1, 2 ** 28, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 31), 1e308, 1e-320,
  null, true, false, '', 'x', '6', '0.5', 'relu', 'bogus', 'same', 'valid', 'paper', 'inverted', 'kernel', 'bias',
  'dense', 'conv2d', 'maxPool2d', 'flatten', 'dropout', 'gaussianDropout', 'activation', 'softmax', 'maxout',
  'sgd', 'adam', 'softmaxCrossEntropy', 'meanSquaredError', 'thinnet-model',
  [], [0], [1], [-1], [2, 2], [1, 1, 1], [3, 3], [1e9, 1e9], [6, 6, 1], [28, 28, 1], [10], {}, { normal: -1 }, { normal: 0.1 },
  'a'.repeat(2000),
];

/** Every place in a JSON value: [parent, key] pairs, the root excluded. */
function places(v: any, out: Array<[any, string | number]> = []): Array<[any, string | number]> {
  if (v && typeof v === 'object') {
    for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
      out.push([v, k]);
      places(v[k], out);
    }
  }
  return out;
}

/** One random edit of a place inside `root` (in place). */
function editJson(root: any): void {
  const all = places(root);
  if (all.length === 0) return;
  const [obj, key] = pick(all);
  const r = rand();
  if (r < 0.45) obj[key] = structuredClone(pick(HOSTILE));
  else if (r < 0.6 && typeof obj[key] === 'number') obj[key] = pick([(v: number) => v + 1, (v: number) => v - 1, (v: number) => v * 2, (v: number) => -v, (v: number) => v * 1e6])(obj[key]);
  else if (r < 0.75) {
    if (Array.isArray(obj)) obj.splice(key as number, 1); else delete obj[key];
  } else if (r < 0.85 && Array.isArray(obj)) obj.splice(key as number, 0, structuredClone(obj[key])); // duplicate an element
  else if (r < 0.95) {
    const target = obj[key] && typeof obj[key] === 'object' && !Array.isArray(obj[key]) ? obj[key] : obj;
    if (!Array.isArray(target)) target[pick(['__proto__', 'constructor', 'extra', 'units', 'keep', 'toString', 'pieces', 'strides'])] = structuredClone(pick(HOSTILE));
  } else {
    const [o2, k2] = pick(all); // swap two places
    const t = obj[key]; obj[key] = o2[k2]; o2[k2] = t;
  }
}

function editHeader(header: any): string {
  editJson(header);
  // some edits by text: raw JSON the encoder would never write
  const text = JSON.stringify(header);
  const t = rand();
  if (t < 0.03) return text.replace(/"units":\d+/, '"units":1e400');
  if (t < 0.06) return text.replace(/"paramCount":(\d+)/, '"paramCount":$1.0000000001');
  if (t < 0.08) return `${'['.repeat(20000)}${']'.repeat(20000)}`;
  if (t < 0.1) return text.slice(0, int(text.length));
  return text;
}

type Kind = 'bitflip' | 'byteset' | 'truncate' | 'extend' | 'preamble' | 'header' | 'weights' | 'architecture';
const KINDS: Kind[] = ['bitflip', 'byteset', 'truncate', 'extend', 'preamble', 'header', 'header', 'weights', 'architecture', 'architecture'];

/**
 * An edit of the architecture (config) that is consistent where the library accepts it: if
 * tn.sequential takes the edited config (checked first without allocating, and only when small),
 * the file is that model's, written by toBytes — the loader must take it and run its odd
 * geometry; otherwise the old blocks stay behind the edited header, and the loader must refuse it.
 */
function editArchitecture(b: Uint8Array): Uint8Array {
  const { header } = headerOf(b);
  for (let k = 1 + int(2); k > 0; k--) editJson(header.config);
  let small = false;
  try {
    const { inputShape, specs } = checkConfig(header.config);
    const layout = plan(specs, inputShape);
    small = layout.paramCount <= 1 << 16 && layout.layers.every((l) => l.outSize <= 1 << 16) && inputShape.reduce((a, d) => a * d, 1) <= 1 << 16;
  } catch { /* invalid: the loader must say so */ }
  if (!small) return withHeader(b, JSON.stringify(header));
  const m = tn.sequential(header.config);
  try {
    return m.toBytes();
  } finally {
    m.dispose();
  }
}

function mutate(base: Uint8Array, kind: Kind): Uint8Array {
  let b = base.slice();
  switch (kind) {
    case 'bitflip':
      for (let k = 1 + int(8); k > 0; k--) { const i = int(b.length); b[i] ^= 1 << int(8); }
      break;
    case 'byteset':
      for (let k = 1 + int(6); k > 0; k--) b[int(b.length)] = pick([0, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x7b, int(256)]);
      break;
    case 'truncate':
      b = b.slice(0, int(b.length));
      break;
    case 'extend': {
      const extra = new Uint8Array(1 + int(rand() < 0.1 ? 100_000 : 64)).map(() => int(256));
      const out = new Uint8Array(b.length + extra.length);
      if (rand() < 0.5) { out.set(b); out.set(extra, b.length); } // after the CRC
      else { out.set(b.subarray(0, b.length - 4)); out.set(extra, b.length - 4); out.set(b.subarray(b.length - 4), out.length - 4); } // before it
      b = out;
      break;
    }
    case 'preamble': {
      const dv = new DataView(b.buffer);
      const field = pick([4, 8]);
      dv.setUint32(field, pick([0, 1, 2, 3, 4, 0xffffffff, 0x7fffffff, 0x80000000, b.length, b.length - 12, dv.getUint32(field, true) + pick([-4, -1, 1, 4]), int(2 ** 32)]) >>> 0, true);
      break;
    }
    case 'header':
      b = withHeader(b, editHeader(headerOf(b).header));
      break;
    case 'architecture':
      b = editArchitecture(b);
      break;
    case 'weights': { // float32 values in the blocks: extreme finite ones, or not finite at all
      const { H } = headerOf(b), dv = new DataView(b.buffer), floats = (b.length - 16 - H) / 4;
      for (let k = 1 + int(4); k > 0; k--) {
        dv.setFloat32(12 + H + 4 * int(floats), pick([3.4e38, -3.4e38, 1e30, -1e30, 1e19, 1e-45, -0, NaN, Infinity, -Infinity]), true);
      }
      break;
    }
  }
  return b;
}

// ---- outcomes --------------------------------------------------------------------------------

/** Why an error is not a clear one, or undefined if it is. */
function unclear(e: unknown): string | undefined {
  if (!(e instanceof Error)) return `threw a non-Error ${String(e)}`;
  if (e instanceof WebAssembly.RuntimeError) return `wasm trap: ${e.message}`;
  if (!/^thinnet[.:]/.test(e.message)) return `${e.constructor.name} not from thinnet: ${e.message}`;
  if (/internal error|Cannot read propert|is not a function|is not iterable|Invalid array length|Invalid typed array length|Maximum call stack/.test(e.message)) {
    return `an internal failure in a thinnet message: ${e.message}`;
  }
  return undefined;
}

async function bases(): Promise<Array<[string, Uint8Array]>> {
  const dense = tn.sequential({ inputShape: [12], seed: 1, layers: [
    tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 6, activation: 'relu', maxNorm: 3 }), tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 4, activation: 'maxout', pieces: 2 }), tn.layers.dense({ units: 3 })] });
  const conv = tn.sequential({ inputShape: [6, 6, 1], seed: 2, layers: [
    tn.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }), tn.layers.maxPool2d({ poolSize: 2 }),
    tn.layers.dropout({ keep: 0.75, convention: 'inverted' }), tn.layers.flatten(), tn.layers.dense({ units: 3 })] });
  const mse = tn.sequential({ inputShape: [5], seed: 3, layers: [tn.layers.gaussianDropout({ keep: 0.8 }), tn.layers.dense({ units: 4, activation: 'sigmoid' }), tn.layers.dense({ units: 2 })] });
  mse.compile({ optimizer: tn.optimizers.sgd(), loss: 'meanSquaredError' });
  const ckpt = tn.sequential({ inputShape: [8], seed: 4, layers: [tn.layers.dense({ units: 5, activation: 'tanh' }), tn.layers.dense({ units: 3 })] });
  ckpt.compile({ optimizer: tn.optimizers.adam({ learningRate: 0.01 }) });
  const x = new Float32Array(8 * 20).map((_, i) => Math.sin(i)), y = new Int32Array(20).map((_, i) => i % 3);
  await ckpt.fit(x, y, { epochs: 1, batchSize: 10 });
  const out: Array<[string, Uint8Array]> = [['dense', dense.toBytes()], ['conv', conv.toBytes()], ['mse', mse.toBytes()], ['checkpoint', ckpt.toBytes({ optimizer: true })]];
  for (const m of [dense, conv, mse, ckpt]) m.dispose();
  return out;
}

let dir: string, filePath: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thinnet-fuzz-'));
  filePath = join(dir, 'mutated.tnet');
  await tn.ready({ threads: 1 });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tn.close();
});

describe('fuzzing the model file loader', () => {
  test(`${4 * PER_BASE} mutated files: each a clear error or a model that predicts finite numbers; no leak, bounded memory`, async () => {
    rand = rng(SEED);
    const files = await bases();
    for (const [, bytes] of files) (await tn.loadModel(bytes)).dispose(); // every base loads
    // the runtime's product workspaces grow to the largest product seen and stay: not a leak
    const settle = () => { runtime().releaseWorkspaces(); return tn.memoryInfo(); };
    const baseline = settle();
        const memoryBound = baseline.memoryBytes + 64 * 1048576;
    const counts: Record<string, number> = {};
    const count = (k: string) => { counts[k] = (counts[k] ?? 0) + 1; };
    const failures: string[] = [];
    const messages = new Set<string>(), loadedBy: Record<string, number> = {};
    let maxMemory = baseline.memoryBytes;
    const t0 = performance.now();
    let n = 0;
    for (const [name, base] of files) {
      for (let i = 0; i < PER_BASE; i++, n++) {
        const kind = pick(KINDS);
        let bytes = mutate(base, kind);
        const crcFixed = n % 2 === 0;
        if (crcFixed) bytes = fixCrc(bytes);
        const what = `${name} #${i} ${kind}${crcFixed ? ' (CRC fixed)' : ''}`;
        let model: tn.Sequential | undefined;
        let fromFile: boolean | undefined; // every 40th file also goes through the file source
        if (n % 40 === 0) {
          writeFileSync(filePath, bytes);
          fromFile = await tn.loadModel(filePath).then((m) => { m.dispose(); return true; }, (e) => {
            const why = unclear(e);
            if (why) failures.push(`${what}: load from a file ${why}`);
            return false;
          });
        }
        try {
          model = await tn.loadModel(bytes);
          if (fromFile === false) failures.push(`${what}: loads from bytes but not from a file`);
        } catch (e) {
          if (fromFile) failures.push(`${what}: loads from a file but not from bytes`);
          const why = unclear(e);
          if (why) failures.push(`${what}: load ${why}`);
          if (process.env.THINNET_FUZZ_VERBOSE) messages.add((e as Error).message.replace(/\d+/g, 'N').slice(0, 140));
          count(`error at load${crcFixed ? ', CRC fixed' : ''}`);
        }
        if (model) {
          loadedBy[kind] = (loadedBy[kind] ?? 0) + 1;
          try {
            const rows = model.inputSize > 1 << 16 ? 1 : 3;
            const x = new Float32Array(rows * model.inputSize).map(() => rand());
            const p = model.predict(x);
            const q = model.predict(x, { sample: 0 });
            const u = model.predictWithUncertainty(x, { samples: 2 });
            const finite = [...p, ...q, ...u.mean, ...u.variance].every(Number.isFinite);
            if (p.length !== rows * model.outputSize || !finite) failures.push(`${what}: loaded, predicted non-finite numbers`);
            else count(bytes.length === base.length && bytes.every((v, j) => v === base[j]) ? 'unchanged, loads' : 'loads and predicts finite numbers');
          } catch (e) {
            const why = unclear(e);
            if (why) failures.push(`${what}: predict ${why}`);
            count('loads, predict refuses with a clear error');
          } finally {
            model.dispose();
          }
        }
        const m = settle();
        maxMemory = Math.max(maxMemory, m.memoryBytes);
        if (m.allocatedBytes !== baseline.allocatedBytes || m.allocations !== baseline.allocations) {
          failures.push(`${what}: leaked ${m.allocatedBytes - baseline.allocatedBytes} bytes in ${m.allocations - baseline.allocations} allocations`);
          break;
        }
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`fuzz: ${n} files in ${seconds.toFixed(1)} s; ${JSON.stringify(counts)}; wasm memory ${(baseline.memoryBytes / 1048576).toFixed(1)} → max ${(maxMemory / 1048576).toFixed(1)} MB`);
    console.log(`fuzz: models that loaded, by mutation: ${JSON.stringify(loadedBy)}`);
    if (process.env.THINNET_FUZZ_VERBOSE) console.log([...messages].sort().join('\n'));
    expect(failures.slice(0, 20)).toEqual([]);
    expect(n).toBeGreaterThanOrEqual(2000);
    expect(maxMemory).toBeLessThanOrEqual(memoryBound);
    expect(counts['error at load, CRC fixed']).toBeGreaterThan(0);
    expect(counts['loads and predicts finite numbers']).toBeGreaterThan(0);
  }, 120_000);
});
