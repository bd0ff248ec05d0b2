// Cloudflare's workerd for the tests (npm `workerd`, binary from its platform optionalDependency,
// e.g. @cloudflare/workerd-linux-64): find the binary, generate a capnp config for
// test/fixtures/workerd/worker.mjs over a given package layout, serve it, fetch its one answer,
// and compute the answer Node gives for the same model bytes. Used by test/workerd.test.ts (the
// repository's dist/) and test/pack.test.ts (the package installed from the tarball).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importGraph } from './imports';
// @ts-ignore -- plain JavaScript module without declarations
import { convDigest, dropoutDigest, hashBytes, syntheticData, values } from '../fixtures/workload.mjs';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(repo, 'test/fixtures/workerd/worker.mjs');
// Must match test/fixtures/workerd/worker.mjs.
const FEATURES = 16;
const ROWS = 8;
const INPUT_SEED = 77;
const COMPATIBILITY_DATE = '2025-01-01';

export function workerdBinary(): { path: string; version: string } | undefined {
  let path: string;
  try {
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
 * Where the worker's modules come from. Module names are paths relative to `base`, so relative
 * imports resolve as on disk. `pkg` is the thinnet package folder (relative to base: '' for the
 * repository, 'node_modules/thinnet' for an installed package); its dependencies are found in
 * base/node_modules.
 */
export interface Layout { base: string; pkg: string }

/** The worker module for a layout: the fixture, its three imports pointed at the layout's files. */
function workerSource(layout: Layout): { name: string; text: string } {
  const text = readFileSync(FIXTURE, 'utf8');
  if (layout.base === repo && layout.pkg === '') return { name: 'test/fixtures/workerd/worker.mjs', text };
  const p = layout.pkg ? `./${layout.pkg}/` : './';
  return {
    name: 'worker.mjs',
    text: text.replace("'../../../dist/index.browser.js'", `'${p}dist/index.browser.js'`)
      .replace("'../../../build/simd.wasm'", `'${p}build/simd.wasm'`)
      .replace("'../workload.mjs'", "'./test-workload.mjs'"),
  };
}

/**
 * The capnp module entries of an import graph (file → its specifiers): each file as an ES module,
 * and each bare import — `@assemblyscript/loader` (ESM) and `seedrandom` (CommonJS), declared
 * next to its importer because workerd resolves a bare specifier relative to the importing
 * module. An undeclared package is an error, or left out with `skipUndeclared` (for a worker that
 * never loads it). Used here and by test/serve-worker.test.ts.
 */
export function graphModules(files: Map<string, string[]>, name: (file: string) => string, embed: (file: string) => string,
  { skipUndeclared = false } = {}): string[] {
  const packages: Record<string, string> = {
    '@assemblyscript/loader': 'esModule = embed ' + embed('node_modules/@assemblyscript/loader/index.js'),
    seedrandom: 'commonJsModule = embed ' + embed('node_modules/seedrandom/seedrandom.js'),
  };
  const modules: string[] = [];
  const bare = new Map<string, string>(); // module name next to its importer → package
  for (const [file, specs] of files) {
    modules.push(`(name = ${JSON.stringify(name(file))}, esModule = embed ${embed(name(file))})`);
    for (const s of specs.filter((x) => !x.startsWith('.'))) {
      if (!(s in packages)) {
        if (skipUndeclared) continue;
        throw new Error(`${name(file)} imports ${s}, which the workerd config does not declare`);
      }
      bare.set(`${dirname(name(file))}/${s}`, s);
    }
  }
  for (const [b, s] of bare) modules.push(`(name = ${JSON.stringify(b)}, ${packages[s]})`);
  return modules;
}

/**
 * The capnp config in `dir` (with model.tnet beside it). workerd resolves a bare specifier
 * relative to the importing module, so `@assemblyscript/loader` (ESM) and `seedrandom` (CommonJS)
 * are declared next to each importer.
 */
function config(dir: string, layout: Layout): string {
  const { base } = layout;
  const at = (file: string) => join(layout.pkg, file);
  const embed = (file: string) => JSON.stringify(relative(dir, join(base, file)));
  const name = (file: string) => relative(base, file).split('\\').join('/');
  const worker = workerSource(layout);
  const workload = worker.name === 'worker.mjs' ? 'test-workload.mjs' : 'test/fixtures/workload.mjs';
  if (worker.name === 'worker.mjs') {
    writeFileSync(join(dir, 'worker.mjs'), worker.text);
    copyFileSync(join(repo, 'test/fixtures/workload.mjs'), join(dir, 'test-workload.mjs'));
  }
  const own = (file: string) => (worker.name === 'worker.mjs' ? JSON.stringify(file) : embed(file));
  const modules = [
    `(name = "${worker.name}", esModule = embed ${own(worker.name)})`,
    `(name = "${workload}", esModule = embed ${own(workload)})`,
    `(name = ${JSON.stringify(name(join(base, at('build/simd.wasm'))))}, wasm = embed ${embed(at('build/simd.wasm'))})`,
  ];
  modules.push(...graphModules(importGraph(join(base, at('dist/index.browser.js'))), name, embed));
  return capnpConfig(modules, ['(name = "MODEL", data = embed "model.tnet")']);
}

/** A one-worker capnp config listening on an ephemeral loopback port. */
export function capnpConfig(modules: string[], bindings: string[] = []): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  bindings = [ ${bindings.join(', ')} ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
);
`;
}

/** Starts `workerd serve` and resolves with the port it reports on the control descriptor. */
export function startWorkerd(binary: string, dir: string, log: string[]): { child: ChildProcess; port: Promise<number> } {
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

/** Serves the worker over `layout` with `modelBytes` as its MODEL binding; returns its one answer. */
export async function runWorkerd(binary: string, layout: Layout, modelBytes: Uint8Array): Promise<{ status: number; result: any; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'thinnet-workerd-'));
  const log: string[] = [];
  let child: ChildProcess | undefined;
  try {
    writeFileSync(join(dir, 'model.tnet'), modelBytes);
    writeFileSync(join(dir, 'config.capnp'), config(dir, layout));
    const started = Date.now();
    const s = startWorkerd(binary, dir, log);
    child = s.child;
    const port = await s.port;
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(30_000) });
    return { status: response.status, result: await response.json(), ms: Date.now() - started };
  } finally {
    await stopWorkerd(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM (SIGKILL after 5 s) to a workerd child that is still running; resolves when it has exited. */
export async function stopWorkerd(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The model the worker gets: a tiny dropout MLP after 4 SGD steps with fixed seeds. Call after tn.ready(). */
export async function workerdModel(tn: any): Promise<Uint8Array> {
  const { x, y, features, classes } = syntheticData(64);
  const model = tn.sequential({ inputShape: [features], seed: 21, layers: [
    tn.layers.dense({ units: 12, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: classes })] });
  model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'softmaxCrossEntropy' });
  await model.fit(x, y, { epochs: 2, batchSize: 32 });
  const bytes = model.toBytes();
  model.dispose();
  return bytes;
}

/** What the worker must answer for these model bytes, computed by Node (plain SIMD build, one thread). */
export async function nodeAnswer(tn: any, modelBytes: Uint8Array): Promise<Record<string, unknown>> {
  const model = await tn.loadModel(modelBytes);
  const x = values(ROWS * FEATURES, INPUT_SEED);
  const predictions = model.predict(x);
  const mc = model.predict(x, { mc: 4 });
  model.dispose();
  const fresh = tn.sequential({ inputShape: [FEATURES], seed: 9, layers: [tn.layers.dense({ units: 4 })] });
  const initHash = hashBytes(fresh.parameters());
  fresh.dispose();
  return {
    wasmIsModule: true, backend: 'simd', threads: 1, modelBytes: modelBytes.byteLength,
    predictions: Array.from(predictions), predictionsHash: hashBytes(predictions), mcHash: hashBytes(mc),
    initHash, dropout: dropoutDigest(tn), conv: await convDigest(tn),
  };
}
