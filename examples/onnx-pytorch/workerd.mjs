// Runs worker.mjs in Cloudflare's workerd (npm `workerd`, a devDependency here):
//
//   node examples/onnx-pytorch/workerd.mjs [--port 8787]    serves it; then curl http://127.0.0.1:8787/
//   node examples/onnx-pytorch/workerd.mjs --once           starts it, prints its answer (JSON), stops
//   ... --data DIR                                          cnn.onnx, mnist32.input.bin and cnn.expected.bin
//                                                           from DIR (default: the committed test/fixtures/onnx/)
//
// workerd runs no bundler and has no node_modules resolution: its capnp config lists every
// module by name. This script writes that config into a temporary directory: worker.mjs and
// example.js; thinnet's browser entry (dist/index.browser.js) and every module it can import,
// found by reading their import statements; thinnet's two dependencies, declared next to the
// module that imports them (workerd resolves a bare specifier relative to its importer);
// build/simd.wasm as a `wasm` module (a WebAssembly.Module); the three files as `data` modules.
// Module names are paths relative to a common root, so the relative imports resolve as on disk.
// test/onnx-example.test.ts uses startWorkerd() below.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const DATA_FILES = ['cnn.onnx', 'mnist32.input.bin', 'cnn.expected.bin'];
const DEFAULT_DATA = join(here, '../../test/fixtures/onnx');

/** Every module reachable from `entry` through relative static or dynamic imports: file → its import specifiers. */
function importGraph(entry) {
  const seen = new Map();
  const visit = (file) => {
    if (seen.has(file)) return;
    const specs = [...readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)]
      .map((m) => m[1] ?? m[2]);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) visit(join(dirname(file), s));
  };
  visit(entry);
  return seen;
}

/** The deepest directory containing both a and b. */
function commonDir(a, b) {
  const x = a.split(sep), y = b.split(sep);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return x.slice(0, i).join(sep) || sep;
}

/** A relative import specifier for `to`, from a module in directory `from`. */
function importPath(from, to) {
  const r = relative(from, to).split(sep).join('/');
  return r.startsWith('../') ? r : `./${r}`;
}

/** The capnp config (text) for a config file in `dir`, serving on 127.0.0.1:port (0: any free port). */
export function workerdConfig(dir, { port = 8787, data = DEFAULT_DATA } = {}) {
  // thinnet's folder: this repository (a package can import itself by name) or node_modules/thinnet
  const pkg = dirname(require.resolve('thinnet/package.json'));
  // thinnet's dependencies, found as Node would from thinnet's folder: the loader's ES module
  // build, and seedrandom's ARC4 generator alone (CommonJS; its index.js also requires the other
  // generators, which thinnet does not use)
  const from = createRequire(join(pkg, 'package.json')).resolve.paths('');
  const packageDir = (p) => from.map((d) => join(d, p)).find((d) => existsSync(join(d, 'package.json')));
  const dependency = {
    '@assemblyscript/loader': ['esModule', join(packageDir('@assemblyscript/loader'), 'index.js')],
    seedrandom: ['commonJsModule', join(packageDir('seedrandom'), 'seedrandom.js')],
  };
  for (const f of DATA_FILES) if (!existsSync(resolve(data, f))) throw new Error(`${f} not found in ${resolve(data)} (--data DIR)`);
  const base = commonDir(here, pkg);
  const name = (file) => relative(base, file).split(sep).join('/');
  const embed = (file) => JSON.stringify(relative(dir, file));
  const at = name(here) ? `${name(here)}/` : ''; // the worker's folder, e.g. examples/onnx-pytorch/
  const entry = join(pkg, 'dist/index.browser.js');
  const modules = [
    `(name = "${at}worker.mjs", esModule = embed ${embed(join(here, 'worker.mjs'))})`,
    `(name = "${at}example.js", esModule = embed ${embed(join(here, 'example.js'))})`,
    // the worker's `import ... from 'thinnet'` and 'thinnet/build/simd.wasm'
    `(name = "${at}thinnet", esModule = ${JSON.stringify(`export * from '${importPath(here, entry)}';`)})`,
    `(name = "${at}thinnet/build/simd.wasm", wasm = embed ${embed(join(pkg, 'build/simd.wasm'))})`,
    ...DATA_FILES.map((f) => `(name = "${at}${f}", data = embed ${embed(resolve(data, f))})`),
  ];
  const declared = new Set();
  for (const [file, specs] of importGraph(entry)) {
    modules.push(`(name = ${JSON.stringify(name(file))}, esModule = embed ${embed(file)})`);
    for (const s of specs) {
      const next = `${dirname(name(file))}/${s}`;
      if (s.startsWith('.') || declared.has(next)) continue;
      if (!dependency[s]) throw new Error(`${name(file)} imports '${s}', which this config does not declare`);
      declared.add(next);
      const [kind, path] = dependency[s];
      modules.push(`(name = ${JSON.stringify(next)}, ${kind} = embed ${embed(path)})`);
    }
  }
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",
);
`;
}

/** The workerd binary of the `workerd` npm package (its platform package holds it). */
export function workerdBinary() {
  const mod = require('workerd');
  return mod.default ?? mod;
}

/**
 * Starts `workerd serve` on a generated config. Resolves once it listens, with its URL and
 * stop() (SIGTERM, then removes the config directory). workerd's output is collected in `log`
 * (and passed to onOutput).
 */
export async function startWorkerd({ port = 8787, data = DEFAULT_DATA, binary = workerdBinary(), onOutput = () => {} } = {}) {
  const log = [];
  const dir = mkdtempSync(join(tmpdir(), 'thinnet-onnx-example-'));
  try {
    writeFileSync(join(dir, 'config.capnp'), workerdConfig(dir, { port, data }));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const child = spawn(binary, ['serve', join(dir, 'config.capnp'), '--control-fd=3'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const output = (d) => { log.push(String(d)); onOutput(String(d)); };
  child.stdout.on('data', output);
  child.stderr.on('data', output);
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const actual = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`workerd did not start within 20 s:\n${log.join('')}`)), 20_000);
      let buffered = '';
      // workerd reports {"event":"listen","socket":"http","port":N} on the control descriptor
      child.stdio[3].on('data', (d) => {
        buffered += String(d);
        for (const line of buffered.split('\n').slice(0, -1)) {
          try {
            const msg = JSON.parse(line);
            if (msg.event === 'listen' && msg.socket === 'http') { clearTimeout(timer); ok(msg.port); }
          } catch { /* not a JSON line */ }
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      child.once('exit', (code, signal) => { clearTimeout(timer); fail(new Error(`workerd exited (${code ?? signal}) before listening:\n${log.join('')}`)); });
    });
    return { url: `http://127.0.0.1:${actual}/`, stop, log };
  } catch (e) {
    await stop();
    throw e;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
  const once = args.includes('--once');
  const server = await startWorkerd({ port: once ? 0 : Number(opt('--port') ?? 8787), data: opt('--data') ?? DEFAULT_DATA,
    onOutput: (text) => process.stderr.write(text) });
  if (once) {
    try {
      const r = await fetch(server.url, { signal: AbortSignal.timeout(60_000) });
      console.log(JSON.stringify(await r.json(), null, 1));
    } finally {
      await server.stop();
    }
  } else {
    console.log(`workerd serves examples/onnx-pytorch/worker.mjs at ${server.url} (GET / or /?full=1; Ctrl-C stops it)`);
    const quit = async () => { await server.stop(); process.exit(0); };
    process.on('SIGINT', quit);
    process.on('SIGTERM', quit);
  }
}
