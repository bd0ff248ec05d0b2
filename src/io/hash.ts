// SHA-256 of model files, for strict loading (loadModel(src, { expectedHash })) and
// model.contentHash(): the hash of the file's bytes, so it is what `sha256sum model.tnet` prints.
// Node: node:crypto, incremental (a file is hashed piece by piece as it is read into wasm memory);
// elsewhere: crypto.subtle (browsers, Deno, Bun, workerd), which takes the bytes in one piece.
import { isNode, nodeImport } from './node.js';

/** An incremental SHA-256 (Node). */
export interface Sha256 {
  update(bytes: Uint8Array): void;
  /** The digest as 64 lowercase hex digits; call once. */
  hex(): string;
}

/** Node's incremental SHA-256, or undefined where node:crypto is not available. */
export async function incrementalSha256(): Promise<Sha256 | undefined> {
  if (!isNode()) return undefined;
  const { createHash } = await nodeImport<typeof import('node:crypto')>('crypto');
  const h = createHash('sha256');
  return { update: (bytes) => { h.update(bytes); }, hex: () => h.digest('hex') };
}

/** SHA-256 of bytes as 64 lowercase hex digits. */
export async function sha256Hex(op: string, bytes: Uint8Array): Promise<string> {
  const node = await incrementalSha256();
  if (node) {
    node.update(bytes);
    return node.hex();
  }
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (!subtle) throw new Error(`thinnet.${op}: SHA-256 needs crypto.subtle, which browsers provide only in secure contexts (https or localhost)`);
  // crypto.subtle refuses views of a SharedArrayBuffer (wasm memory of threaded builds): a copy
  const own = bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
  const digest = new Uint8Array(await subtle.digest('SHA-256', own as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A user's expected hash: 64 hex digits (either case), returned in lowercase. */
export function checkHash(op: string, name: string, v: unknown): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/i.test(v)) {
    throw new TypeError(`thinnet.${op}: ${name} must be a SHA-256 digest as 64 hex digits (e.g. from model.contentHash() or sha256sum), got ${typeof v === 'string' ? `'${v}'` : String(v)}`);
  }
  return v.toLowerCase();
}

/**
 * A ByteSource-shaped tap: hashes every byte read, in order. The loader reads a file front to
 * back exactly once (preamble, header, blocks, CRC), so when loading succeeds the hash covers
 * the whole file — the very bytes that were decoded, even if the file changes meanwhile.
 */
export function hashingSource<S extends { size: number; read(dst: Uint8Array, pos: number): void }>(src: S, hash: Sha256): S & { hashedBytes(): number } {
  let next = 0;
  return {
    ...src,
    size: src.size,
    read(dst: Uint8Array, pos: number) {
      if (pos !== next) throw new Error(`thinnet: internal error: a hashed read at byte ${pos}, expected ${next}`);
      src.read(dst, pos);
      hash.update(dst);
      next += dst.length;
    },
    hashedBytes: () => next,
  };
}
