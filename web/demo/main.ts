// The demo page: controls, charts, the drawing pad and the prediction. All training and
// prediction runs in train-worker.ts; this thread only draws. State is mirrored in data-*
// attributes of <html> (and window.thinnetDemo) for test/demo.test.ts.
import { drawBars, drawWeights, LineChart, type Series } from './charts';
import { DrawPad, showImage } from './draw';
import type { FromWorker, ReadyMessage, RunSettings, ToWorker } from './protocol';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const root = document.documentElement;
const query = new URLSearchParams(location.search);
const int = (name: string, dflt: number, lo: number, hi: number) => {
  const v = Number(query.get(name));
  return query.has(name) && Number.isInteger(v) && v >= lo && v <= hi ? v : dflt;
};
const threadsParam = query.get('threads');
const threads: number | 'auto' = threadsParam && /^\d+$/.test(threadsParam) ? Math.max(1, Math.min(64, Number(threadsParam))) : 'auto';
const base = { hidden: int('hidden', 512, 8, 2048), epochs: int('epochs', 40, 1, 1000), train: int('train', 6000, 100, 60000),
  batchSize: int('batch', 100, 1, 1000), seed: int('seed', 1, 0, 2 ** 32 - 1) };
const samples = int('samples', 50, 1, 1000);
const modelSelect = $<HTMLSelectElement>('model-kind');
if (query.get('model') === 'conv') modelSelect.value = 'conv';

const COLORS = { dropout: '#1f6feb', plain: '#c2410c' };
const status = $('status'), progress = $('progress'), modelText = $('model'), predictionText = $('prediction');
const startButton = $<HTMLButtonElement>('start'), stopButton = $<HTMLButtonElement>('stop');
const dropoutSwitch = $<HTMLInputElement>('dropout');
const lossChart = new LineChart($('loss-chart'), { xLabel: 'epoch', format: (y) => y.toFixed(2), yMin: 0 });
const errorChart = new LineChart($('error-chart'), { xLabel: 'epoch', format: (y) => (y === 0 ? '0%' : `${(100 * y).toFixed(y < 0.1 ? 1 : 0)}%`), yMin: 0 });

interface RunData { run: number; dropout: boolean; losses: Array<[number, number]>; errors: Array<[number, number]> }
/** The latest run of each kind (dropout on / off), kept for comparison. */
const runs: { dropout?: RunData; plain?: RunData } = {};
let current: RunData | undefined;
let runCounter = 0;
let ready: ReadyMessage | undefined;
let state: 'loading' | 'ready' | 'training' | 'stopping' | 'done' | 'stopped' | 'error' = 'loading';
let hasModel = false;
let predictionId = 0, shownPrediction = 0;

function setState(s: typeof state): void {
  state = s;
  root.dataset.state = s;
  startButton.disabled = !(s === 'ready' || s === 'done' || s === 'stopped');
  stopButton.disabled = s !== 'training';
  startButton.textContent = s === 'done' || s === 'stopped' ? 'Train again' : 'Start training';
}

function showError(message: string): void {
  status.textContent = `Error: ${message}`;
  status.classList.add('error');
  console.error(`thinnet demo: ${message}`);
  setState('error');
}

const worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
worker.addEventListener('error', (e) => showError(e.message || 'the training worker failed to load'));
worker.addEventListener('message', (e: MessageEvent<FromWorker>) => onMessage(e.data));
send({ type: 'init', dataUrl: new URL('mnist-subset.bin', document.baseURI).href, threads });
root.dataset.isolated = String(globalThis.crossOriginIsolated === true);

function redrawCharts(): void {
  const series = (pick: (r: RunData) => Array<[number, number]>): Series[] => (['dropout', 'plain'] as const)
    .filter((k) => runs[k])
    .map((k) => ({ label: k === 'dropout' ? 'dropout' : 'no dropout', color: COLORS[k], points: pick(runs[k]!), faded: runs[k] !== current }));
  lossChart.set(series((r) => r.losses));
  errorChart.set(series((r) => r.errors));
}

