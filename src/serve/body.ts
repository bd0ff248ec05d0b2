// Reading a Node request body under a size limit: a declared Content-Length over the limit is
// refused before a byte is read, and a body that grows past it (chunked, or a lying header) is
// refused the moment it does — the server never buffers more than the limit.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { tooLarge } from './protocol.js';

export function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (!/^\d+$/.test(declared)) return Promise.reject(new HttpError(400, 'invalid_request', `Content-Length '${declared}' is not a byte count`));
    if (n > limit) return Promise.reject(tooLarge(n, limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0, done = false;
    const fail = (e: unknown) => { if (!done) { done = true; reject(e); } };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        fail(tooLarge(`more than ${limit}`, limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks, size)); } });
    req.on('error', fail);
    req.on('aborted', () => fail(new HttpError(400, 'aborted', 'the client closed the connection before the body was complete')));
  });
}
