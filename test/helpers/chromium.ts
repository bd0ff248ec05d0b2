// Debian's Chromium driven by playwright-core, shared by the real-browser tests (browser, demo,
// pack): where it is, how it is launched, and what counts as an error on a page.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.THINNET_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
/** Why a browser test cannot run: a failure in CI (which must install it), a skip elsewhere. */
export const missingInCI = `${CHROMIUM} is missing: CI must install it (apt-get install -y chromium, see .ci/run)`;
export const skipReason = (what: string) => `${what} skipped: ${CHROMIUM} not found (install Debian's chromium, or set THINNET_CHROMIUM)`;

export interface Chromium { context: BrowserContext; close(): Promise<void> }

/** Headless Chromium with a throw-away profile (removed by close()). */
export async function launchChromium(viewport?: { width: number; height: number }): Promise<Chromium> {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'thinnet-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
    ...(viewport ? { viewport } : {}),
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Collects console errors, uncaught exceptions, failed requests and HTTP errors of a page. */
export function watchErrors(page: Page, onResponse?: (url: string) => void): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { onResponse?.(r.url()); if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  return errors;
}
