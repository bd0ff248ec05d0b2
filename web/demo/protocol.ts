// Messages between the page (main.ts) and the training worker (train-worker.ts), and the reader
// of the MNIST subset file that scripts/make-demo-data.mjs writes.

/** Settings of one training run (from the page's switch and its URL query). */
export interface RunSettings {
  dropout: boolean;
  /** 'mlp': the paper's MNIST MLP; 'conv': a small conv net with dropout in every layer. */
  model: 'mlp' | 'conv';
  /** Units of each of the two hidden layers. */
  hidden: number;
  epochs: number;
  /** Training examples used (the first n of the subset). */
  train: number;
  batchSize: number;
  seed: number;
}

export type ToWorker =
  | { type: 'init'; dataUrl: string; threads: number | 'auto' }
  | { type: 'start'; run: number; settings: RunSettings }
  | { type: 'stop' }
  | { type: 'predict'; id: number; pixels: Float32Array; samples: number };

export interface ReadyMessage {
  type: 'ready';
  backend: string;
  threads: number;
  /** crossOriginIsolated as seen inside the worker. */
  isolated: boolean;
  train: number;
  test: number;
  /** Milliseconds to fetch the subset and to load the wasm build. */
  dataMs: number;
  wasmMs: number;
}

export type FromWorker =
  | ReadyMessage
  | { type: 'started'; run: number; settings: RunSettings; parameters: number; layers: string }
  /** Mean training loss of the last few batches; `x` is the position in epochs (e.g. 1.25). */
  | { type: 'loss'; run: number; x: number; loss: number }
  | {
    type: 'epoch'; run: number; epoch: number; loss: number; trainError: number; testError: number; testLoss: number;
    seconds: number; examplesPerSecond: number;
    /** The first layer's first `units` weight images (dense: 28×28 rows; conv: its side×side filters), units × side². */
    weights: Float32Array; units: number; side: number;
  }
  | { type: 'weights'; run: number; weights: Float32Array; units: number; side: number }
  | { type: 'done'; run: number; stopped: boolean; epochs: number }
  | {
    type: 'prediction'; id: number; run: number; epochs: number;
    /** Weight scaling (one deterministic pass), 10 probabilities. */
    probs: Float32Array;
    /** Monte-Carlo dropout over `samples` thinned nets. */
    mean: Float32Array; variance: Float32Array; entropy: number; mutualInformation: number; samples: number;
    ms: number;
  }
  | { type: 'error'; id?: number; message: string };

/** The subset file: "TNMS", version 1, counts, rows, cols (u32 little-endian), then the data. */
export interface Subset {
  rows: number;
  cols: number;
  train: { x: Uint8Array; y: Uint8Array; count: number };
  test: { x: Uint8Array; y: Uint8Array; count: number };
}

export function parseSubset(buffer: ArrayBuffer): Subset {
  const bytes = new Uint8Array(buffer);
  const dv = new DataView(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (bytes.length < 24 || magic !== 'TNMS') throw new Error('mnist-subset.bin: not a thinnet MNIST subset (bad magic)');
  const version = dv.getUint32(4, true);
  if (version !== 1) throw new Error(`mnist-subset.bin: unknown version ${version}`);
  const [n, m, rows, cols] = [8, 12, 16, 20].map((o) => dv.getUint32(o, true));
  const px = rows * cols;
  if (bytes.length !== 24 + (n + m) * (px + 1)) throw new Error(`mnist-subset.bin: ${bytes.length} bytes, expected ${24 + (n + m) * (px + 1)}`);
  let at = 24;
  const take = (k: number) => { const v = bytes.subarray(at, at + k); at += k; return v; };
  const train = { x: take(n * px), y: take(n), count: n };
  const test = { x: take(m * px), y: take(m), count: m };
  return { rows, cols, train, test };
}
