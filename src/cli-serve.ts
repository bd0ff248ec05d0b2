// `thinnet serve model.tnet [options]`: the inference server of src/serve/ from the command line,
// with the signals a process manager sends: SIGTERM (and SIGINT, Ctrl-C) drain the requests in
// flight and exit 0; SIGHUP reloads the model file (the old model keeps serving if the new file
// cannot be loaded). Usage errors exit 2, as every thinnet command (cli.ts).
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tn from './index.node.js';

export const SERVE_HELP = `usage: thinnet serve MODEL.tnet [options]
  --port 8080               TCP port (0: any free port; the chosen one is printed)
  --host 127.0.0.1          interface to listen on (0.0.0.0: every interface)
  --threads N               wasm threads (default: all cores)
  --no-batching             answer each request alone (no micro-batching)
  --max-batch 128           most rows per batched model call
  --max-wait-ms 2           how long a request waits for others to batch with
  --max-body-bytes 8388608  largest request body
  --max-rows 1000           most rows per request
  --max-mc 100              largest mc (Monte-Carlo samples) per request
  --timeout-ms 10000        a request not answered in time gets 503
  --max-concurrent 256      requests in flight beyond which new ones get 503
  --drain-timeout-ms 10000  on SIGTERM, how long in-flight requests may take
  --expected-hash HEX       serve only this file (its SHA-256), also on reload
  --quiet                   no log lines but the one that says where it listens
signals: SIGTERM / SIGINT drain and exit 0; SIGHUP reloads MODEL.tnet. API: docs/SERVING.md`;

const OPTIONS = {
  port: { type: 'string' }, host: { type: 'string' }, threads: { type: 'string' }, 'no-batching': { type: 'boolean' },
  'max-batch': { type: 'string' }, 'max-wait-ms': { type: 'string' }, 'max-body-bytes': { type: 'string' },
  'max-rows': { type: 'string' }, 'max-mc': { type: 'string' }, 'timeout-ms': { type: 'string' },
  'max-concurrent': { type: 'string' }, 'drain-timeout-ms': { type: 'string' }, 'expected-hash': { type: 'string' },
  quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function int(v: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const s = v[name];
  if (s === undefined) return undefined;
  const x = Number(s);
  if (typeof s !== 'string' || !/^\d+$/.test(s.trim()) || x < min || x > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got '${String(s)}'`);
  return x;
}

function options(values: Record<string, unknown>, log: (m: string) => void): tn.ServeOptions {
  const wait = values['max-wait-ms'];
  let maxWaitMs: number | undefined;
  if (wait !== undefined) {
    maxWaitMs = Number(wait);
    if (String(wait).trim() === '' || !(maxWaitMs >= 0 && maxWaitMs <= 1000)) throw new UsageError(`--max-wait-ms must be a number of ms in [0, 1000], got '${String(wait)}'`);
  }
  const hash = values['expected-hash'];
  if (hash !== undefined && !/^[0-9a-f]{64}$/i.test(String(hash))) throw new UsageError(`--expected-hash must be 64 hex digits (a SHA-256), got '${String(hash)}'`);
  return {
    port: int(values, 'port', 0, 65535) ?? 8080,
    host: values.host === undefined ? '127.0.0.1' : String(values.host),
    batching: !values['no-batching'],
    maxBatchRows: int(values, 'max-batch', 1, 1 << 16), maxWaitMs,
    maxBodyBytes: int(values, 'max-body-bytes', 1, 2 ** 31), maxRows: int(values, 'max-rows', 1, 1 << 20),
    maxMc: int(values, 'max-mc', 0, 1e6), timeoutMs: int(values, 'timeout-ms', 1, 2 ** 31),
    maxConcurrent: int(values, 'max-concurrent', 1, 2 ** 31), drainTimeoutMs: int(values, 'drain-timeout-ms', 0, 2 ** 31),
    load: hash === undefined ? undefined : { expectedHash: String(hash).toLowerCase() },
    log,
  };
}

/** Runs `thinnet serve` until SIGTERM / SIGINT; resolves to the exit status. */
export async function serveCommand(args: string[]): Promise<number> {
  let quiet = false;
  const log = (m: string) => { if (!quiet) console.log(m); };
  try {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
    if (values.help) {
      console.log(SERVE_HELP);
      return 0;
    }
    quiet = Boolean(values.quiet);
    if (positionals.length !== 1) throw new UsageError(`serve takes one model file, got ${positionals.length === 0 ? 'none' : positionals.map((p) => `'${p}'`).join(' ')}`);
    const path = positionals[0];
    let isFile = false;
    try { isFile = statSync(path).isFile(); } catch { /* missing */ }
    if (!isFile) throw new UsageError(`${path} is not a file (give the path of a .tnet model)`);
    const o = options(values, log);
    const threads = int(values, 'threads', 1, 64);
    const info = await tn.ready({ threads: threads ?? 'auto' });
    const server = await tn.serve(path, o);
    const m = server.model;
    console.log(`thinnet serve: listening on ${server.url} — ${path} ([${m.inputShape.join(', ')}] → ${m.outputSize}, ${m.paramCount} parameters, ` +
      `sha256 ${server.modelInfo.sha256.slice(0, 12)}…); ${info.backend}, ${info.threads} thread(s); batching ${o.batching ? 'on' : 'off'}`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log(`thinnet serve: ${signal}: draining`);
        process.off('SIGHUP', hup);
        server.close().then(resolve, resolve);
      };
      const hup = () => { server.reload().catch(() => { /* logged by the server; the old model serves on */ }); };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', hup);
    });
    log('thinnet serve: stopped');
    return 0;
  } catch (e) {
    console.error(`thinnet serve: ${(e as Error).message}`);
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    if (usage) console.error('run `thinnet serve --help` for the options');
    return usage ? 2 : 1;
  }
}
