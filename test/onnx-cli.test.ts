// `thinnet export` (src/cli-export.ts), and what the interop code may load: the browser entry
// stays free of Node built-ins and of packages, and the ONNX code is only loaded on first use.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import * as tn from '../src/index.node';
import { exportCommand } from '../src/cli-export';

let dir: string;
beforeAll(async () => {
  await tn.ready({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'thinnet-export-'));
});
afterAll(async () => {
  await tn.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the command with console output captured: [exit status, stdout, stderr]. */
async function cli(args: string[]): Promise<[number, string, string]> {
  const out: string[] = [], err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((m) => { out.push(String(m)); });
  const error = vi.spyOn(console, 'error').mockImplementation((m) => { err.push(String(m)); });
  try {
    return [await exportCommand(args), out.join('\n'), err.join('\n')];
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('thinnet export', () => {
  test('--onnx, --safetensors and --tnet write what the API writes', async () => {
    const m = tn.sequential({ inputShape: [8], seed: 2, layers: [tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 4, activation: 'relu' }), tn.layers.dense({ units: 3 })] });
    const tnet = join(dir, 'm.tnet');
    await m.save(tnet);
    const [code, out] = await cli(['--onnx', tnet, join(dir, 'm.onnx')]);
    expect(code).toBe(0);
    expect(out).toMatch(/m\.tnet → .*m\.onnx \(onnx, 51 parameters\)/);
    const loaded = await tn.loadModel(tnet);
    expect(Buffer.from(readFileSync(join(dir, 'm.onnx'))).equals(Buffer.from(await loaded.toOnnx()))).toBe(true);
    expect((await cli(['--onnx', '--no-training-mode', tnet, join(dir, 'n.onnx')]))[0]).toBe(0);
    expect(Buffer.from(readFileSync(join(dir, 'n.onnx'))).equals(Buffer.from(await loaded.toOnnx({ trainingModeInput: false })))).toBe(true);
    expect((await cli(['--safetensors', '--prefix', 'net.', tnet, join(dir, 'm.safetensors')]))[0]).toBe(0);
    expect([...tn.io.readSafetensors(readFileSync(join(dir, 'm.safetensors'))).tensors.keys()]).toEqual(['net.1.weight', 'net.1.bias', 'net.3.weight', 'net.3.bias']);
    // and back: ONNX → .tnet
    expect((await cli(['--tnet', join(dir, 'm.onnx'), join(dir, 'back.tnet')]))[0]).toBe(0);
    const back = await tn.loadModel(join(dir, 'back.tnet'));
    const x = new Float32Array(16).map((_, i) => i / 16 - 0.3);
    expect(Math.max(...back.predict(x).map((v, i) => Math.abs(v - m.predict(x)[i])))).toBeLessThan(1e-6);
    for (const x of [m, loaded, back]) x.dispose();
  });

  test('usage errors exit 2 with the problem named; a bad model file exits 1', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['m.tnet', 'x.onnx'], /exactly one of --onnx, --safetensors, --tnet/],
      [['--onnx', '--tnet', 'a', 'b'], /exactly one of .*\(got --onnx --tnet\)/],
      [['--onnx', 'a'], /an input file and an output file, got 1/],
      [['--onnx', join(dir, 'missing.tnet'), 'x.onnx'], /missing\.tnet is not a file/],
      [['--safetensors', '--no-training-mode', 'a', 'b'], /--no-training-mode is an option of --onnx/],
      [['--safetensors', '--naming', 'keras', 'a', 'b'], /--naming must be torch-sequential or spec/],
      [['--onnx', '--bogus', 'a', 'b'], /bogus/],
    ];
    for (const [args, msg] of cases) {
      const [code, , err] = await cli(args);
      expect(code, args.join(' ')).toBe(2);
      expect(err).toMatch(msg);
    }
    const junk = join(dir, 'junk.tnet');
    (await import('node:fs')).writeFileSync(junk, 'not a model');
    const [code, , err] = await cli(['--onnx', junk, join(dir, 'j.onnx')]);
    expect(code).toBe(1);
    expect(err).toMatch(/thinnet export: thinnet\.loadModel: not a thinnet model/);
    expect(existsSync(join(dir, 'j.onnx'))).toBe(false);
  });
});

/** Modules reachable from a src/ entry: [file, [specifier, dynamic?]] (src imports './x.js' for './x.ts'). */
function srcGraph(entry: string): Map<string, Array<[string, boolean]>> {
  const seen = new Map<string, Array<[string, boolean]>>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const src = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const specs = [...src.matchAll(/^(?:import|export)(?!\s+type\b)[^'"]*?from\s*['"]([^'"]+)['"]|^import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)]
      .map((m): [string, boolean] => [m[1] ?? m[2] ?? m[3], m[3] !== undefined]);
    seen.set(file, specs);
    for (const [s] of specs) if (s.startsWith('.')) visit(join(dirname(file), s).replace(/\.js$/, '.ts'));
  };
  visit(entry);
  return seen;
}

describe('what importing thinnet loads', () => {
  const root = resolve(__dirname, '..');
  test('the browser entry reaches the interop code without any Node built-in', () => {
    const g = srcGraph(join(root, 'src/index.browser.ts'));
    expect([...g.keys()].some((f) => f.endsWith('io/onnx/import.ts'))).toBe(true);
    expect([...g.keys()].some((f) => f.endsWith('io/safetensors.ts'))).toBe(true);
    const mine = [...g].filter(([f]) => /io\/(onnx\/|safetensors|interop)/.test(f));
    const offenders = mine.flatMap(([f, specs]) => specs.filter(([s]) => s.startsWith('node:') || ['fs', 'path', 'os'].includes(s)).map(([s]) => `${f} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  test('the ONNX exporter/importer and its wire codec are imported only dynamically (not at `import "thinnet"`); no package dependency', () => {
    const g = srcGraph(join(root, 'src/index.node.ts'));
    // the modules a module loads with it: follow static imports only
    const staticClosure = (entry: string) => {
      const seen = new Set<string>();
      const walk = (f: string) => {
        if (seen.has(f)) return;
        seen.add(f);
        for (const [s, dyn] of g.get(f) ?? []) if (!dyn && s.startsWith('.')) walk(join(dirname(f), s).replace(/\.js$/, '.ts'));
      };
      walk(entry);
      return seen;
    };
    const eager = staticClosure(join(root, 'src/index.node.ts')); // loaded at import time
    const eagerSpecs = [...eager].flatMap((f) => (g.get(f) ?? []).filter(([, dyn]) => !dyn).map(([s]) => s));
    for (const lazy of ['io/onnx/import.ts', 'io/onnx/export.ts', 'io/onnx/wire.ts']) expect([...eager].some((f) => f.endsWith(lazy)), lazy).toBe(false);
    // loading (import.ts) does not load the exporter and its protobuf writer
    const fromImport = staticClosure(join(root, 'src/io/onnx/import.ts'));
    for (const exporter of ['io/onnx/export.ts', 'io/onnx/writer.ts']) expect([...fromImport].some((f) => f.endsWith(exporter)), exporter).toBe(false);
    // the ONNX code imports no package at all (it must load in workerd and unbundled browsers)
    const onnx = [...g].filter(([f]) => /io\/onnx\//.test(f));
    expect(onnx.length).toBeGreaterThan(3);
    expect(onnx.flatMap(([f, specs]) => specs.filter(([s]) => !s.startsWith('.')).map(([s]) => `${f} imports ${s}`))).toEqual([]);
  });
});
