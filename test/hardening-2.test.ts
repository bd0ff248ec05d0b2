// Regression tests for issue 13, items 8–10 and 13 (the hostile-input probe, second part):
// temporary files of interrupted saves are cleaned up (on exit, on SIGINT without changing what
// SIGINT does, and by the next save after a SIGKILL); loadModel refuses FIFOs, devices and
// directories instead of blocking; messages for memory at the 4 GiB cap, wrongly typed labels
// and empty evaluation sets; strict loading against a SHA-256 of the file; and what the fuzzer
// (fuzz.test.ts, item 12) found: finite but huge weights overflowing to silent NaN predictions.
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import * as tn from '../src/index.node';
import { crc32 } from '../src/io/crc32';
import { Heap, WASM32_MAX_BYTES } from '../src/wasm/heap';
import { runtime } from '../src/wasm/runtime';
import { blobs } from './helpers/data';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thinnet-hardening2-'));
  await tn.ready({ threads: 1 });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tn.close();
});

const small = (seed = 1) => tn.sequential({ inputShape: [10], seed, layers: [
  tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 8, activation: 'relu' }), tn.layers.dense({ units: 3 })] });

const temps = (path: string) => readdirSync(join(path, '..')).filter((n) => n.startsWith(`${path.split('/').pop()}.tmp-`));

/** A pid that was just in use and is not any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

// ---- item 8: temporary files ------------------------------------------------------------------

const DIST = new URL('../dist/index.node.js', import.meta.url).href;

/**
 * A child process that saves a 16 MB model to `path` (the previous file), then saves new weights
 * to it and, the moment its temporary file exists, does what `mode` says: exit (process.exit(7)),
 * sigint / sigkill (signals itself), own-listener (has its own SIGINT listener, then signals itself).
 */
const CHILD = `
import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
const tn = await import(process.env.DIST);
const path = process.env.TARGET, mode = process.env.MODE;
await tn.ready({ threads: 1 });
const m = tn.sequential({ inputShape: [1024], seed: 1, layers: [tn.layers.dense({ units: 4096 })] });
await m.save(path);
if (mode === 'own-listener') process.on('SIGINT', () => console.log('own listener ran'));
const mine = () => readdirSync(dirname(path)).filter((n) => n.startsWith(basename(path) + '.tmp-' + process.pid + '-'));
m.setParameters(new Float32Array(m.paramCount).fill(0.5));
const timer = setInterval(() => {
  if (mine().length === 0) return;
  clearInterval(timer);
  console.log('temp seen');
  if (mode === 'exit') process.exit(7);
  process.kill(process.pid, mode === 'sigkill' ? 'SIGKILL' : 'SIGINT');
}, 0);
await m.save(path);
clearInterval(timer);
console.log('saved');
`;

function runChild(mode: string, path: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, DIST, TARGET: path, MODE: mode }, encoding: 'utf8', timeout: 60_000,
  });
}

const built = existsSync(fileURLToPath(DIST));

