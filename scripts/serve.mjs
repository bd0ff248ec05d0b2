// A tiny static file server over the repository root, for the browser tests and for trying the
// browser build by hand without a bundler:
//
//   node scripts/serve.mjs [--isolated] [--port N]    then open http://127.0.0.1:N/web/test-page/
//
// `isolated: true` sends COOP `same-origin` + COEP `require-corp`, which makes the page
// cross-origin isolated (SharedArrayBuffer, hence thinnet's threaded builds). Binds 127.0.0.1
// only; port 0 (the default) picks a free ephemeral port.
import { createServer } from 'node:http';
import { open } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/**
 * Starts the server. Resolves to { url, port, close() } once it listens; `url` ends with '/'.
 * Options: root (default: the repository root), isolated (default false), port (default 0).
 */
export async function serve({ root = repoRoot, isolated = false, port = 0, host = '127.0.0.1' } = {}) {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const fail = (status, text) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return fail(400, 'bad request');
    }
    if (path.includes('\0')) return fail(400, 'bad request');
    let file = resolve(join(base, path));
    if (file !== base && !file.startsWith(base + sep)) return fail(403, 'forbidden');
    let handle;
    try {
      handle = await open(file, 'r');
      let info = await handle.stat();
      if (info.isDirectory()) {
        await handle.close();
        if (!path.endsWith('/')) {
          res.writeHead(301, { ...headers, Location: path + '/' });
          return res.end();
        }
        file = join(file, 'index.html');
        handle = await open(file, 'r');
        info = await handle.stat();
      }
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      const body = await handle.readFile();
      res.writeHead(200, {
        ...headers,
        'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': body.length,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      if (e && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) fail(404, 'not found');
      else fail(500, 'server error');
    } finally {
      await handle?.close().catch(() => {});
    }
  });
  await new Promise((ok, ko) => {
    server.once('error', ko);
    server.listen(port, host, () => { server.off('error', ko); ok(); });
  });
  const actual = server.address().port;
  return {
    port: actual,
    url: `http://${host}:${actual}/`,
    isolated,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--port');
  const s = await serve({ isolated: args.includes('--isolated'), port: i >= 0 ? Number(args[i + 1]) : 0 });
  console.log(`serving ${repoRoot} at ${s.url}${s.isolated ? ' (cross-origin isolated)' : ''}`);
  console.log(`test page: ${s.url}web/test-page/`);
}