function start(): void {
  const settings: RunSettings = { ...base, dropout: dropoutSwitch.checked, model: modelSelect.value === 'conv' ? 'conv' : 'mlp' };
  const run = ++runCounter;
  current = { run, dropout: settings.dropout, losses: [], errors: [] };
  runs[settings.dropout ? 'dropout' : 'plain'] = current;
  root.dataset.run = String(run);
  root.dataset.epochs = '0';
  root.dataset.lossPoints = '0';
  root.dataset.dropout = String(settings.dropout);
  root.dataset.model = settings.model;
  redrawCharts();
  progress.textContent = 'starting…';
  setState('training');
  send({ type: 'start', run, settings });
}

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case 'ready': {
      ready = m;
      const build = `${m.backend} build on ${m.threads} thread${m.threads > 1 ? 's' : ''}`;
      const why = globalThis.crossOriginIsolated
        ? 'the page is cross-origin isolated (COOP/COEP), so the threaded build can share memory'
        : 'not cross-origin isolated (no COOP/COEP headers), so the single-thread build';
      status.textContent = `thinnet ${build} — ${why}. Data: ${m.train.toLocaleString('en')} training and ` +
        `${m.test.toLocaleString('en')} test images (${m.dataMs.toFixed(0)} ms); wasm ready in ${m.wasmMs.toFixed(0)} ms.`;
      Object.assign(root.dataset, { backend: m.backend, threads: String(m.threads), workerIsolated: String(m.isolated), ready: 'true' });
      setState('ready');
      if (query.has('autostart')) start();
      break;
    }
    case 'started':
      if (m.run !== current?.run) return;
      hasModel = true;
      modelText.textContent = `${m.layers}; ${m.parameters.toLocaleString('en')} parameters; SGD, learning rate ${m.settings.model === 'conv' ? 0.05 : 0.1}, ` +
        `momentum 0.95, max-norm 3; ${m.settings.epochs} epochs of ${Math.min(m.settings.train, ready?.train ?? m.settings.train).toLocaleString('en')} ` +
        `images, mini-batches of ${m.settings.batchSize}.`;
      break;
    case 'weights':
      if (m.run === current?.run) drawWeights($('weights'), m.weights, m.units, m.side);
      break;
    case 'loss':
      if (m.run !== current?.run) return;
      current.losses.push([m.x, m.loss]);
      root.dataset.lossPoints = String(current.losses.length);
      redrawCharts();
      break;
    case 'epoch': {
      if (m.run !== current?.run) return;
      current.errors.push([m.epoch + 1, m.testError]);
      root.dataset.epochs = String(current.errors.length);
      root.dataset.testError = String(m.testError);
      drawWeights($('weights'), m.weights, m.units, m.side);
      redrawCharts();
      progress.textContent = `epoch ${m.epoch + 1}: test error ${(100 * m.testError).toFixed(2)}%, training loss ${m.loss.toFixed(3)}, ` +
        `training error ${(100 * m.trainError).toFixed(2)}%; ${Math.round(m.examplesPerSecond).toLocaleString('en')} images/s`;
      if (!pad.empty) predict(); // the prediction follows the training
      break;
    }
    case 'done':
      if (m.run !== current?.run) return;
      setState(m.stopped ? 'stopped' : 'done');
      progress.textContent = `${m.stopped ? 'stopped' : 'finished'} after ${m.epochs} epoch${m.epochs === 1 ? '' : 's'}. ` + progress.textContent;
      break;
    case 'prediction':
      if (m.id < shownPrediction) return;
      shownPrediction = m.id;
      showPrediction(m);
      break;
    case 'error':
      showError(m.message);
      break;
  }
}

function showPrediction(m: Extract<FromWorker, { type: 'prediction' }>): void {
  const std = m.variance.map((v) => Math.sqrt(Math.max(0, v)));
  drawBars($('bars'), m.probs, m.mean, std);
  let best = 0, mcBest = 0;
  for (let k = 1; k < 10; k++) {
    if (m.probs[k] > m.probs[best]) best = k;
    if (m.mean[k] > m.mean[mcBest]) mcBest = k;
  }
  const dropout = runs.dropout?.run === m.run;
  predictionText.innerHTML = '';
  const line = (html: string) => { const p = document.createElement('div'); p.innerHTML = html; predictionText.append(p); };
  line(`<strong>${best}</strong> with probability ${m.probs[best].toFixed(3)} (weight scaling)`);
  line(`Monte-Carlo dropout, ${m.samples} samples: ${mcBest}, mean ${m.mean[mcBest].toFixed(3)} ± ${std[mcBest].toFixed(3)}`);
  line(`predictive entropy ${m.entropy.toFixed(3)} nats, mutual information ${m.mutualInformation.toFixed(3)} nats` +
    (dropout ? '' : ' <span class="small">(no dropout layers: every sample is the same net)</span>'));
  line(`<span class="small">model after ${m.epochs} epoch${m.epochs === 1 ? '' : 's'}; ${m.ms.toFixed(1)} ms</span>`);
  Object.assign(predictionText.dataset, {
    label: String(best), mcLabel: String(mcBest), probs: JSON.stringify(Array.from(m.probs)), mean: JSON.stringify(Array.from(m.mean)),
    std: JSON.stringify(Array.from(std)), entropy: String(m.entropy), mutualInformation: String(m.mutualInformation), id: String(m.id),
  });
}

function predict(): void {
  const pixels = pad.toMnist();
  showImage($('input28'), pixels);
  if (!pixels) return;
  if (!hasModel) {
    predictionText.textContent = 'No model yet: press “Start training”, then draw again.';
    return;
  }
  send({ type: 'predict', id: ++predictionId, pixels, samples }, [pixels.buffer]);
}

const pad = new DrawPad($<HTMLCanvasElement>('pad'), predict);
showImage($('input28'), undefined);
drawBars($('bars'), undefined);
$('clear').addEventListener('click', () => {
  pad.clear();
  showImage($('input28'), undefined);
  drawBars($('bars'), undefined);
  shownPrediction = ++predictionId; // drop answers still on their way
  predictionText.textContent = 'Draw a digit above.';
  for (const k of Object.keys(predictionText.dataset)) delete predictionText.dataset[k];
});
startButton.addEventListener('click', start);
stopButton.addEventListener('click', () => {
  send({ type: 'stop' });
  setState('stopping');
});
dropoutSwitch.addEventListener('change', () => {
  root.dataset.dropout = String(dropoutSwitch.checked);
  if (ready) start(); // restarts training with the other net (the worker stops the running one first)
});
modelSelect.addEventListener('change', () => {
  delete runs.dropout; delete runs.plain; // curves of the other network do not compare
  if (ready) start();
});
redrawCharts();
setState('loading');

/** For tests and the console: the current run's curves. */
(window as any).thinnetDemo = {
  get state() { return state; },
  get losses() { return current?.losses.map((p) => p.slice()) ?? []; },
  get testErrors() { return current?.errors.map((p) => p.slice()) ?? []; },
  get info() { return ready; },
};