describe('item 8: interrupted saves leave no temporary files', () => {
  test('the next save removes stale temporary files of that path (dead pid, or our own pid not in flight), and only those', async () => {
    const path = join(dir, 'stale.tnet');
    const m = small();
    await m.save(path);
    const dead = deadPid();
    const garbage = new Uint8Array(1000).fill(7);
    const stale = [`${path}.tmp-${dead}-abc123`, `${path}.tmp-${process.pid}-leftover1`];
    const kept = [`${path}.tmp-1-livepid`, join(dir, `other.tnet.tmp-${dead}-abc123`), `${path}.tmp-${dead}-abc.bak`, `${path}.tmpfoo`];
    for (const p of [...stale, ...kept]) writeFileSync(p, garbage);
    await m.save(path);
    for (const p of stale) expect(existsSync(p), p).toBe(false);
    for (const p of kept) expect(existsSync(p), p).toBe(true);
    const back = await tn.loadModel(path);
    expect(back.parameters()).toEqual(m.parameters());
    back.dispose(); m.dispose();
    for (const p of kept) rmSync(p);
  });

  test('concurrent saves to one path never remove each other\'s temporary files', async () => {
    const path = join(dir, 'concurrent.tnet');
    const models = [1, 2, 3, 4].map((s) => small(s));
    await Promise.all(models.map((m) => m.save(path)));
    expect(temps(path)).toEqual([]);
    const back = await tn.loadModel(path); // one of them, whole
    expect(models.some((m) => m.parameters().every((v, i) => v === back.parameters()[i]))).toBe(true);
    back.dispose();
    for (const m of models) m.dispose();
  });

  test.skipIf(!built)('process.exit() during a save removes the temporary file; the previous file stays whole', async () => {
    const path = join(dir, 'exit.tnet');
    const r = runChild('exit', path);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/temp seen/);
    expect(r.status).toBe(7);
    expect(temps(path)).toEqual([]);
    const back = await tn.loadModel(path);
    expect(back.parameters()[0]).not.toBe(0.5); // the first save's weights
    back.dispose();
  }, 60_000);

  test.skipIf(!built)('SIGINT during a save removes the temporary file and still ends the process by SIGINT', async () => {
    const path = join(dir, 'sigint.tnet');
    const r = runChild('sigint', path);
    expect(r.stdout).toMatch(/temp seen/);
    expect(r.stdout).not.toMatch(/saved/);
    expect(r.signal).toBe('SIGINT'); // Node's default action, as without thinnet
    expect(temps(path)).toEqual([]);
    const back = await tn.loadModel(path);
    expect(back.parameters()[0]).not.toBe(0.5);
    back.dispose();
  }, 60_000);

  test.skipIf(!built)('a program with its own SIGINT listener keeps its behaviour: the save finishes', async () => {
    const path = join(dir, 'own.tnet');
    const r = runChild('own-listener', path);
    expect(r.stdout).toMatch(/temp seen\nown listener ran\nsaved/);
    expect(r.status).toBe(0);
    expect(temps(path)).toEqual([]);
    const back = await tn.loadModel(path);
    expect(back.parameters()[0]).toBe(0.5);
    back.dispose();
  }, 60_000);

  test.skipIf(!built)('after a SIGKILL during a save, the next save to that path removes the temporary file', async () => {
    const path = join(dir, 'sigkill.tnet');
    const r = runChild('sigkill', path);
    expect(r.stdout).toMatch(/temp seen/);
    expect(r.signal).toBe('SIGKILL');
    expect(temps(path)).toHaveLength(1); // nothing can run on SIGKILL
    const m = small();
    await m.save(path);
    expect(temps(path)).toEqual([]);
    const back = await tn.loadModel(path);
    expect(back.parameters()).toEqual(m.parameters());
    back.dispose(); m.dispose();
  }, 60_000);

  test('a failed write leaves no temporary file and names the path', async () => {
    const m = small();
    const target = join(dir, 'a-directory');
    mkdirSync(target);
    await expect(m.save(target)).rejects.toThrow(/thinnet.save: could not write .*a-directory/);
    expect(temps(target)).toEqual([]);
    m.dispose();
  });
});

// ---- item 9: only regular files ----------------------------------------------------------------

