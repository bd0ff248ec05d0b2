// Packaging: the browser entry's import graph has no Node built-ins, and the exports map points
// at files that exist after the build.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { importGraph } from './helpers/imports';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');


describe('package', () => {
  test('the browser entry imports no Node built-ins (no fs, path, worker_threads)', () => {
    const graph = importGraph(join(root, 'dist/index.browser.js'));
    expect(graph.size).toBeGreaterThan(5);
    const offenders = [...graph].flatMap(([file, specs]) => specs
      .filter((s) => s.startsWith('node:') || ['fs', 'path', 'os', 'worker_threads', 'fs/promises', 'zlib', 'url'].includes(s))
      .map((s) => `${file.slice(root.length + 1)} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  test("`import 'thinnet'` in Node loads neither the server code nor node:http (tn.serve loads them on first use)", () => {
    const probe = `const tn = await import(${JSON.stringify(join(root, 'dist/index.node.js'))});
      const before = process.moduleLoadList.includes('NativeModule http');
      await tn.ready({ threads: 1 });
      const s = await tn.serve(tn.sequential({ inputShape: [2], layers: [tn.layers.dense({ units: 2 })] }), { port: 0, threads: 1 });
      const after = process.moduleLoadList.includes('NativeModule http');
      await s.close(); await tn.close();
      console.log(JSON.stringify({ before, after, serve: typeof tn.serve }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ before: false, after: true, serve: 'function' });
  });

  test('the exports map and files list point at built files', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const targets = Object.values(pkg.exports['.']) as string[];
    for (const t of targets) expect(existsSync(join(root, t)), t).toBe(true);
    for (const b of ['simd', 'relaxed', 'threads', 'relaxed-threads']) expect(existsSync(join(root, `build/${b}.wasm`))).toBe(true);
  });
});
