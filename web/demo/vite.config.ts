// Vite config of the browser demo: `npm run demo` (dev server), `npm run demo:build` (into
// web/demo/dist/), `npm run demo:preview` (serves that build). Both servers send COOP/COEP, so
// the page is cross-origin isolated and thinnet runs its threaded build; any server without those
// headers gets the single-thread build.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
// @ts-ignore -- plain JavaScript module without declarations
import { makeDemoData } from '../../scripts/make-demo-data.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Writes public/mnist-subset.bin (if missing or stale) before the dev server or a build starts. */
function demoData(): Plugin {
  return {
    name: 'thinnet-demo-data',
    async configResolved() {
      await makeDemoData();
    },
  };
}

export default defineConfig({
  root: here,
  // Relative asset URLs: the built page works from any directory.
  base: './',
  resolve: {
    // The demo imports the package by name, resolved to this repository's build (`npm run build`),
    // exactly the file a user's bundler picks through the "browser" export condition.
    alias: [
      { find: /^thinnet(\/browser)?$/, replacement: `${repo}dist/index.browser.js` },
    ],
  },
  optimizeDeps: {
    // Scan the worker too, so the dev server pre-bundles every dependency (seedrandom is
    // CommonJS) before the first page load instead of reloading the page when it meets them.
    entries: ['index.html', 'train-worker.ts'],
  },
  worker: {
    // Module workers (the page starts one with { type: 'module' }).
    format: 'es',
  },
  server: {
    headers: isolation,
    // dist/ and build/*.wasm live outside the demo's root.
    fs: { allow: [repo] },
  },
  preview: { headers: isolation },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Never inline the wasm builds as data: URLs (they are ~41 KB each).
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  plugins: [demoData()],
});
