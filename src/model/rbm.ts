// A restricted Boltzmann machine with binary hidden units, trained by one-step contrastive
// divergence (CD-1), with or without dropout of the hidden units: the dropout RBM of Srivastava
// et al. 2014, §8. A mask r ~ Bernoulli(p) per training case and hidden unit (the same r in the
// positive and the negative phase of that case) makes a dropped unit's state 0:
//   P(h_j = 1 | r, v) = r_j σ(b_j + Σ_i W_ji v_i),     P(v_i = 1 | h) = σ(a_i + Σ_j W_ji h_j).
// One CD-1 step on a batch of B cases v0 (values in [0, 1]):
//   h0 = r ∗ σ(b + W v0)       probabilities; s0 ~ Bernoulli(h0) (the only sample drawn)
//   v1 = σ(a + Wᵀ s0)          the reconstruction (probabilities, as Hinton's practical guide)
//   h1 = r ∗ σ(b + W v1)
//   ΔW ∝ (h0ᵀ v0 − h1ᵀ v1) / B,  Δb ∝ mean(h0 − h1),  Δa ∝ mean(v0 − v1)
// applied by the momentum update of the dense nets (sgd_momentum_update_f32, with L2 weight decay
// on W only). keep = 1 is the ordinary RBM. Masks and samples come from the counter-based RNG in
// wasm (the mask of dropout_forward_f32 on stream 0, bernoulli_sample_f32 on stream 1, the step
// counting batches), so a run is reproducible bit for bit for any thread count.
//
// Features: `hiddenProbabilities(x)` is σ(b + W v), the activation of a retained unit (what the
// paper's Fig 13 histograms show); the mean of a dropout RBM's hidden state given v is keep times it.
import { runtime, type Runtime } from '../wasm/runtime.js';
import { denseForward, gemm } from '../kernels/linalg.js';
import { quantizeKeep } from '../ops/dropout.js';
import { toSchedule, type ScheduleLike } from '../train/schedules.js';
import { checkBatch, checkCount, checkKeep, checkOptions, checkU32, describeValue } from '../tensor/validate.js';

export interface RbmConfig {
  /** Visible units (784 for MNIST). */
  visible: number;
  /** Hidden units (256 in the paper's §8). */
  hidden: number;
  /** Retention probability p of the hidden units in (0, 1]; 1 (default): no dropout. */
  keep?: number;
  /** Seed of the initial weights, masks, samples and shuffling (default 1). */
  seed?: number;
  /** Standard deviation of the initial weights, N(0, initStd²) (default 0.01, Hinton's guide); biases start at 0. */
  initStd?: number;
}

export interface RbmFitOptions {
  epochs: number;
  /** Default 100. */
  batchSize?: number;
  /** ε per epoch (a number, a function of the epoch, or { start, end, epochs }); default 0.1. */
  learningRate?: ScheduleLike;
  /** Momentum per epoch; default { start: 0.5, end: 0.9, epochs: 5 }. */
  momentum?: ScheduleLike;
  /** L2 weight decay on W (default 0.0002). */
  weightDecay?: number;
  /** Shuffle the cases each epoch (seeded; default true). */
  shuffle?: boolean;
  onEpochEnd?: (epoch: number, logs: { reconstructionError: number }) => void;
}

export interface RbmHistory {
  /** Mean squared reconstruction error ‖v0 − v1‖² / case, per epoch (a progress measure, not the objective). */
  reconstructionError: number[];
}

const OP = 'rbm';

function positive(op: string, name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`thinnet.${op}: ${name} must be an integer in [1, ${max}], got ${describeValue(v)}`);
  }
  return v;
}

/** The rows of x as values in [0, 1] (uint8 pixels are divided by 255), checked. */
function checkVisible(op: string, x: unknown, visible: number): number {
  if (!(x instanceof Float32Array) && !(x instanceof Uint8Array)) {
    throw new TypeError(`thinnet.${op}: x must be a Float32Array or a Uint8Array (N×${visible}), got ${describeValue(x)}`);
  }
  if (x.length === 0 || x.length % visible !== 0) {
    throw new RangeError(`thinnet.${op}: x has ${x.length} values, not a positive multiple of the ${visible} visible units`);
  }
  if (x instanceof Float32Array) {
    for (let i = 0; i < x.length; i++) {
      if (!(x[i] >= 0 && x[i] <= 1)) throw new RangeError(`thinnet.${op}: x[${i}] = ${x[i]} is not in [0, 1] (visible units are probabilities)`);
    }
  }
  return x.length / visible;
}

