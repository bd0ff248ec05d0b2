// Model files on disk (Node only): atomic writes, and synchronous reads straight into wasm
// memory from regular files only. Elsewhere these fail with a message that says what to use.
import type { ByteSource } from './format.js';
import { isNode, nodeImport } from './node.js';
import { removeStaleTemps, tempPath, track, untrack } from './temp-files.js';

type Fs = typeof import('node:fs');

/**
 * Writes bytes to path atomically: a new temporary file in the same directory (created
 * exclusively), written and flushed to disk (fsync), then renamed over path, and the directory
 * flushed. A reader sees the old file or the new one, never a part; a failed write leaves the
 * old file as it was. Temporary files of earlier, interrupted writes to path are removed first
 * (see temp-files.ts).
 */
export async function writeFileAtomic(op: string, path: string, bytes: Uint8Array): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`thinnet.${op}: path must be a non-empty string`);
  if (!isNode()) throw new Error(`thinnet.${op}: saving to a path needs Node; elsewhere use model.toBytes()`);
  const [fs, fsp, paths] = await Promise.all([
    nodeImport<Fs>('fs'), nodeImport<typeof import('node:fs/promises')>('fs/promises'), nodeImport<typeof import('node:path')>('path'),
  ]);
  await removeStaleTemps(fsp, paths, path);
  const tmp = tempPath(path);
  track(fs, tmp);
  try {
    const file = await fsp.open(tmp, 'wx');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw new Error(`thinnet.${op}: could not write ${path}: ${(e as Error).message}`);
  } finally {
    untrack(tmp);
  }
  await syncDirectory(fsp, paths.dirname(path));
}

/** Flushes a directory entry (the rename) to disk; not every platform can (Windows), so best effort. */
async function syncDirectory(fsp: typeof import('node:fs/promises'), dir: string): Promise<void> {
  try {
    const d = await fsp.open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  } catch { /* the rename itself has happened */ }
}

/** What a non-regular file is, for the error message. */
function kind(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * An open regular file as a ByteSource with synchronous reads: a read straight into wasm memory
 * (an asynchronous read would have to land in a JavaScript buffer first, as wasm memory may move
 * while it is in flight). Anything else (a FIFO, a device, a directory) is refused before a byte
 * is read: a FIFO or /dev/zero would block or never end. The caller closes it.
 */
export async function openFileSource(op: string, path: string): Promise<ByteSource & { close(): void }> {
  if (path === '') throw new Error(`thinnet.${op}: could not read '': the path is empty`);
  if (!isNode()) throw new Error(`thinnet.${op}: loading from a path needs Node; elsewhere pass the bytes`);
  const fs = await nodeImport<Fs>('fs');
  const fail = (e: unknown) => new Error(`thinnet.${op}: could not read ${path}: ${(e as Error).message}`);
  const notRegular = (st: import('node:fs').Stats) => new Error(`thinnet.${op}: ${path} is ${kind(st)}, not a regular file; a model is loaded from a file`);
  let st: import('node:fs').Stats;
  try {
    st = fs.statSync(path); // opening a FIFO would block until a writer comes
  } catch (e) {
    throw fail(e);
  }
  if (!st.isFile()) throw notRegular(st);
  let fd: number;
  try {
    // O_NONBLOCK: should path be swapped for a FIFO after the stat, the open still returns
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw fail(e);
  }
  let size: number;
  try {
    const now = fs.fstatSync(fd); // the file actually opened
    if (!now.isFile()) throw notRegular(now);
    size = now.size;
  } catch (e) {
    fs.closeSync(fd);
    throw (e as Error).message.startsWith(`thinnet.${op}:`) ? e : fail(e);
  }
  return {
    size,
    read(dst, pos) {
      let done = 0;
      while (done < dst.length) {
        let n: number;
        try {
          n = fs.readSync(fd, dst, done, dst.length - done, pos + done);
        } catch (e) {
          throw fail(e);
        }
        if (n === 0) throw new Error(`thinnet.${op}: truncated file: ${path} ended at byte ${pos + done} while being read`);
        done += n;
      }
    },
    close: () => fs.closeSync(fd),
  };
}
