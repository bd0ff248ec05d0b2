// Model files on disk (Node only): atomic writes and synchronous reads straight into wasm
// memory. Node's modules are loaded by dynamic import with a computed specifier, so browser
// bundles never see a `node:` import; elsewhere these fail with a message that says what to use.
import type { ByteSource } from './format.js';

async function nodeImport<T>(name: string): Promise<T> {
  const spec = `node:${name}`;
  return (await import(/* @vite-ignore */ spec)) as T;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

/** Writes bytes to path atomically: a temporary file in the same directory, then rename. */
export async function writeFileAtomic(op: string, path: string, bytes: Uint8Array): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`thinnet.${op}: path must be a non-empty string`);
  if (!isNode()) throw new Error(`thinnet.${op}: saving to a path needs Node; elsewhere use model.toBytes()`);
  const fs = await nodeImport<typeof import('node:fs/promises')>('fs/promises');
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new Error(`thinnet.${op}: could not write ${path}: ${(e as Error).message}`);
  }
}

/**
 * An open file as a ByteSource with synchronous reads: a read straight into wasm memory (an
 * asynchronous read would have to land in a JavaScript buffer first, as wasm memory may move
 * while it is in flight). The caller closes it.
 */
export async function openFileSource(op: string, path: string): Promise<ByteSource & { close(): void }> {
  if (!isNode()) throw new Error(`thinnet.${op}: loading from a path needs Node; elsewhere pass the bytes`);
  const fs = await nodeImport<typeof import('node:fs')>('fs');
  const fail = (e: unknown) => new Error(`thinnet.${op}: could not read ${path}: ${(e as Error).message}`);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw fail(e);
  }
  let size: number;
  try {
    size = fs.fstatSync(fd).size;
  } catch (e) {
    fs.closeSync(fd);
    throw fail(e);
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
