// The test page's script: loads the browser build and exposes window.thinnetTest for
// test/browser.test.ts (which drives it through playwright-core). Opened by hand, it runs the
// default checks and prints them.
import * as tn from '/dist/index.browser.js';
import { dropoutDigest, trainDigest } from '/test/fixtures/workload.mjs';

const status = document.getElementById('status');
const log = document.getElementById('log');
const show = (title, value) => { log.textContent += `${title}: ${JSON.stringify(value, null, 1)}\n`; };

async function load(options) {
  await tn.close();
  return tn.ready(options);
}

window.thinnetTest = {
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  hardwareConcurrency: navigator.hardwareConcurrency,
  /** ready(options) then the dropout digest on n elements. */
  async dropout(options, n) {
    const info = await load(options);
    const digest = dropoutDigest(tn, n);
    show(`dropout ${JSON.stringify(options)}`, { backend: info.backend, threads: info.threads, y: digest.y, mask: digest.mask });
    return { info, digest };
  },
  /** ready(options) then a few hundred training steps. */
  async train(options, config) {
    const info = await load(options);
    const result = await trainDigest(tn, config);
    show(`train ${JSON.stringify(options)}`, { backend: info.backend, steps: result.steps,
      first: result.losses[0], last: result.losses.at(-1), accuracy: result.accuracy });
    return { info, result };
  },
  /** ready(options) and report what was chosen (or the error). */
  async info(options) {
    try {
      const info = await load(options);
      show(`ready ${JSON.stringify(options)}`, info);
      return { info };
    } catch (e) {
      show(`ready ${JSON.stringify(options)} failed`, String(e));
      return { error: String(e && e.message || e) };
    }
  },
  close: () => tn.close(),
};

status.textContent = `loaded; crossOriginIsolated = ${window.thinnetTest.crossOriginIsolated}`;
document.documentElement.dataset.ready = 'true';
if (new URLSearchParams(location.search).has('run')) {
  await window.thinnetTest.dropout({ threads: 1 });
  await window.thinnetTest.train({ backend: 'simd', threads: 1 });
  await window.thinnetTest.info({ threads: 'auto' });
  status.textContent += ' — done';
}
