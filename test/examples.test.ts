// Smoke runs of the paper-analysis examples (examples/*.mjs, docs/EXPERIMENTS.md): each script with
// --quick --threads 1 in a child process (they import the built package, dist/), which must exit
// 0, print its Markdown table and write its figures: PNGs that decode (signature, chunk CRCs,
// IHDR, inflated IDAT of the stated size) and SVG documents. Plus the PNG encoder on its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
// @ts-ignore: a plain .mjs module without types
import { crc32, encodeGray, tileGrid } from '../examples/lib/png.mjs';

const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'thinnet-examples-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Checks a PNG file completely and returns its size and pixels (8-bit grayscale, filter 0 rows). */
function readPng(bytes: Uint8Array): { width: number; height: number; pixels: Uint8Array } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 8, width = 0, height = 0;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (o < bytes.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    expect(dv.getUint32(o + 8 + len)).toBe(crc32(bytes.subarray(o + 4, o + 8 + len)));
    const data = bytes.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(o + 8); height = dv.getUint32(o + 12);
      expect(Array.from(data.subarray(8))).toEqual([8, 0, 0, 0, 0]); // 8-bit grayscale, no interlace
    }
    if (type === 'IDAT') idat.push(data);
    types.push(type);
    o += 12 + len;
  }
  expect(o).toBe(bytes.length);
  expect(types[0]).toBe('IHDR');
  expect(types[types.length - 1]).toBe('IEND');
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe(height * (width + 1));
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, pixels };
}

function checkSvg(file: string): string {
  const text = readFileSync(file, 'utf8');
  expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(text.trimEnd().endsWith('</svg>')).toBe(true);
  expect(text).not.toMatch(/NaN|undefined|Infinity/);
  return text;
}

function run(script: string, extra: string[] = ['--out', out]): string {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'examples', script), '--quick', '--threads', '1', ...extra],
    { cwd: root, encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.stderr}\n${r.stdout}`);
  console.log(`${script} --quick: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r.stdout;
}

/** The rows of the first Markdown table in text, as cells. */
function tableRows(text: string, after = ''): string[][] {
  const lines = text.slice(text.indexOf(after)).split('\n');
  const start = lines.findIndex((l) => /^\|(---\|)+$/.test(l));
  expect(start).toBeGreaterThan(0);
  const rows: string[][] = [];
  for (let i = start + 1; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i].split('|').slice(1, -1).map((c) => c.trim()));
  return rows;
}

const isPct = (s: string) => Number.isFinite(Number(s)) && Number(s) >= 0 && Number(s) <= 100;

describe('the PNG encoder', () => {
  test('round trip through a decoder; tiles scaled per tile around mid gray', () => {
    const pixels = Uint8Array.from({ length: 7 * 5 }, (_, i) => (i * 37) % 256);
    const img = readPng(encodeGray(pixels, 7, 5));
    expect([img.width, img.height]).toEqual([7, 5]);
    expect(img.pixels).toEqual(pixels);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the CRC-32 check value
    const g = tileGrid([Float32Array.of(0, 1, -1, 0.5), Float32Array.of(0, 0, 0, 0)], 2, 2, 2);
    expect([g.width, g.height]).toEqual([7, 4]);
    expect(Array.from(g.pixels.subarray(8, 10))).toEqual([128, 255]); // 0 → mid gray, +max → white
    expect(Array.from(g.pixels.subarray(15, 17))).toEqual([0, 191]);  // −max → black, max/2
    expect(g.pixels[11]).toBe(128); // an all-zero tile is mid gray
    expect(() => encodeGray(new Uint8Array(3), 2, 2)).toThrow(/3 pixels for 2×2/);
  });
});

