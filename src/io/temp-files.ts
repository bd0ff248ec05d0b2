// The temporary files of atomic writes (io/files.ts writes `${path}.tmp-${pid}-${random}`, then
// renames it over `path`), so that an interrupted save leaves no debris behind:
//   - the temporary files in flight are removed when the process exits (a process 'exit'
//     listener: process.exit(), the end of the event loop, an uncaught exception) and on SIGINT /
//     SIGTERM when nothing else listens for that signal: the listener, installed only while a
//     write is in flight, removes them, uninstalls itself and raises the signal again, so the
//     process still dies of it exactly as without thinnet. Where the program has its own
//     listener, that listener decides (its process.exit() runs the 'exit' cleanup);
//   - a SIGKILL, a crash of the runtime or a power cut cannot be caught: the next write to the
//     same path removes the temporary files for that path whose process is gone.
type Fs = typeof import('node:fs');
type FsPromises = typeof import('node:fs/promises');
type Path = typeof import('node:path');

const MARK = '.tmp-';
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

const inFlight = new Set<string>();
let fs: Fs | undefined;
let exitHooked = false;
let signalsHooked: NodeJS.Signals[] = [];

/** A fresh temporary path beside `path` (same directory, so the rename is atomic). */
export function tempPath(path: string): string {
  return `${path}${MARK}${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/** Registers a temporary file being written; it is removed if the process exits before untrack(). */
export function track(fsSync: Fs, tmp: string): void {
  fs = fsSync;
  inFlight.add(tmp);
  if (!exitHooked) {
    process.on('exit', removeInFlight);
    exitHooked = true;
  }
  if (signalsHooked.length === 0) {
    for (const s of SIGNALS) {
      if (process.listenerCount(s) === 0) { // someone else's listener: theirs decides what the signal does
        process.on(s, onSignal);
        signalsHooked.push(s);
      }
    }
  }
}

/** The temporary file was renamed or removed. */
export function untrack(tmp: string): void {
  inFlight.delete(tmp);
  if (inFlight.size === 0) unhookSignals();
}

function removeInFlight(): void {
  for (const tmp of inFlight) {
    try {
      fs!.rmSync(tmp, { force: true });
    } catch { /* exiting: nothing better to do */ }
  }
  inFlight.clear();
}

function unhookSignals(): void {
  for (const s of signalsHooked) process.removeListener(s, onSignal);
  signalsHooked = [];
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // a listener added since: the program handles the signal
  removeInFlight();
  unhookSignals();
  process.kill(process.pid, signal); // no listener left: Node's default action, the process ends by this signal
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Removes the temporary files of earlier writes to `path` that can no longer finish: those of
 * processes that are gone, and this process's own that are not in flight. Returns their paths.
 * Best effort: a directory that cannot be listed is left to the write to report.
 */
export async function removeStaleTemps(fsp: FsPromises, paths: Path, path: string): Promise<string[]> {
  const dir = paths.dirname(path), prefix = `${paths.basename(path)}${MARK}`;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-z]+$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]), full = paths.join(dir, name);
    const mine = [...inFlight].some((t) => paths.resolve(t) === paths.resolve(full));
    const stale = pid === process.pid ? !mine : !alive(pid);
    if (!stale) continue;
    try {
      await fsp.rm(full, { force: true });
      removed.push(full);
    } catch { /* e.g. another process removed it first */ }
  }
  return removed;
}
