// Cloudflare's workerd (npm `workerd`, binary from its platform optionalDependency, e.g.
// @cloudflare/workerd-linux-64): test/fixtures/workerd/worker.mjs imports the browser entry, gets
// build/simd.wasm as a `wasm` module (a WebAssembly.Module, how edge runtimes import wasm) and a
// .tnet model trained here as a `data` binding, and answers one HTTP request with its predictions
// and dropout digests. Every number must equal Node's bit for bit. The capnp config is generated
// into a temporary directory from the browser entry's import graph; workerd picks an ephemeral
// port and reports it on --control-fd. docs/RUNTIMES.md describes it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { importGraph } from './helpers/imports';
import * as tn from '../dist/index.node.js';
import { dropoutDigest, hashBytes, syntheticData, values } from './fixtures/workload.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// Must match test/fixtures/workerd/worker.mjs.
const FEATURES = 16;
const ROWS = 8;
const INPUT_SEED = 77;
const COMPATIBILITY_DATE = '2025-01-01';

function workerdBinary(): { path: string; version: string } | undefined {
  let path: string;
  try {
    // The workerd package resolves its platform package's binary (optionalDependencies).
    const mod = createRequire(import.meta.url)('workerd');
    path = mod.default ?? mod;
  } catch {
    return undefined;
  }
  if (typeof path !== 'string' || !existsSync(path)) return undefined;
  try {
    const version = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 }).trim();
    return { path, version };
  } catch {
    return undefined;
  }
}


/**
 * The capnp config. Module names are repository-relative paths, so relative imports resolve as
 * on disk. workerd resolves a bare specifier relative to the importing module too, so
 * `@assemblyscript/loader` (ESM) and `seedrandom` (CommonJS) are declared next to each importer.
 */
function config(dir: string): string {
  const embed = (file: string) => JSON.stringify(relative(dir, join(root, file)));
  const name = (file: string) => relative(root, file).split('\\').join('/');
  const packages: Record<string, string> = {
    '@assemblyscript/loader': 'esModule = embed ' + embed('node_modules/@assemblyscript/loader/index.js'),
    seedrandom: 'commonJsModule = embed ' + embed('node_modules/seedrandom/seedrandom.js'),
  };
  const modules = [
    `(name = "test/fixtures/workerd/worker.mjs", esModule = embed ${embed('test/fixtures/workerd/worker.mjs')})`,
    `(name = "test/fixtures/workload.mjs", esModule = embed ${embed('test/fixtures/workload.mjs')})`,
    `(name = "build/simd.wasm", wasm = embed ${embed('build/simd.wasm')})`,
  ];
  const bare = new Map<string, string>(); // module name next to its importer → package
  for (const [file, specs] of importGraph(join(root, 'dist/index.browser.js'))) {
    modules.push(`(name = ${JSON.stringify(name(file))}, esModule = embed ${embed(name(file))})`);
    for (const s of specs.filter((x) => !x.startsWith('.'))) {
      if (!(s in packages)) throw new Error(`${name(file)} imports ${s}, which the workerd config does not declare`);
      bare.set(`${dirname(name(file))}/${s}`, s);
    }
  }
  for (const [b, s] of bare) modules.push(`(name = ${JSON.stringify(b)}, ${packages[s]})`);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  bindings = [ (name = "MODEL", data = embed "model.tnet") ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
);
`;
}

/** Starts `workerd serve` and resolves with the port it reports on the control descriptor. */
function serve(binary: string, dir: string, log: string[]): { child: ChildProcess; port: Promise<number> } {
  const child = spawn(binary, ['serve', join(dir, 'config.capnp'), '--control-fd=3'], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => log.push(String(d)));
  child.stderr!.on('data', (d) => log.push(String(d)));
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workerd did not start within 20 s:\n${log.join('')}`)), 20_000);
    let buffered = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
      buffered += String(d);
      for (const line of buffered.split('\n').slice(0, -1)) {
        let msg: any;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.event === 'listen' && msg.socket === 'http') {
          clearTimeout(timer);
          resolve(msg.port);
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited (${code ?? signal}) before listening:\n${log.join('')}`));
    });
  });
  return { child, port };
}

const workerd = workerdBinary();

if (!workerd) {
  if (process.env.CI) {
    test('workerd is installed', () => {
      throw new Error('the workerd binary is missing or does not run: `npm ci` should install it (devDependency workerd)');
    });
  } else {
    test.skip('workerd tests skipped: the workerd binary is missing or does not run (npm install)', () => {});
  }
} else {
  describe(`workerd (${workerd.version})`, () => {
    let dir: string;
    let child: ChildProcess | undefined;
    const log: string[] = [];
    let modelBytes: Uint8Array;
    let result: any;
    let status = 0;

    beforeAll(async () => {
      await tn.ready({ backend: 'simd', threads: 1 });
      // A tiny dropout MLP, 4 SGD steps with fixed seeds; its bytes go to the worker.
      const { x, y, features, classes } = syntheticData(64);
      const model = tn.sequential({
        inputShape: [features], seed: 21, layers: [
          tn.layers.dense({ units: 12, activation: 'relu' }),
          tn.layers.dropout({ keep: 0.5 }),
          tn.layers.dense({ units: classes }),
        ],
      });
      model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'softmaxCrossEntropy' });
      await model.fit(x, y, { epochs: 2, batchSize: 32 });
      modelBytes = model.toBytes();
      model.dispose();

      dir = mkdtempSync(join(tmpdir(), 'thinnet-workerd-'));
      writeFileSync(join(dir, 'model.tnet'), modelBytes);
      writeFileSync(join(dir, 'config.capnp'), config(dir));
      const started = Date.now();
      const s = serve(workerd.path, dir, log);
      child = s.child;
      const port = await s.port;
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(30_000) });
      status = response.status;
      result = await response.json();
      console.log(`${workerd.version}: started and answered in ${Date.now() - started} ms`);
    }, 60_000);

    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child!.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
      await tn.close();
    });

    test('the worker loads the browser entry with build/simd.wasm imported as a WebAssembly.Module', () => {
      expect(result.error, result.error).toBeUndefined();
      expect(status).toBe(200);
      expect(result.runtime).toEqual({ name: 'workerd', userAgent: 'Cloudflare-Workers' });
      expect(result).toMatchObject({ wasmIsModule: true, backend: 'simd', threads: 1, modelBytes: modelBytes.byteLength });
    });

    test('predictions of the model loaded from the same bytes equal Node\'s, bit for bit', async () => {
      const model = await tn.loadModel(modelBytes);
      const x = values(ROWS * FEATURES, INPUT_SEED);
      const predictions = model.predict(x);
      const mc = model.predict(x, { mc: 4 });
      model.dispose();
      expect(predictions).toHaveLength(ROWS * 3);
      expect(result.predictions).toEqual(Array.from(predictions));
      expect(result.predictionsHash).toBe(hashBytes(predictions));
      expect(result.mcHash).toBe(hashBytes(mc));
    });

    test('dropout with fixed seeds (masks, backward, inverted, Gaussian) hashes to Node\'s values', () => {
      const node = dropoutDigest(tn);
      expect(result.dropout.mask).toBe(node.mask);
      expect(result.dropout).toEqual(node);
    });

    test('seedrandom (CommonJS, a commonJsModule in workerd) gives Node\'s initial weights', () => {
      const fresh = tn.sequential({ inputShape: [FEATURES], seed: 9, layers: [tn.layers.dense({ units: 4 })] });
      expect(result.initHash).toBe(hashBytes(fresh.parameters()));
      fresh.dispose();
    });
  });
}
