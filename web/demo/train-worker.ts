// The demo's training worker: loads the MNIST subset and thinnet (the threaded build when this
// worker is cross-origin isolated, which it is exactly when the page is), trains the MLP with
// model.fit and answers predictions between mini-batches, so the page never blocks.
import * as tn from 'thinnet';
import { parseSubset, type FromWorker, type RunSettings, type Subset, type ToWorker } from './protocol';

/** First-layer units whose weights are sent to the page every epoch. */
const WEIGHT_UNITS = 64;
/** A loss point is the mean of this many batch losses. */
const LOSS_EVERY = 5;

const scope = self as unknown as DedicatedWorkerGlobalScope;
let data: Subset | undefined;
let loaded: Promise<void> | undefined;
let model: tn.Sequential | undefined;
let modelRun = -1;
let modelEpochs = 0;
/** The running fit (resolves when it ends, stopped or not). */
let training: Promise<void> = Promise.resolve();
let stopRequested = false;
/** Starts run one after another (a restart waits for the previous fit to stop). */
let starts: Promise<void> = Promise.resolve();

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function fail(e: unknown, id?: number): void {
  post({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
}

// Yields to the event loop between mini-batches (so `stop` and `predict` are handled while
// fit() runs). A MessageChannel round trip, unlike setTimeout, is not clamped to 4 ms.
const channel = new MessageChannel();
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

async function init(dataUrl: string, threads: number | 'auto'): Promise<void> {
  const t0 = performance.now();
  const response = await fetch(dataUrl);
  if (!response.ok) throw new Error(`${dataUrl}: HTTP ${response.status} (run \`node scripts/make-demo-data.mjs\`)`);
  data = parseSubset(await response.arrayBuffer());
  const t1 = performance.now();
  const info = await tn.ready({ threads });
  post({
    type: 'ready', backend: info.backend, threads: info.threads, isolated: self.crossOriginIsolated === true,
    train: data.train.count, test: data.test.count, dataMs: t1 - t0, wasmMs: performance.now() - t1,
  });
}

/**
 * The paper's MNIST net (784 → 2 hidden ReLU layers → 10), or a small conv net (28×28×1 → conv
 * 5×5×16 → pool → conv 5×5×32 → pool → hidden → 10, dropout in every layer with the paper's conv
 * p: 0.9 input, 0.75 feature maps, 0.5 hidden), with or without its dropout layers.
 */
function buildModel(s: RunSettings): tn.Sequential {
  const L = tn.layers;
  const drop = (keep: number) => (s.dropout ? [L.dropout({ keep })] : []);
  const hidden = () => L.dense({ units: s.hidden, activation: 'relu', maxNorm: 3, kernelInitializer: 'heUniform' });
  const conv = (filters: number) => L.conv2d({ filters, kernelSize: 5, padding: 'same', activation: 'relu', maxNorm: 3, kernelInitializer: 'heUniform' });
  const layers = s.model === 'conv'
    ? [...drop(0.9), conv(16), L.maxPool2d({ poolSize: 2 }), ...drop(0.75), conv(32), L.maxPool2d({ poolSize: 2 }), ...drop(0.75),
      L.flatten(), hidden(), ...drop(0.5), L.dense({ units: 10 })]
    : [...drop(0.8), hidden(), ...drop(0.5), hidden(), ...drop(0.5), L.dense({ units: 10 })];
  const m = tn.sequential({ inputShape: s.model === 'conv' ? [28, 28, 1] : [784], seed: s.seed, layers });
  const learningRate = s.model === 'conv' ? 0.05 : 0.1;
  m.compile({ optimizer: tn.optimizers.sgd({ learningRate, momentum: 0.95 }), loss: 'softmaxCrossEntropy' });
  return m;
}

/** The first layer's weights as images: dense rows of 28×28, or conv filters of side×side (first channel). */
function firstLayerWeights(m: tn.Sequential): { weights: Float32Array; units: number; side: number } {
  const w = m.getWeights()[0];
  const units = Math.min(WEIGHT_UNITS, w.shape[0]);
  const side = w.shape.length === 4 ? w.shape[1] : 28;
  return { weights: w.kernel.slice(0, units * side * side), units, side };
}

function describeLayer(l: tn.LayerSpec): string {
  switch (l.type) {
    case 'dense': return `dense ${l.units}${l.activation !== 'linear' ? ` ${l.activation}` : ''}`;
    case 'dropout': return `dropout p=${(l as tn.DropoutSpec).keep}`;
    case 'conv2d': return `conv ${(l as tn.layers.Conv2DSpec).kernelSize.join('×')}×${l.filters} ${l.activation}`;
    case 'maxPool2d': return `max-pool ${(l as tn.layers.MaxPool2DSpec).poolSize.join('×')}`;
    default: return l.type;
  }
}

async function start(run: number, s: RunSettings): Promise<void> {
  stopRequested = true;
  await training;
  stopRequested = false;
  await loaded;
  const d = data!;
  model?.dispose();
  model = undefined;
  const m = buildModel(s);
  model = m;
  modelRun = run;
  modelEpochs = 0;
  const n = Math.max(1, Math.min(s.train, d.train.count));
  const x = d.train.x.subarray(0, n * 784), y = d.train.y.subarray(0, n);
  const layers = m.config.layers.map(describeLayer).join(' → ');
  post({ type: 'started', run, settings: s, parameters: m.paramCount, layers: `${s.model === 'conv' ? '28×28×1' : '784'} → ${layers}` });
  const w0 = firstLayerWeights(m);
  post({ type: 'weights', run, ...w0 }, [w0.weights.buffer]);
  let sum = 0, count = 0;
  training = m.fit(x, y, {
    epochs: s.epochs, batchSize: s.batchSize, validationData: [d.test.x, d.test.y],
    onBatchEnd: async (batch, logs) => {
      sum += logs.loss;
      count++;
      if (count === LOSS_EVERY || batch === logs.batches - 1) {
        post({ type: 'loss', run, x: logs.epoch + (batch + 1) / logs.batches, loss: sum / count });
        sum = 0;
        count = 0;
      }
      await yieldToEvents();
      if (stopRequested) m.stopTraining = true;
    },
    onEpochEnd: (epoch, logs) => {
      modelEpochs = epoch + 1;
      const w = firstLayerWeights(m);
      post({
        type: 'epoch', run, epoch, loss: logs.loss, trainError: logs.error, testError: logs.valError ?? NaN,
        testLoss: logs.valLoss ?? NaN, seconds: logs.seconds, examplesPerSecond: logs.examplesPerSecond, ...w,
      }, [w.weights.buffer]);
    },
  }).then(
    () => post({ type: 'done', run, stopped: m.stopTraining || stopRequested, epochs: modelEpochs }),
    (e) => fail(e),
  );
}

function predict(id: number, pixels: Float32Array, samples: number): void {
  const m = model;
  if (!m) {
    post({ type: 'error', id, message: 'no model yet: press Start to train one' });
    return;
  }
  const t0 = performance.now();
  const probs = m.predict(pixels);
  const u = m.predictWithUncertainty(pixels, { samples });
  post({
    type: 'prediction', id, run: modelRun, epochs: modelEpochs, probs, mean: u.mean, variance: u.variance,
    entropy: u.entropy[0], mutualInformation: u.mutualInformation[0], samples, ms: performance.now() - t0,
  }, [probs.buffer, u.mean.buffer, u.variance.buffer]);
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  switch (msg.type) {
    case 'init':
      loaded = init(msg.dataUrl, msg.threads);
      loaded.catch((err) => fail(err));
      break;
    case 'start':
      starts = starts.then(() => start(msg.run, msg.settings)).catch((err) => fail(err));
      break;
    case 'stop':
      stopRequested = true;
      break;
    case 'predict':
      (loaded ?? Promise.reject(new Error('not initialized'))).then(() => predict(msg.id, msg.pixels, msg.samples)).catch((err) => fail(err, msg.id));
      break;
  }
};
