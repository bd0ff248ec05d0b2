// Resumable experiment trials for the long examples (conv-mnist, gaussian-table, dataset-size,
// architectures, regularizers-table): each trial is one `thinnet train` child process
// (checkpointed every 5 epochs and resumed by rerunning the same command), and its validation and
// test errors are cached in <dir>/results.json (written atomically), so an interrupted script
// continues where it stopped. A trial given a `parse` function also caches what it extracts from
// the child's output (e.g. the per-epoch test-error curve, epochCurve): with a dir, every
// attempt's output is appended to <dir>/<key>.log, so a resumed run's curve keeps the epochs
// printed before the interruption.
//
// A session's runs/ folder does not outlive its machine, so with a dir and a `record` name every
// finished trial is also written to examples/results/<record>.json, which is committed: a later
// session (or a reader) reuses a recorded result only for exactly the same command — the same
// flags and values but for --threads and the checkpoint flags, which do not change the bits.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A command as printed in the docs (dist/cli.js relative to the repository). */
export const shown = (args) => `node ${args.map((a) => (a === cli ? 'dist/cli.js' : a)).join(' ')}`;

/**
 * Runs one `thinnet train` child (its stdout echoed to stderr and, with `log`, appended to that
 * file as it arrives); resolves with its stdout.
 */
export function runTrain(args, { log } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stderr.write(d); if (log) appendFileSync(log, d); });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`thinnet train exited with ${code}`))));
  });
}

/**
 * The per-epoch held-out errors a `thinnet train` child prints (`<label> epoch e/E ... test error
 * x%` without --validation, `val error x%` with it; epochs without an evaluation print none), as
 * [[epoch, error %], ...] in epoch order. `text` may hold several attempts of one resumed run: a
 * resumed child reprints the epochs after its checkpoint, and the last line of each epoch wins.
 */
export function epochCurve(text, which = 'test') {
  const byEpoch = new Map();
  const re = new RegExp(String.raw`^\S+ epoch (\d+)/\d+ .*?\b${which === 'val' ? 'val' : 'test'} error ([\d.]+)%`, 'gm');
  for (const m of String(text).matchAll(re)) byEpoch.set(Number(m[1]), Number(m[2]));
  return [...byEpoch].sort((a, b) => a[0] - b[0]);
}

const UNRECORDED = new Set(['--threads', '--checkpoint', '--checkpoint-every']);
/** A command as recorded: shown(args) without the flags that do not change its result. */
export function runOf(args) {
  const kept = [];
  for (let i = 0; i < args.length; i++) {
    if (UNRECORDED.has(args[i])) i++;
    else if (args[i] !== '--resume') kept.push(args[i]);
  }
  return shown(kept);
}

/**
 * Trials cached in dir/results.json (dir undefined: nothing cached, nothing resumed). With a
 * `record` name, finished trials are also kept in examples/results/<record>.json (see above). With
 * dryRun, trial() prints each command instead of running it and returns undefined.
 */
export function trials(dir, { dryRun = false, record } = {}) {
  const file = dir && `${dir}/results.json`;
  const cache = file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  // THINNET_EXAMPLE_RESULTS: another folder for the records (the tests use a temporary one)
  const recordDir = process.env.THINNET_EXAMPLE_RESULTS ?? fileURLToPath(new URL('../results/', import.meta.url));
  const recordFile = dir && record ? `${recordDir}/${record}.json` : undefined;
  const records = recordFile && existsSync(recordFile) ? JSON.parse(readFileSync(recordFile, 'utf8')) : {};
  if (dir && !dryRun) mkdirSync(dir, { recursive: true });
  const writeJson = (path, value) => {
    writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 1) + '\n');
    renameSync(`${path}.tmp`, path);
  };
  const save = () => { if (file) writeJson(file, cache); };
  /** The checkpoint flags of trial `name`, every `every` epochs (empty without a dir). */
  const checkpoint = (name, every = 5) => (dir ? ['--checkpoint', `${dir}/${name}.tnet`, '--checkpoint-every', String(every), '--resume'] : []);
  /**
   * Runs (or takes from the cache) one thinnet train command; returns its errors and wall time
   * (of the last attempt). The validation error is required when the command has --validation
   * (every command of the scripts before architectures.mjs has), else absent. With `parse`, the
   * result also holds parse(output) — the output of every attempt of this trial when there is a
   * dir (its log starts afresh when the trial's --checkpoint file does not exist yet).
   */
  async function trial(key, args, { parse } = {}) {
    if (cache[key]) return cache[key];
    const run = runOf(args);
    if (records[key]?.run === run) { cache[key] = records[key]; save(); return cache[key]; }
    if (dryRun) { console.log(shown(args)); return undefined; }
    const t0 = performance.now();
    const log = parse && dir ? `${dir}/${key}.log` : undefined;
    if (log) {
      const ck = args.indexOf('--checkpoint');
      if (ck < 0 || !existsSync(args[ck + 1])) writeFileSync(log, ''); // a fresh start: no stale epochs
    }
    const out = await runTrain(args, { log });
    const needVal = args.includes('--validation');
    const val = /validation error: ([\d.]+)%/.exec(out), test = /test error: ([\d.]+)%/.exec(out);
    if (!test || (needVal && !val)) throw new Error(`${key}: no ${needVal ? 'validation / ' : ''}test error in the output`);
    const r = { ...(val ? { val: Number(val[1]) } : {}), test: Number(test[1]), minutes: (performance.now() - t0) / 60000, command: shown(args),
      ...(parse ? parse(log ? readFileSync(log, 'utf8') : out) : {}) };
    cache[key] = r;
    save();
    if (recordFile) {
      const latest = existsSync(recordFile) ? JSON.parse(readFileSync(recordFile, 'utf8')) : {};
      mkdirSync(dirname(recordFile), { recursive: true });
      writeJson(recordFile, { ...latest, [key]: { ...r, run } });
    }
    return r;
  }
  return { trial, checkpoint };
}