/** N(0, 1) draws from a 32-bit xorshift and Box–Muller (initialization only; not the mask RNG). */
function normals(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 4294967296; };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())), t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

export class Rbm {
  readonly visible: number;
  readonly hidden: number;
  readonly keep: number;
  readonly seed: number;
  private readonly rt: Runtime;
  /** W [hidden, visible], then a [visible], then b [hidden], contiguous (one update call). */
  private readonly params: number;
  private readonly velocity: number;
  private readonly grads: number;
  private readonly count: number;
  /** Batches trained so far: the RNG step of the next batch's masks and samples. */
  private step = 0;
  private disposed = false;

  constructor(config: RbmConfig) {
    const c = checkOptions(OP, config);
    for (const k of Object.keys(c)) {
      if (!['visible', 'hidden', 'keep', 'seed', 'initStd'].includes(k)) throw new RangeError(`thinnet.${OP}: unknown option '${k}'`);
    }
    this.visible = positive(OP, 'visible', c.visible, 1 << 20);
    this.hidden = positive(OP, 'hidden', c.hidden, 1 << 20);
    if (this.visible * this.hidden > 1 << 28) throw new RangeError(`thinnet.${OP}: ${this.visible}×${this.hidden} weights exceed 2^28`);
    this.keep = c.keep === undefined ? 1 : quantizeKeep(checkKeep(OP, c.keep)).p;
    this.seed = c.seed === undefined ? 1 : checkU32(OP, 'seed', c.seed);
    const std = c.initStd ?? 0.01;
    if (typeof std !== 'number' || !(std >= 0 && std < 10)) throw new RangeError(`thinnet.${OP}: initStd must be a number in [0, 10), got ${describeValue(std)}`);
    this.rt = runtime();
    const V = this.visible, H = this.hidden;
    this.count = H * V + V + H;
    const heap = this.rt.heap;
    this.params = heap.alloc(4 * this.count);
    try {
      this.velocity = heap.alloc(4 * this.count);
      try {
        this.grads = heap.alloc(4 * this.count);
      } catch (e) { heap.free(this.velocity); throw e; }
    } catch (e) { heap.free(this.params); throw e; }
    const p = heap.f32(this.params, this.count);
    p.fill(0);
    const w = normals(H * V, this.seed);
    for (let i = 0; i < H * V; i++) p[i] = std * w[i];
    heap.f32(this.velocity, this.count).fill(0);
  }

  private live(op: string): void {
    if (this.disposed) throw new Error(`thinnet.${op}: this RBM was disposed`);
  }

  private get w(): number { return this.params; }
  private get a(): number { return this.params + 4 * this.hidden * this.visible; }
  private get b(): number { return this.a + 4 * this.visible; }

