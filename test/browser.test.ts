// The browser build in a real browser: Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core loads web/test-page/, which imports /dist/index.browser.js with no bundler,
// served by scripts/serve.mjs with and without cross-origin isolation. Results are compared
// bit for bit with the same workload (test/fixtures/workload.mjs) run by Node in a child process.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { haveChromium, launchChromium, missingInCI, skipReason, watchErrors, type Chromium } from './helpers/chromium';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const nodeWorkload = fileURLToPath(new URL('./fixtures/workload-node.mjs', import.meta.url));

interface Served { url: string; close(): Promise<void> }
interface OpenPage { page: Page; errors: string[] }

/** The workload in Node (plain `node`, no V8 flags), in a child process like a user's program. */
function inNode(request: object, nodeFlags: string[] = []): any {
  return JSON.parse(execFileSync(process.execPath, [...nodeFlags, nodeWorkload, JSON.stringify(request)], { timeout: 60_000, encoding: 'utf8' }));
}

if (!haveChromium && process.env.CI) {
  test('browser tests need Chromium', () => {
    throw new Error(missingInCI);
  });
} else if (!haveChromium) {
  test.skip(skipReason('browser tests'), () => {});
} else {
  describe('browser build in Chromium', () => {
    let browser: Chromium;
    let context: BrowserContext;
    let plain: Served, isolated: Served;
    let node: any;

    beforeAll(async () => {
      // @ts-ignore -- plain JavaScript module without declarations
      const { serve } = await import('../scripts/serve.mjs');
      [plain, isolated] = await Promise.all([serve({ isolated: false }), serve({ isolated: true })]);
      browser = await launchChromium({ width: 900, height: 700 });
      context = browser.context;
      node = inNode({ dropout: { threads: 1 }, train: { backend: 'simd', threads: 1 } });
    });

    afterAll(async () => {
      await browser?.close();
      await Promise.all([plain?.close(), isolated?.close()]);
    });

    /** Opens the test page and records console errors, uncaught exceptions and failed requests. */
    async function open(server: Served): Promise<OpenPage> {
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${server.url}web/test-page/`);
      await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', undefined, { timeout: 20_000 });
      return { page, errors };
    }

    test('ready({threads: 1}): dropout, dropoutBackward and gaussianDropout equal Node bit for bit', async () => {
      const { page, errors } = await open(plain);
      const r = await page.evaluate(() => (window as any).thinnetTest.dropout({ threads: 1 }));
      expect(r.info.threads).toBe(1);
      expect(r.info.backend).toMatch(/^(simd|relaxed)$/);
      expect(node.dropout.info.threads).toBe(1);
      expect(r.digest).toEqual(node.dropout.digest); // every hash: y, mask, dx, dxRe, yi, g, dg
      expect(r.digest.dxRe).toBe(r.digest.dx); // recomputed mask = stored mask
      expect(r.digest.kept / r.digest.n).toBeCloseTo(0.7, 2);
      await page.close();
      expect(errors).toEqual([]);
    });

    test('not cross-origin isolated: threads "auto" runs a single-thread build; threads: 2 is a clear error', async () => {
      const { page, errors } = await open(plain);
      expect(await page.evaluate(() => (window as any).thinnetTest.crossOriginIsolated)).toBe(false);
      const auto = await page.evaluate(() => (window as any).thinnetTest.info({ threads: 'auto' }));
      expect(auto.info.threads).toBe(1);
      expect(auto.info.backend).toMatch(/^(simd|relaxed)$/);
      expect(auto.info.features.threads).toBe(false);
      const two = await page.evaluate(() => (window as any).thinnetTest.info({ threads: 2 }));
      expect(two.error).toMatch(/cross-origin isolated/);
      await page.close();
      expect(errors).toEqual([]);
    });

    test('cross-origin isolated (COOP/COEP): threads "auto" runs a *-threads build with a worker pool, same results', async () => {
      const { page, errors } = await open(isolated);
      const env = await page.evaluate(() => ({ isolated: (window as any).thinnetTest.crossOriginIsolated, cores: (window as any).thinnetTest.hardwareConcurrency }));
      expect(env.isolated).toBe(true);
      const auto = await page.evaluate(() => (window as any).thinnetTest.dropout({ threads: 'auto' }));
      expect(auto.info.features.threads).toBe(true);
      expect(auto.info.threads).toBe(Math.min(8, env.cores));
      if (env.cores >= 2) {
        expect(auto.info.threads).toBeGreaterThan(1);
        expect(auto.info.backend).toMatch(/-threads$|^threads$/);
      }
      expect(auto.digest).toEqual(node.dropout.digest);
      // Two threads explicitly, whatever the core count: the pool splits these 2^17 + 37 elements.
      const two = await page.evaluate(() => (window as any).thinnetTest.dropout({ threads: 2 }));
      expect(two.info.threads).toBe(2);
      expect(two.info.backend).toMatch(/threads$/);
      expect(two.digest).toEqual(node.dropout.digest);
      await page.evaluate(() => (window as any).thinnetTest.close());
      await page.close();
      expect(errors).toEqual([]);
    });

    test('320 training steps of a small dropout MLP lower the loss, with the same losses as Node bit for bit', async () => {
      const { page, errors } = await open(plain);
      const r = await page.evaluate(() => (window as any).thinnetTest.train({ backend: 'simd', threads: 1 }));
      const { result } = r;
      expect(r.info).toMatchObject({ backend: 'simd', threads: 1 });
      expect(result.steps).toBe(320);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      expect(mean(result.losses.slice(-40))).toBeLessThan(0.5 * mean(result.losses.slice(0, 40)));
      expect(result.accuracy).toBeGreaterThan(0.9);
      expect(node.train.info).toMatchObject({ backend: 'simd', threads: 1 });
      expect(result.losses).toEqual(node.train.result.losses); // exact float64 equality, step by step
      expect(result.parameters).toBe(node.train.result.parameters);
      expect(result.predictions).toBe(node.train.result.predictions);
      expect(result).toEqual(node.train.result);
      mkdirSync(join(repoRoot, 'artifacts'), { recursive: true });
      await page.screenshot({ path: join(repoRoot, 'artifacts', 'browser.png'), fullPage: true });
      await page.close();
      expect(errors).toEqual([]);
    });

    test('relaxed SIMD build: Chromium trains exactly as Node with --experimental-wasm-relaxed-simd', async () => {
      // Relaxed multiply-add may fuse or not by the spec; V8 decides the same way in Node and
      // Chromium on one machine (both fuse where the CPU has FMA), so the losses agree exactly.
      const relaxedNode = inNode({ train: { backend: 'relaxed', threads: 1 } }, ['--experimental-wasm-relaxed-simd']);
      const { page, errors } = await open(plain);
      const r = await page.evaluate(() => (window as any).thinnetTest.train({ backend: 'relaxed', threads: 1 }));
      expect(r.info.backend).toBe('relaxed');
      expect(relaxedNode.train.info.backend).toBe('relaxed');
      expect(r.result.losses).toEqual(relaxedNode.train.result.losses);
      expect(r.result.parameters).toBe(relaxedNode.train.result.parameters);
      await page.close();
      expect(errors).toEqual([]);
    });
  });
}
