// Resumable experiment trials for the long examples (conv-mnist, gaussian-table, dataset-size): each trial is
// one `thinnet train` child process (checkpointed every 5 epochs and resumed by rerunning the
// same command), and its validation and test errors are cached in <dir>/results.json (written
// atomically), so an interrupted script continues where it stopped.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A command as printed in the docs (dist/cli.js relative to the repository). */
export const shown = (args) => `node ${args.map((a) => (a === cli ? 'dist/cli.js' : a)).join(' ')}`;

/** Runs one `thinnet train` child (its stdout echoed to stderr); resolves with its stdout. */
export function runTrain(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stderr.write(d); });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`thinnet train exited with ${code}`))));
  });
}

/**
 * Trials cached in dir/results.json (dir undefined: nothing cached, nothing resumed). With
 * dryRun, trial() prints each command instead of running it and returns undefined.
 */
export function trials(dir, { dryRun = false } = {}) {
  const file = dir && `${dir}/results.json`;
  const cache = file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (dir && !dryRun) mkdirSync(dir, { recursive: true });
  const save = () => {
    if (!file) return;
    writeFileSync(`${file}.tmp`, JSON.stringify(cache, null, 1));
    renameSync(`${file}.tmp`, file);
  };
  /** The checkpoint flags of trial `name`, every `every` epochs (empty without a dir). */
  const checkpoint = (name, every = 5) => (dir ? ['--checkpoint', `${dir}/${name}.tnet`, '--checkpoint-every', String(every), '--resume'] : []);
  /** Runs (or takes from the cache) one thinnet train command; returns its errors and wall time. */
  async function trial(key, args) {
    if (cache[key]) return cache[key];
    if (dryRun) { console.log(shown(args)); return undefined; }
    const t0 = performance.now();
    const out = await runTrain(args);
    const val = /validation error: ([\d.]+)%/.exec(out), test = /test error: ([\d.]+)%/.exec(out);
    if (!val || !test) throw new Error(`${key}: no validation / test error in the output`);
    const r = { val: Number(val[1]), test: Number(test[1]), minutes: (performance.now() - t0) / 60000, command: shown(args) };
    cache[key] = r;
    save();
    return r;
  }
  return { trial, checkpoint };
}