  /**
   * Trains by CD-1 (see the file comment). x: N cases × visible values in [0, 1] (Float32Array)
   * or uint8 (divided by 255). Resolves with the reconstruction error per epoch.
   */
  async fit(x: Float32Array | Uint8Array, options: RbmFitOptions): Promise<RbmHistory> {
    const op = `${OP}.fit`;
    this.live(op);
    const o = checkOptions(op, options);
    const known = ['epochs', 'batchSize', 'learningRate', 'momentum', 'weightDecay', 'shuffle', 'onEpochEnd'];
    for (const k of Object.keys(o)) if (!known.includes(k)) throw new RangeError(`thinnet.${op}: unknown option '${k}'`);
    const epochs = checkCount(op, 'epochs', o.epochs, true);
    const batch = checkBatch(op, o.batchSize ?? 100);
    const lr = toSchedule(op, 'learningRate', (o.learningRate ?? 0.1) as ScheduleLike);
    const mom = toSchedule(op, 'momentum', (o.momentum ?? { start: 0.5, end: 0.9, epochs: 5 }) as ScheduleLike);
    const wd = o.weightDecay ?? 0.0002;
    if (typeof wd !== 'number' || !(wd >= 0 && wd < 1)) throw new RangeError(`thinnet.${op}: weightDecay must be a number in [0, 1), got ${describeValue(wd)}`);
    if (o.shuffle !== undefined && typeof o.shuffle !== 'boolean') throw new TypeError(`thinnet.${op}: shuffle must be a boolean`);
    if (o.onEpochEnd !== undefined && typeof o.onEpochEnd !== 'function') throw new TypeError(`thinnet.${op}: onEpochEnd must be a function`);
    const N = checkVisible(op, x, this.visible);
    const V = this.visible, H = this.hidden, B = Math.min(batch, N);
    const rt = this.rt, k = rt.kernels, heap = rt.heap;
    const scaleIn = x instanceof Uint8Array ? 1 / 255 : 1;
    const { keep16 } = quantizeKeep(this.keep);
    // per-batch buffers, allocated once: v0, v1 [B, V]; h0, s0, h1 [B, H]; the mask; column sums
    const sizes = [B * V, B * V, B * H, B * H, B * H, Math.ceil((B * H) / 32), V];
    const bufs: number[] = [];
    try {
      for (const n of sizes) bufs.push(heap.alloc(4 * Math.max(n, 4)));
      const [v0, v1, h0, s0, h1, mask, colV] = bufs;
      const order = Int32Array.from({ length: N }, (_, i) => i);
      const history: RbmHistory = { reconstructionError: [] };
      let shuffleState = (this.seed ^ 0x5bd1e995) >>> 0 || 1;
      const rand = () => { shuffleState ^= shuffleState << 13; shuffleState >>>= 0; shuffleState ^= shuffleState >>> 17; shuffleState ^= shuffleState << 5; shuffleState >>>= 0; return shuffleState / 4294967296; };
      for (let epoch = 0; epoch < epochs; epoch++) {
        if (o.shuffle !== false) for (let i = N - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
        const eps = lr(epoch), mu = mom(epoch);
        if (!(Number.isFinite(eps) && eps > 0) || !(Number.isFinite(mu) && mu >= 0 && mu < 1)) {
          throw new RangeError(`thinnet.${op}: epoch ${epoch}: learning rate ${eps} must be > 0 and momentum ${mu} in [0, 1)`);
        }
        let err = 0;
        for (let start = 0; start < N; start += B) {
          const n = Math.min(B, N - start);
          const v0v = heap.f32(v0, n * V);
          for (let r = 0; r < n; r++) {
            const row = order[start + r] * V;
            for (let i = 0; i < V; i++) v0v[r * V + i] = x[row + i] * scaleIn;
          }
          this.cdStep(rt, n, v0, v1, h0, s0, h1, mask, colV, keep16, eps, mu, wd);
          const v1v = heap.f32(v1, n * V), v0w = heap.f32(v0, n * V);
          for (let i = 0; i < n * V; i++) { const d = v0w[i] - v1v[i]; err += d * d; }
        }
        if (k.count_nonfinite_f32(this.params, this.count) > 0) {
          throw new RangeError(`thinnet.${op}: the weights became non-finite in epoch ${epoch} (learning rate ${eps} too large?)`);
        }
        history.reconstructionError.push(err / N);
        (o.onEpochEnd as RbmFitOptions['onEpochEnd'])?.(epoch, { reconstructionError: err / N });
        await Promise.resolve();
        this.live(op);
      }
      return history;
    } finally {
      for (const p of bufs) heap.free(p);
    }
  }

  /** One CD-1 update on the n cases in v0 (see the file comment). */
  private cdStep(rt: Runtime, n: number, v0: number, v1: number, h0: number, s0: number, h1: number, mask: number, colV: number,
    keep16: number, lr: number, momentum: number, weightDecay: number): void {
    const k = rt.kernels, V = this.visible, H = this.hidden, nh = n * H, heap = rt.heap;
    const step = this.step++;
    // positive phase
    denseForward(rt, h0, v0, this.w, this.b, n, V, H);
    k.sigmoid_forward_f32(h0, h0, nh);
    if (keep16 < 65536) k.dropout_forward_f32(h0, mask, h0, keep16, 1, this.seed, 0, step, 0, nh);
    k.bernoulli_sample_f32(s0, h0, this.seed, 1, step, 0, nh);
    // negative phase: v1 = σ(a + s0·W), h1 = r ∗ σ(b + W v1)
    const av = heap.f32(this.a, V), v1v = heap.f32(v1, n * V);
    for (let r = 0; r < n; r++) v1v.set(av, r * V);
    gemm(rt, 'nn', v1, s0, this.w, 1, n, V, H, H, V, V);
    k.sigmoid_forward_f32(v1, v1, n * V);
    denseForward(rt, h1, v1, this.w, this.b, n, V, H);
    k.sigmoid_forward_f32(h1, h1, nh);
    if (keep16 < 65536) k.dropout_backward_f32(h1, h1, mask, 1, nh);
    // the descent direction g = −(positive − negative statistics) / n
    const gw = this.grads, ga = gw + 4 * H * V, gb = ga + 4 * V;
    k.scale_f32(h1, h1, 1 / n, nh);    // h1 / n
    k.scale_f32(h0, h0, -1 / n, nh);   // −h0 / n
    gemm(rt, 'tn', gw, h1, v1, 0, H, V, n, H, V, V);
    gemm(rt, 'tn', gw, h0, v0, 1, H, V, n, H, V, V);
    k.dense_backward_bias_f32(gb, h1, 0, n, H, H);
    k.dense_backward_bias_f32(gb, h0, 1, n, H, H);
    k.dense_backward_bias_f32(ga, v1, 0, n, V, V);
    k.dense_backward_bias_f32(colV, v0, 0, n, V, V);
    k.axpy_f32(ga, colV, -1, V);
    k.scale_f32(ga, ga, 1 / n, V);
    // weight decay on W only: g_W += wd·W, then the momentum update of every parameter
    if (weightDecay > 0) k.axpy_f32(gw, this.w, weightDecay, H * V);
    k.sgd_momentum_update_f32(this.params, this.velocity, this.grads, lr, momentum, 0, this.count);
  }

  /** σ(b + W v) of every case: N × hidden, the activation of a retained hidden unit. */
  hiddenProbabilities(x: Float32Array | Uint8Array): Float32Array {
    const op = `${OP}.hiddenProbabilities`;
    this.live(op);
    const N = checkVisible(op, x, this.visible);
    return this.withRows(x, N, this.visible, this.hidden, (vin, out, n) => {
      denseForward(this.rt, out, vin, this.w, this.b, n, this.visible, this.hidden);
      this.rt.kernels.sigmoid_forward_f32(out, out, n * this.hidden);
    });
  }

  /** The mean-field reconstruction σ(a + Wᵀ (keep · σ(b + W v))) of every case: N × visible. */
  reconstruct(x: Float32Array | Uint8Array): Float32Array {
    const op = `${OP}.reconstruct`;
    this.live(op);
    const N = checkVisible(op, x, this.visible);
    const V = this.visible, H = this.hidden, rt = this.rt, k = rt.kernels, heap = rt.heap;
    const hid = heap.alloc(4 * Math.min(N, 256) * H);
    try {
      return this.withRows(x, N, V, V, (vin, out, n) => {
        denseForward(rt, hid, vin, this.w, this.b, n, V, H);
        k.sigmoid_forward_f32(hid, hid, n * H);
        k.scale_f32(hid, hid, this.keep, n * H);
        const av = heap.f32(this.a, V), ov = heap.f32(out, n * V);
        for (let r = 0; r < n; r++) ov.set(av, r * V);
        gemm(rt, 'nn', out, hid, this.w, 1, n, V, H, H, V, V);
        k.sigmoid_forward_f32(out, out, n * V);
      });
    } finally {
      heap.free(hid);
    }
  }

  /** Runs fn on chunks of ≤ 256 rows of x copied into wasm, collecting outWidth values per row. */
  private withRows(x: Float32Array | Uint8Array, N: number, inWidth: number, outWidth: number,
    fn: (vin: number, out: number, n: number) => void): Float32Array {
    const heap = this.rt.heap, chunk = Math.min(N, 256);
    const result = new Float32Array(N * outWidth);
    const vin = heap.alloc(4 * chunk * inWidth);
    try {
      const out = heap.alloc(4 * chunk * outWidth);
      try {
        const s = x instanceof Uint8Array ? 1 / 255 : 1;
        for (let r0 = 0; r0 < N; r0 += chunk) {
          const n = Math.min(chunk, N - r0);
          const v = heap.f32(vin, n * inWidth);
          for (let i = 0; i < n * inWidth; i++) v[i] = x[r0 * inWidth + i] * s;
          fn(vin, out, n);
          result.set(heap.f32(out, n * outWidth), r0 * outWidth);
        }
      } finally {
        heap.free(out);
      }
    } finally {
      heap.free(vin);
    }
    return result;
  }

  /** Copies of the parameters: weights [hidden, visible] (row j = hidden unit j's filter), visibleBias, hiddenBias. */
  getWeights(): { weights: Float32Array; visibleBias: Float32Array; hiddenBias: Float32Array } {
    this.live(`${OP}.getWeights`);
    const heap = this.rt.heap, H = this.hidden, V = this.visible;
    return {
      weights: heap.f32(this.w, H * V).slice(),
      visibleBias: heap.f32(this.a, V).slice(),
      hiddenBias: heap.f32(this.b, H).slice(),
    };
  }

  /** Frees the wasm memory; later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of [this.params, this.velocity, this.grads]) this.rt.heap.free(p);
  }
}

/** A restricted Boltzmann machine (binary units, CD-1), with dropout of the hidden units when keep < 1 (paper §8). */
export function rbm(config: RbmConfig): Rbm {
  return new Rbm(config);
}
