// The browser demo (web/demo/) as a user gets it: built with Vite's JS API into a temporary
// directory, served by scripts/serve.mjs with and without cross-origin isolation, and driven in
// Chromium (Debian's /usr/bin/chromium, playwright-core): it must pick the threaded build exactly
// when isolated, train (a short run: ?epochs=2&train=2000&hidden=256), draw the curves and the
// weights, and predict a digit drawn with the mouse, with its Monte-Carlo-dropout uncertainty,
// without any console error, page error or failed request. Vite's dev server (`npm run demo`)
// and preview server must send COOP/COEP (threaded build there too). Screenshots go to
// artifacts/. The demo's TypeScript is type-checked as well (Vite only strips the types).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { haveChromium, launchChromium, missingInCI, skipReason, watchErrors, type Chromium } from './helpers/chromium';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** A short, fixed run: 2 epochs over the first 2,000 images with 256 hidden units. */
const QUERY = '?epochs=2&train=2000&hidden=256&samples=50';

interface Served { url: string; close(): Promise<void> }
interface OpenPage { page: Page; errors: string[] }

test('the demo\'s TypeScript sources type-check (tsc -p web/demo)', () => {
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'web/demo'), '--noEmit'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  } catch (e: any) {
    throw new Error(`tsc -p web/demo failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
});

if (!haveChromium && process.env.CI) {
  test('demo tests need Chromium', () => {
    throw new Error(missingInCI);
  });
} else if (!haveChromium) {
  test.skip(skipReason('demo tests'), () => {});
} else {
  describe('browser demo (web/demo, built with Vite) in Chromium', () => {
    let browser: Chromium;
    let context: BrowserContext;
    let outDir: string;
    let plain: Served, isolated: Served;

    beforeAll(async () => {
      const t0 = Date.now();
      outDir = mkdtempSync(join(tmpdir(), 'thinnet-demo-'));
      const { build } = await import('vite');
      await build({
        configFile: join(repoRoot, 'web/demo/vite.config.ts'),
        logLevel: 'warn',
        build: { outDir, emptyOutDir: true },
      });
      const t1 = Date.now();
      // @ts-ignore -- plain JavaScript module without declarations
      const { serve } = await import('../scripts/serve.mjs');
      [plain, isolated] = await Promise.all([serve({ root: outDir, isolated: false }), serve({ root: outDir, isolated: true })]);
      browser = await launchChromium({ width: 1200, height: 1000 });
      context = browser.context;
      const files = listFiles(outDir).map((f) => {
        const bytes = readFileSync(join(outDir, f));
        return `${f} ${bytes.length} B (gzip ${gzipSync(bytes).length} B)`;
      });
      console.log(`demo built by Vite in ${t1 - t0} ms:\n  ${files.join('\n  ')}`);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await Promise.all([plain?.close(), isolated?.close()]);
      if (outDir) rmSync(outDir, { recursive: true, force: true });
    });

    function listFiles(dir: string, prefix = ''): string[] {
      return readdirSync(dir).sort().flatMap((f) => statSync(join(dir, f)).isDirectory()
        ? listFiles(join(dir, f), `${prefix}${f}/`) : [`${prefix}${f}`]);
    }

    /** Opens the demo and records console errors, uncaught exceptions and failed requests. */
    async function open(server: Served, query = QUERY): Promise<OpenPage> {
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${server.url}${query}`);
      await page.waitForFunction(() => document.documentElement.dataset.ready === 'true' || document.documentElement.dataset.state === 'error',
        undefined, { timeout: 30_000 });
      return { page, errors };
    }

    const dataset = (page: Page) => page.evaluate(() => ({ ...document.documentElement.dataset }));

    /** Clicks Start (or flips the switch) and waits for the run to finish its epochs. */
    async function train(page: Page, how: 'start' | 'switch'): Promise<{ losses: number[][]; testErrors: number[][]; ms: number }> {
      const before = Number((await dataset(page)).run ?? 0);
      const t0 = Date.now();
      if (how === 'start') await page.click('#start');
      else await page.click('label.switch');
      await page.waitForFunction((run) => {
        const d = document.documentElement.dataset;
        return d.state === 'error' || (Number(d.run) === run && d.state === 'done');
      }, before + 1, { timeout: 45_000 });
      const r = await page.evaluate(() => ({ losses: (window as any).thinnetDemo.losses, testErrors: (window as any).thinnetDemo.testErrors }));
      return { ...r, ms: Date.now() - t0 };
    }

    /** Draws a "7" with the mouse on the pad and waits for a new prediction. */
    async function drawSeven(page: Page): Promise<Record<string, string>> {
      const previous = await page.evaluate(() => document.getElementById('prediction')!.dataset.id ?? '0');
      const box = (await page.locator('#pad').boundingBox())!;
      const at = (fx: number, fy: number): [number, number] => [box.x + fx * box.width, box.y + fy * box.height];
      await page.mouse.move(...at(0.28, 0.22));
      await page.mouse.down();
      await page.mouse.move(...at(0.72, 0.22), { steps: 12 });
      await page.mouse.move(...at(0.45, 0.82), { steps: 16 });
      await page.mouse.up();
      await page.waitForFunction((prev) => {
        const id = document.getElementById('prediction')!.dataset.id;
        return id !== undefined && id !== prev;
      }, previous, { timeout: 15_000 });
      return page.evaluate(() => ({ ...document.getElementById('prediction')!.dataset } as Record<string, string>));
    }

    function checkPrediction(p: Record<string, string>): { probs: number[]; mean: number[]; std: number[]; entropy: number; mi: number } {
      const probs: number[] = JSON.parse(p.probs), mean: number[] = JSON.parse(p.mean), std: number[] = JSON.parse(p.std);
      const entropy = Number(p.entropy), mi = Number(p.mutualInformation);
      for (const v of [probs, mean, std]) {
        expect(v).toHaveLength(10);
        for (const x of v) expect(x >= 0 && x <= 1, String(x)).toBe(true);
      }
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(mean.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(Number(p.label)).toBe(probs.indexOf(Math.max(...probs)));
      expect(Number.isFinite(entropy) && entropy >= 0 && entropy <= Math.log(10) + 1e-5).toBe(true);
      expect(Number.isFinite(mi) && mi >= -1e-6 && mi <= entropy + 1e-6).toBe(true);
      return { probs, mean, std, entropy, mi };
    }

    test('`npm run demo` and `npm run demo:preview`: Vite\'s dev and preview servers send COOP/COEP, so the threaded build runs', async () => {
      const { createServer, preview } = await import('vite');
      const configFile = join(repoRoot, 'web/demo/vite.config.ts');
      const listen = { port: 0, host: '127.0.0.1', strictPort: false };
      const dev = await createServer({ configFile, logLevel: 'warn', server: { ...listen, hmr: false } });
      await dev.listen();
      const pre = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: listen });
      try {
        for (const [name, url] of [['dev', dev.resolvedUrls!.local[0]], ['preview', pre.resolvedUrls!.local[0]]]) {
          const { page, errors } = await open({ url, close: async () => {} }, '?epochs=1&train=1000&hidden=64');
          const d = await dataset(page);
          const cores = await page.evaluate(() => navigator.hardwareConcurrency);
          expect(d.state, `${name}: ${JSON.stringify(errors)}`).toBe('ready');
          expect(d.isolated, name).toBe('true');
          expect(Number(d.threads), name).toBe(Math.min(8, cores));
          if (cores >= 2) expect(d.backend, name).toMatch(/threads$/);
          if (name === 'dev') { // the dev server serves the sources: train and predict there too
            const run = await train(page, 'start');
            expect(run.testErrors).toHaveLength(1);
            checkPrediction(await drawSeven(page));
          }
          await page.close();
          expect(errors, name).toEqual([]);
        }
      } finally {
        await Promise.all([dev.close(), pre.close()]);
      }
    });

    test('the build holds the page, the worker, the four wasm builds and the MNIST subset', () => {
      const files = listFiles(outDir);
      expect(files).toContain('index.html');
      expect(files).toContain('mnist-subset.bin');
      for (const b of ['simd', 'relaxed', 'threads', 'relaxed-threads']) {
        expect(files.some((f) => new RegExp(`^assets/${b}-[\\w-]+\\.wasm$`).test(f)), b).toBe(true);
      }
      expect(files.filter((f) => /^assets\/train-worker-[\w-]+\.js$/.test(f))).toHaveLength(1);
      const subset = readFileSync(join(outDir, 'mnist-subset.bin'));
      expect(subset.toString('latin1', 0, 4)).toBe('TNMS');
      expect([1, 6000, 1000, 28, 28].map((_, i) => subset.readUInt32LE(4 + 4 * i))).toEqual([1, 6000, 1000, 28, 28]);
      expect(subset.length).toBe(24 + 7000 * 785);
    });

    test('cross-origin isolated: the threaded build in the worker; trains, predicts a drawn digit with uncertainty', async () => {
      const { page, errors } = await open(isolated);
      const d = await dataset(page);
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      expect(d.state, JSON.stringify(errors)).toBe('ready');
      expect(d.isolated).toBe('true');
      expect(d.workerIsolated).toBe('true');
      expect(Number(d.threads)).toBe(Math.min(8, cores));
      if (cores >= 2) expect(d.backend).toMatch(/^(relaxed-)?threads$/); // the pool's Web Workers started inside the module worker
      expect(await page.textContent('#status')).toMatch(/threads? — the page is cross-origin isolated/);
      const run = await train(page, 'start');
      expect(run.testErrors).toHaveLength(2);
      for (const [epoch, err] of run.testErrors) expect(err > 0 && err < 0.5, `epoch ${epoch}: test error ${err}`).toBe(true);
      expect(run.losses.length).toBeGreaterThanOrEqual(8); // 20 batches per epoch, a point per 5
      expect(run.losses.at(-1)![1]).toBeLessThan(run.losses[0][1]);
      const p = checkPrediction(await drawSeven(page));
      // With dropout, the 50 thinned nets disagree a little: some variance, MI ≥ 0.
      expect(p.std.some((s) => s > 0)).toBe(true);
      console.log(`isolated (${d.backend}, ${d.threads} threads): 2 epochs in ${run.ms} ms, test errors ${run.testErrors.map((e) => e[1]).join(', ')}; ` +
        `drawn 7 → ${p.probs.indexOf(Math.max(...p.probs))}, entropy ${p.entropy.toFixed(3)}, MI ${p.mi.toFixed(4)}`);
      mkdirSync(join(repoRoot, 'artifacts'), { recursive: true });
      await page.screenshot({ path: join(repoRoot, 'artifacts', 'demo.png'), fullPage: true });
      await page.close();
      expect(errors).toEqual([]);
    });

    test('the conv net choice (?model=conv): trains with dropout in every layer, draws its 5×5 filters, predicts', async () => {
      const { page, errors } = await open(isolated, '?model=conv&epochs=2&train=2000&hidden=64&samples=20');
      expect((await dataset(page)).state, JSON.stringify(errors)).toBe('ready');
      expect(await page.inputValue('#model-kind')).toBe('conv');
      const run = await train(page, 'start');
      expect((await dataset(page)).model).toBe('conv');
      expect(await page.textContent('#model')).toMatch(/28×28×1 → dropout p=0.9 → conv 5×5×16 relu → max-pool 2×2 → dropout p=0.75 → conv 5×5×32 relu/);
      expect(run.testErrors).toHaveLength(2);
      expect(run.testErrors[1][1]).toBeLessThan(0.35);
      // 16 filters of 5×5 drawn with 5-pixel cells, 8 to a row
      expect(await page.evaluate(() => { const c = document.getElementById('weights') as HTMLCanvasElement; return [c.width, c.height]; }))
        .toEqual([8 * 26 + 1, 2 * 26 + 1]);
      const p = checkPrediction(await drawSeven(page));
      expect(p.std.some((v) => v > 0)).toBe(true);
      console.log(`conv net (${(await dataset(page)).backend}): 2 epochs of 2,000 images in ${run.ms} ms, test errors ${run.testErrors.map((e) => e[1]).join(', ')}`);
      await page.screenshot({ path: join(repoRoot, 'artifacts', 'demo-conv.png'), fullPage: true });
      await page.close();
      expect(errors).toEqual([]);
    });

    test('not isolated: the single-thread build; the dropout switch restarts training without dropout', async () => {
      const { page, errors } = await open(plain);
      const d = await dataset(page);
      expect(d.state, JSON.stringify(errors)).toBe('ready');
      expect(d.isolated).toBe('false');
      expect(d.workerIsolated).toBe('false');
      expect(d.threads).toBe('1');
      expect(d.backend).toMatch(/^(simd|relaxed)$/);
      expect(await page.textContent('#status')).toMatch(/1 thread — not cross-origin isolated/);
      const withDropout = await train(page, 'start');
      expect(withDropout.testErrors).toHaveLength(2);
      expect(withDropout.losses.at(-1)![1]).toBeLessThan(withDropout.losses[0][1]);
      checkPrediction(await drawSeven(page));
      // The switch: a new run of the same net without dropout layers.
      const noDropout = await train(page, 'switch');
      expect((await dataset(page)).dropout).toBe('false');
      expect(noDropout.testErrors).toHaveLength(2);
      expect(noDropout.losses.at(-1)![1]).toBeLessThan(noDropout.losses[0][1]);
      await page.click('#clear');
      const p = checkPrediction(await drawSeven(page));
      // No dropout layers: every Monte-Carlo sample is the same net, so no spread and MI = 0 exactly
      // (the kernels keep running means, so identical samples leave no rounding residue).
      for (const s of p.std) expect(s).toBe(0);
      expect(p.mi).toBe(0);
      console.log(`not isolated (${d.backend}, 1 thread): 2 epochs with dropout in ${withDropout.ms} ms, without in ${noDropout.ms} ms`);
      await page.screenshot({ path: join(repoRoot, 'artifacts', 'demo-single-thread.png'), fullPage: true });
      await page.close();
      expect(errors).toEqual([]);
    });
  });
}
