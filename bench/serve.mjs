// Load test of the inference server (tn.serve): batch-1 JSON requests against the MNIST MLP
// 784-1024-1024-10 (dropout 0.8 / 0.5 / 0.5, paper convention; weights from its seeded
// initialization, untrained — serving cost does not depend on the weights' values), from
// autocannon, on loopback only, bounded in time. Each configuration runs in a fresh server
// process (so its RSS is its own), after a short warm-up:
//   on        micro-batching (the default server)
//   off       no micro-batching: a lone row takes thinnet's single-row (GEMV) path, whose
//             answer has the bits of the batched one (since 2026-12-04; before, the server
//             predicted it as two rows to get them, and an 'off-gemv' mode measured the GEMV)
// Prints requests/s, p50/p99 latency, errors, RSS at start and end, mean rows per model call,
// and the ratio of 'on' to 'off'.
//
//   npm run bench:serve                                  # 60 s per configuration, 64 connections, 2 threads
//   node bench/serve.mjs --duration 10 --connections 32 --threads 2 --modes on,off
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const self = fileURLToPath(import.meta.url);
const MODES = {
  on: { batching: true },
  off: { batching: false },
};

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]));
else await main();

/** The server process: loads thinnet with `threads`, serves the model, prints its URL, drains on SIGTERM. */
async function child({ model, threads, options }) {
  const tn = await import('../dist/index.node.js');
  await tn.ready({ threads });
  const server = await tn.serve(model, { port: 0, host: '127.0.0.1', ...options });
  console.log(JSON.stringify({ url: server.url, info: await tn.ready() }));
  process.once('SIGTERM', async () => {
    await server.close();
    await tn.close();
    process.exit(0);
  });
}

function startServer(model, threads, options) {
  const proc = spawn(process.execPath, [...process.execArgv, self, '--child', JSON.stringify({ model, threads, options })], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ proc, ...JSON.parse(line) });
    });
    proc.on('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
  });
}

async function stopServer(proc) {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Values of /metrics: RSS and the batch histogram's sum and count. */
async function scrape(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name) => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: get('process_resident_memory_bytes'), rows: get('thinnet_batch_rows_sum'), calls: get('thinnet_batch_rows_count') };
}

async function main() {
  const { values } = parseArgs({ options: {
    duration: { type: 'string', default: '60' }, connections: { type: 'string', default: '64' }, threads: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'on,off' }, 'max-batch': { type: 'string', default: '128' }, 'max-wait-ms': { type: 'string', default: '2' },
    warmup: { type: 'string', default: '3' },
  } });
  const duration = Number(values.duration), connections = Number(values.connections), threads = Number(values.threads), warmup = Number(values.warmup);
  const modes = values.modes.split(',');
  for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: unknown mode '${m}' (${Object.keys(MODES).join(', ')})`);
  if (!(duration > 0) || !(connections >= 1) || !(threads >= 1)) throw new Error('--duration, --connections and --threads must be positive');
  const { default: autocannon } = await import('autocannon');
  const tn = await import('../dist/index.node.js');

  // the model file, built here (seeded initialization) and served by each server process
  await tn.ready({ threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'thinnet-bench-serve-'));
  const modelPath = join(dir, 'mnist-mlp.tnet');
  const model = tn.sequential({ inputShape: [784], seed: 1, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 10 }),
  ] });
  await model.save(modelPath);
  model.dispose();
  await tn.close();

  // 16 different batch-1 bodies: MNIST-like pixels in [0, 1], three decimals (~4 KB of JSON)
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const bodies = Array.from({ length: 16 }, () => JSON.stringify({ inputs: [Array.from({ length: 784 }, () => (rand() < 0.8 ? 0 : Math.round(rand() * 1000) / 1000))] }));
  const requests = bodies.map((body) => ({ method: 'POST', path: '/predict', headers: { 'content-type': 'application/json' }, body }));

  const rows = [];
  try {
    for (const mode of modes) {
      const options = { ...MODES[mode], maxBatchRows: Number(values['max-batch']), maxWaitMs: Number(values['max-wait-ms']) };
      const { proc, url, info } = await startServer(modelPath, threads, options);
      try {
        const check = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0] });
        if (check.status !== 200) throw new Error(`the server answered ${check.status}: ${await check.text()}`);
        if (warmup > 0) await autocannon({ url, connections, duration: warmup, requests });
        const before = await scrape(url);
        // RSS every 5 s of the run: flat, or growing?
        const rssTrace = [];
        const sampler = setInterval(() => { scrape(url).then((m) => rssTrace.push(Math.round(m.rss / 2 ** 20)), () => {}); }, 5000);
        const r = await autocannon({ url, connections, duration, requests, timeout: 10 });
        clearInterval(sampler);
        const after = await scrape(url);
        const row = {
          mode, backend: info.backend, threads: info.threads, connections, seconds: duration,
          rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99,
          errors: r.errors + r.timeouts + r.non2xx, ok: r['2xx'],
          rssStartMB: Math.round(before.rss / 2 ** 20), rssEndMB: Math.round(after.rss / 2 ** 20),
          rowsPerCall: Number(((after.rows - before.rows) / Math.max(1, after.calls - before.calls)).toFixed(1)),
          rssTraceMB: rssTrace,
        };
        rows.push(row);
        console.log(`${mode.padEnd(9)} ${String(row.rps).padStart(6)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  errors ${row.errors}  ` +
          `RSS ${row.rssStartMB} → ${row.rssEndMB} MB (every 5 s: ${rssTrace.join(' ')})  ${row.rowsPerCall} rows/call  (${info.backend}, ${info.threads} threads, ${connections} connections, ${duration} s)`);
      } finally {
        await stopServer(proc);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const on = rows.find((r) => r.mode === 'on');
  for (const off of rows.filter((r) => r.mode !== 'on')) {
    if (on) console.log(`batching on / ${off.mode}: ${(on.rps / off.rps).toFixed(2)}× requests/s`);
  }
  console.log(JSON.stringify(rows));
}