describe('examples --quick (smoke runs, not reproductions)', () => {
  test('mc-vs-scaling (Fig. 11)', () => {
    const text = run('mc-vs-scaling.mjs');
    expect(text).toMatch(/QUICK smoke run/);
    const rows = tableRows(text);
    expect(rows.map((r) => Number(r[0]))).toEqual([1, 2, 3, 5, 10, 20]);
    for (const r of rows) expect(r.slice(1).every(isPct)).toBe(true);
    expect(new Set(rows.map((r) => r[3])).size).toBe(1); // one weight-scaling error
    checkSvg(join(out, 'mc-vs-scaling.svg'));
  });

  test('retention-sweep (Fig. 9)', () => {
    const text = run('retention-sweep.mjs');
    const a = tableRows(text, '(a) n fixed'), b = tableRows(text, '(b) p·n fixed');
    expect(a.map((r) => r[0])).toEqual(['0.2', '0.5', '0.8']);
    expect(a.map((r) => r[1])).toEqual(['128', '128', '128']);
    expect(b.map((r) => r[1])).toEqual(['160', '64', '40']); // n = pn / p with pn = 32
    for (const r of [...a, ...b]) expect(isPct(r[2]) && isPct(r[3])).toBe(true);
    for (const part of ['a', 'b']) checkSvg(join(out, `retention-sweep-${part}.svg`));
  });

  test('dataset-size (Fig. 10)', () => {
    const text = run('dataset-size.mjs');
    const rows = tableRows(text);
    expect(rows.map((r) => r[0])).toEqual(['100', '500', '1000']);
    expect(rows.map((r) => r[1])).toEqual(['200', '40', '20']); // 200 updates of batch 100
    for (const r of rows) expect(isPct(r[2]) && isPct(r[3])).toBe(true);
    expect(checkSvg(join(out, 'dataset-size.svg'))).toMatch(/with dropout/);
  });

  test('autoencoder (Figs. 7, 8)', () => {
    const text = run('autoencoder.mjs');
    const rows = tableRows(text);
    expect(rows.map((r) => r[0])).toEqual(['without dropout', 'with dropout (p = 0.5)']);
    for (const r of rows) {
      expect(Number(r[1])).toBeGreaterThan(0);
      expect(Number(r[1])).toBeLessThan(0.1); // better than predicting zeros (≈ 0.1 per pixel on MNIST)
      expect(Number(r[2])).toBeCloseTo(784 * Number(r[1]), 0);
      expect(Number(r[3])).toBeGreaterThan(0);
    }
    for (const tag of ['plain', 'dropout']) {
      const img = readPng(readFileSync(join(out, `autoencoder-weights-${tag}.png`)));
      expect([img.width, img.height]).toEqual([8 * 29 + 1, 8 * 29 + 1]); // 64 tiles of 28×28, 1-pixel borders
      expect(new Set(img.pixels).size).toBeGreaterThan(50); // weights, not a flat image
    }
    for (const f of ['autoencoder-activations.svg', 'autoencoder-mean-activations.svg']) checkSvg(join(out, f));
  });

  test('gaussian-table (Table 10): both noises through the resumable trial runner (examples/lib/trials.mjs)', () => {
    const text = run('gaussian-table.mjs', []); // no --out: it writes no figure; no checkpoint dir: nothing cached
    const rows = tableRows(text);
    expect(rows.map((r) => r[0])).toEqual(['Bernoulli dropout', 'Gaussian dropout']);
    expect(rows.map((r) => r[1])).toEqual(['1.08 ± 0.04', '0.95 ± 0.04']);
    for (const r of rows) {
      expect(isPct(r[2]) && isPct(r[3])).toBe(true);
      expect(Number(r[2])).toBeLessThan(60); // 2 epochs on 1,000 images: far better than chance (90%)
    }
    expect(text).toMatch(/--noise gaussian/);
  });

  test('finished trials are recorded (examples/results/) and reused only by the same command, on a machine without the checkpoint dir', () => {
    const records = join(out, 'records'), ck = join(out, 'ck-gaussian');
    const go = (extra: string[] = []) => {
      const r = spawnSync(process.execPath, [join(root, 'examples', 'gaussian-table.mjs'), '--quick', '--threads', '1', '--checkpoint-dir', ck, ...extra],
        { cwd: root, encoding: 'utf8', timeout: 90_000, env: { ...process.env, THINNET_EXAMPLE_RESULTS: records } });
      if (r.status !== 0) throw new Error(`gaussian-table exited with ${r.status}:\n${r.stderr}`);
      return { out: r.stdout, trained: (r.stderr.match(/^thinnet train: /gm) ?? []).length };
    };
    const first = go();
    expect(first.trained).toBe(2); // one run per noise
    const file = JSON.parse(readFileSync(join(records, 'gaussian-table.json'), 'utf8'));
    expect(Object.keys(file).sort()).toEqual(['bernoulli-n1000-e2-lr1-s1', 'gaussian-n1000-e2-lr1-s1']);
    for (const r of Object.values(file) as Array<{ run: string; command: string }>) {
      expect(r.run).not.toMatch(/--threads|--checkpoint|--resume/); // recorded without what does not change the bits
      expect(r.command).toMatch(/--checkpoint /);
    }
    rmSync(ck, { recursive: true, force: true }); // a new machine: no runs/, only the committed records
    const again = go(['--threads', '2']);
    expect(again.trained).toBe(0);
    expect(tableRows(again.out)).toEqual(tableRows(first.out));
    // a record whose command differs (say, an older script's) is not used: that trial trains again
    rmSync(ck, { recursive: true, force: true });
    file['gaussian-n1000-e2-lr1-s1'].run += ' --momentum-epochs 3';
    writeFileSync(join(records, 'gaussian-table.json'), JSON.stringify(file));
    expect(go().trained).toBe(1);
  });

  test('architectures (Fig. 4): six nets with and without dropout, per-epoch test curves parsed from the CLI children', () => {
    const text = run('architectures.mjs'); // no checkpoint dir: nothing cached
    expect(text).toMatch(/QUICK smoke run/);
    const nets = ['784-64-64-10', '784-128-128-10', '784-64-64-64-10', '784-128-128-128-10', '784-64-64-64-64-10', '784-128-128-128-128-10'];
    const rows = tableRows(text);
    expect(rows.map((r) => r[0])).toEqual(nets);
    for (const r of rows) {
      expect(isPct(r[2]) && isPct(r[3])).toBe(true);
      expect(Number(r[4])).toBeCloseTo(Number(r[3]) - Number(r[2]), 2); // gain = without − with
    }
    // the curves: 4 epochs of 50 updates, one test error per epoch, the last equal to the final error
    const curves = tableRows(text, 'Test error % during training');
    expect(curves.map((r) => `${r[0]} ${r[1]}`)).toEqual([...nets.map((n) => `${n} dropout`), ...nets.map((n) => `${n} no dropout`)]);
    for (const r of curves) {
      expect(r.length).toBe(2 + 4);
      expect(r.slice(2).every(isPct)).toBe(true);
      const final = rows.find((x) => x[0] === r[0])!;
      expect(r[5]).toBe(r[1] === 'dropout' ? final[2] : final[3]);
    }
    expect(text).toMatch(/--eval-every 1 /);
    expect(text).not.toMatch(/--validation/); // the figure is the test curve; no pilots in --quick
    const svg = checkSvg(join(out, 'architectures.svg'));
    expect((svg.match(/<polyline /g) ?? []).length).toBe(12);
    expect((svg.match(/stroke-dasharray/g) ?? []).length).toBe(6); // the six nets without dropout
    expect(svg).toMatch(/2×64 dropout/);
    expect(svg).toMatch(/4×128 no dropout/);
  });

  test('regularizers-table (Table 9): every row chosen by validation pilots, the KL row on sigmoid units', () => {
    const text = run('regularizers-table.mjs', []); // no figure; no checkpoint dir
    expect(text).toMatch(/QUICK smoke run/);
    const rows = tableRows(text);
    expect(rows.map((r) => r[0])).toEqual(['L2', 'L2 + L1', 'L2, sigmoid units (control for the KL row; not in the paper)',
      'L2 + KL-sparsity (sigmoid units)', 'max-norm', 'dropout + L2', 'dropout + max-norm']);
    expect(rows.map((r) => r[1])).toEqual(['ReLU', 'ReLU', 'sigmoid', 'sigmoid', 'ReLU', 'ReLU', 'ReLU']);
    expect(rows.map((r) => r[2])).toEqual(['1.62', '1.60', '—', '1.55', '1.35', '1.25', '1.05']);
    for (const r of rows) {
      expect(isPct(r[3]) && isPct(r[4])).toBe(true);
      expect(r[6]).toMatch(/^2 \(validation %/); // two pilots per row in --quick
    }
    // staged rows keep their base row's choice
    const setting = (i: number) => rows[i][5].replace(/ \(grid edge.*\)$/, '');
    expect(setting(1).startsWith(`${setting(0)}, λ₁ `)).toBe(true);
    expect(setting(3).startsWith(`${setting(2)}, ρ `)).toBe(true);
    expect(text).toMatch(/--activation sigmoid --init glorotUniform --no-dropout --max-norm 0 --l2 [\d.e-]+ --kl-sparsity /);
    expect(text).toMatch(/--keep-input 0\.8 --keep-hidden 0\.5 --max-norm [234] --validation 10000/);
  });

  test('rbm (§8, Figs. 12, 13)', () => {
    const text = run('rbm.mjs');
    const rows = tableRows(text);
    expect(rows.map((r) => r[0])).toEqual(['RBM (no dropout)', 'dropout RBM (p = 0.5)']);
    for (const r of rows) {
      // reconstruction error per image below that of an all-0.5 guess (784 / 4 = 196)
      expect(Number(r[1])).toBeGreaterThan(0);
      expect(Number(r[2])).toBeLessThan(196);
      expect(Number(r[3])).toBeGreaterThan(0);
      expect(Number(r[3])).toBeLessThan(1);
    }
    for (const tag of ['plain', 'dropout']) {
      const img = readPng(readFileSync(join(out, `rbm-features-${tag}.png`)));
      expect([img.width, img.height]).toEqual([8 * 29 + 1, 8 * 29 + 1]);
      expect(new Set(img.pixels).size).toBeGreaterThan(50);
    }
    for (const f of ['rbm-activations.svg', 'rbm-mean-activations.svg']) checkSvg(join(out, f));
  });
});