describe('item 9: loadModel refuses anything that is not a regular file', () => {
  test('a FIFO is refused at once (it would block forever), naming the path and what it is', async () => {
    const fifo = join(dir, 'model.fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    await expect(tn.loadModel(fifo)).rejects.toThrow(new RegExp(`thinnet.loadModel: ${fifo} is a FIFO \\(named pipe\\), not a regular file`));
    expect(Date.now() - t0).toBeLessThan(2000);
  }, 10_000);

  test('/dev/zero (endless) and a directory are refused; a symlink to a model file loads', async () => {
    await expect(tn.loadModel('/dev/zero')).rejects.toThrow(/thinnet.loadModel: \/dev\/zero is a character device, not a regular file/);
    await expect(tn.loadModel(dir)).rejects.toThrow(/is a directory, not a regular file/);
    await expect(tn.loadModel(join(dir, 'missing.tnet'))).rejects.toThrow(/could not read .*missing.tnet: ENOENT/);
    const m = small();
    const path = join(dir, 'real.tnet'), link = join(dir, 'link.tnet');
    await m.save(path);
    symlinkSync(path, link);
    const back = await tn.loadModel(link);
    expect(back.parameters()).toEqual(m.parameters());
    back.dispose(); m.dispose();
  }, 10_000);
});

// ---- item 10: messages -------------------------------------------------------------------------

describe('item 10: messages', () => {
  const failing = (maxBytes?: number) => new Heap(new WebAssembly.Memory({ initial: 1 }), { alloc: () => 0, free: () => {} }, maxBytes);

  test('(a) out of memory at the 4 GiB cap names wasm32\'s limit instead of suggesting maxMemoryMB', async () => {
    for (const heap of [failing(), failing(WASM32_MAX_BYTES)]) {
      let msg = '';
      try { heap.alloc(1 << 20); } catch (e) { msg = (e as Error).message; }
      expect(msg).toMatch(/out of WebAssembly memory allocating 1.0 MB .*the limit is wasm32's 4 GiB \(4096 MB\), which maxMemoryMB cannot raise/);
      expect(msg).not.toMatch(/raise maxMemoryMB/);
    }
    expect(() => failing(64 * 1048576).alloc(1 << 20)).toThrow(/raise maxMemoryMB in ready\(\) \(at most 4096\)/);
    // maxMemoryMB: 4096 gives the heap exactly wasm32's maximum, so the message above is the one users get
    await tn.close();
    await tn.ready({ threads: 2, maxMemoryMB: 4096 });
    expect(runtime().heap.maxBytes).toBe(WASM32_MAX_BYTES);
    await tn.close();
    await tn.ready({ threads: 1 });
  });

  test('(b) wrongly typed labels are reported as a wrong type, not as out of range', async () => {
    const { x } = blobs(6, 10);
    const m = small();
    for (const [y, re] of [
      [new BigInt64Array(6), /y is a BigInt64Array: labels must be numbers .*Int32Array.from\(y, Number\)/],
      [new BigUint64Array(6), /y is a BigUint64Array/],
      [['0', '1', '2', '0', '1', '2'], /label y\[0\] is a string \('0'\), not a number/],
      [[0, 1, null, 0, 1, 2], /label y\[2\] is a null/],
    ] as const) {
      expect(() => m.evaluate(x, y as never)).toThrow(TypeError);
      expect(() => m.evaluate(x, y as never)).toThrow(re);
      expect(() => m.evaluate(x, y as never)).not.toThrow(/out of range/);
    }
    m.compile({ optimizer: tn.optimizers.sgd() });
    await expect(m.fit(x, new BigInt64Array(6) as never)).rejects.toThrow(/y is a BigInt64Array/);
    expect(() => m.evaluate(x, new Float32Array([0, 1, 2.5, 0, 1, 2]))).toThrow(/label y\[2\] = 2.5 is out of range; labels must be integers/);
    expect(() => m.evaluate(x, new Int32Array([0, 1, 3, 0, 1, 2]))).toThrow(/label y\[2\] = 3 is out of range; labels must be integers in \[0, 3\)/);
    m.dispose();
  });

  test('(c) evaluate on an empty set is an error, as is empty validationData (before any training)', async () => {
    const m = small();
    expect(() => m.evaluate(new Float32Array(0), new Int32Array(0))).toThrow(/thinnet.evaluate: x has no rows/);
    const { x, y } = blobs(30, 10);
    m.compile({ optimizer: tn.optimizers.sgd() });
    const before = m.parameters();
    await expect(m.fit(x, y, { validationData: [new Float32Array(0), new Int32Array(0)] })).rejects.toThrow(/validationData has no rows/);
    expect(m.parameters()).toEqual(before);
    expect(m.evaluate(x, y).loss).toBeGreaterThan(0);
    m.dispose();
  });
});

// ---- item 12: what the fuzzer found -------------------------------------------------------------

describe('item 12: float32 overflow inside the network is an error, not a silent NaN', () => {
  test('a valid file with weights of 3e38 loads, but predict, evaluate and Monte-Carlo refuse to return NaN', async () => {
    const m = small(8);
    const p = m.parameters();
    p[0] = 3.4e38; p[1] = -3.4e38; p[11] = 3.4e38;
    m.setParameters(p);
    const loaded = await tn.loadModel(m.toBytes()); // every weight is finite: the file is valid
    const { x, y } = blobs(4, 10);
    const overflow = /the model's (outputs|loss|Monte-Carlo means|Monte-Carlo variances) for rows 0 to 3 are not finite \(NaN or ±Infinity\) although every weight and input is: a float32 overflow/;
    expect(() => loaded.predict(x)).toThrow(overflow);
    expect(() => loaded.predict(x, { mc: 3 })).toThrow(overflow);
    expect(() => loaded.predict(x, { sample: 1 })).toThrow(overflow);
    expect(() => loaded.predictWithUncertainty(x, { samples: 3 })).toThrow(overflow);
    expect(() => loaded.evaluate(x, y)).toThrow(overflow);
    expect(() => loaded.activations(x, { layer: 2 })).toThrow(overflow);
    // weights the user accepted as non-finite give what they compute
    p[5] = NaN;
    m.setParameters(p);
    const nan = await tn.loadModel(m.toBytes(), { allowNonFinite: true });
    expect(nan.predict(x).some(Number.isNaN)).toBe(true);
    for (const model of [m, loaded, nan]) model.dispose();
  });
});

// ---- item 13: strict loading -------------------------------------------------------------------

/** The file with float32 weight `i` set to v and a valid CRC: a well-formed file with other weights. */
function withWeight(bytes: Uint8Array, i: number, v: number): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  dv.setFloat32(12 + dv.getUint32(8, true) + 4 * i, v, true);
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('item 13: strict loading (expectedHash)', () => {
  test('contentHash() is the SHA-256 of the file save() writes; loadModel accepts exactly that file', async () => {
    const m = small(5);
    const path = join(dir, 'strict.tnet');
    await m.save(path);
    const hash = await m.contentHash();
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(sha256(readFileSync(path)));
    m.compile({ optimizer: tn.optimizers.sgd() });
    expect(await m.contentHash({ optimizer: true })).toBe(sha256(m.toBytes({ optimizer: true })));
    for (const src of [path, readFileSync(path), new Uint8Array(readFileSync(path)).buffer]) {
      for (const h of [hash, hash.toUpperCase()]) {
        const back = await tn.loadModel(src, { expectedHash: h });
        expect(back.parameters()).toEqual(m.parameters());
        back.dispose();
      }
    }
    m.dispose();
  });

  test('a well-formed file with one weight changed loads normally but is refused in strict mode, leaving nothing allocated', async () => {
    const m = small(6);
    const hash = await m.contentHash();
    const changed = withWeight(m.toBytes(), 3, 0.25);
    const path = join(dir, 'changed.tnet');
    writeFileSync(path, changed);
    const plain = await tn.loadModel(changed); // a valid file: only the hash tells
    expect(plain.parameters()[3]).toBe(0.25);
    plain.dispose();
    const before = tn.memoryInfo().allocatedBytes;
    for (const src of [changed, path]) {
      await expect(tn.loadModel(src, { expectedHash: hash }))
        .rejects.toThrow(new RegExp(`thinnet.loadModel: the file's SHA-256 is ${sha256(changed)}, not the expected ${hash}`));
    }
    expect(tn.memoryInfo().allocatedBytes).toBe(before);
    m.dispose();
  });

  test('in strict mode a damaged file is reported as not the expected file first', async () => {
    const m = small(7);
    const bytes = m.toBytes(), hash = await m.contentHash();
    const damaged = bytes.slice(); damaged[bytes.length - 10] ^= 1; // bad CRC
    await expect(tn.loadModel(damaged)).rejects.toThrow(/checksum mismatch/);
    await expect(tn.loadModel(damaged, { expectedHash: hash })).rejects.toThrow(/SHA-256 is [0-9a-f]{64}, not the expected/);
    const path = join(dir, 'short.tnet');
    writeFileSync(path, bytes.subarray(0, 40)); // truncated
    await expect(tn.loadModel(path, { expectedHash: hash })).rejects.toThrow(/not the expected/);
    m.dispose();
  });

  test('bad expectedHash values and misspelt options are TypeErrors (strict mode is never off by accident)', async () => {
    const bytes = small().toBytes();
    for (const h of ['abc', 'g'.repeat(64), 42, null, ''])
      await expect(tn.loadModel(bytes, { expectedHash: h as never })).rejects.toThrow(/expectedHash must be a SHA-256 digest as 64 hex digits/);
    await expect(tn.loadModel(bytes, { expectedhash: 'x' } as never)).rejects.toThrow(/unknown option 'expectedhash' \(options: allowNonFinite, expectedHash\)/);
    await expect(tn.loadModel(bytes, null as never)).rejects.toThrow(TypeError);
  });

  test('without node:crypto (browsers, edge runtimes), crypto.subtle gives the same hash, also of shared memory', async () => {
    vi.resetModules();
    vi.doMock('../src/io/node', () => ({ isNode: () => false, nodeImport: () => { throw new Error('no node here'); } }));
    try {
      const { sha256Hex, incrementalSha256 } = await import('../src/io/hash');
      expect(await incrementalSha256()).toBeUndefined();
      const bytes = small().toBytes();
      expect(await sha256Hex('test', bytes)).toBe(sha256(bytes));
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.length)); shared.set(bytes);
      expect(await sha256Hex('test', shared)).toBe(sha256(bytes));
    } finally {
      vi.doUnmock('../src/io/node');
      vi.resetModules();
    }
  });
});
