// Optimizers over the model's one parameter block: each update is two kernel calls (the weights
// region, with weight decay; the bias region, without), however many layers the model has.
import type { Runtime } from '../wasm/runtime.js';
import { toSchedule, type Schedule, type ScheduleLike } from './schedules.js';
import { checkOptions } from '../tensor/validate.js';

/** What the model gives an optimizer state per update. */
export interface Blocks {
  params: number;
  grads: number;
  /** Weights occupy elements [0, weightCount), biases [weightCount, weightCount + biasCount). */
  weightCount: number;
  biasCount: number;
}

export interface OptimizerState {
  update(b: Blocks, epoch: number): void;
  /** Current learning rate / momentum, for logs. */
  values(epoch: number): { learningRate: number; momentum?: number };
  /**
   * The state a resumed run needs, for saving (model.save(path, { optimizer: true })): buffers of
   * n float32 each (SGD: velocity; Adam: m, v) in a fixed order, and scalar counters (Adam: t).
   */
  readonly slots: ReadonlyArray<{ name: string; ptr: number }>;
  counters(): Record<string, number>;
  setCounters(c: Record<string, number>): void;
  dispose(): void;
}

export interface Optimizer {
  readonly name: 'sgd' | 'adam';
  readonly config: Record<string, unknown>;
  /** Allocates the optimizer's state (velocity, moments) for n parameters. */
  create(rt: Runtime, n: number): OptimizerState;
}

export interface SgdOptions {
  /** ε: a number or a schedule of the epoch (see tn.schedules). Default 0.01. */
  learningRate?: ScheduleLike;
  /** Momentum p_t: a number, a schedule, or a linear ramp {start, end, epochs} (Hinton et al. 2012's). Default 0. */
  momentum?: ScheduleLike;
  /** L2 weight decay λ (gradient += λ·w) on weights, not biases. Default 0. */
  weightDecay?: number;
  /**
   * true: the damped form Δw = p_t·Δw − (1 − p_t)·ε_t·∇L of Hinton et al. 2012 ("Improving neural
   * networks by preventing co-adaptation of feature detectors", arXiv:1207.0580, App. A), i.e.
   * the step is scaled by (1 − p_t); the JMLR paper states no momentum formula. The CLI's
   * `--momentum-form paper` selects this form (the name is kept for compatibility).
   * false (default): classic momentum Δw = p_t·Δw − ε_t·∇L.
   */
  dampening?: boolean;
}

function nonNegative(op: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`thinnet.${op}: ${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

/** Stochastic gradient descent with (classic) momentum, schedules and L2 weight decay. */
export function sgd(options: SgdOptions = {}): Optimizer {
  const o = checkOptions('optimizers.sgd', options);
  const lr: Schedule = toSchedule('optimizers.sgd', 'learningRate', (o.learningRate as ScheduleLike | undefined) ?? 0.01);
  const mom: Schedule = toSchedule('optimizers.sgd', 'momentum', (o.momentum as ScheduleLike | undefined) ?? 0);
  const wd = nonNegative('optimizers.sgd', 'weightDecay', o.weightDecay, 0);
  const dampening = o.dampening === true;
  return {
    name: 'sgd',
    config: { learningRate: describe(o.learningRate), momentum: describe(o.momentum), weightDecay: wd, dampening },
    create(rt: Runtime, n: number): OptimizerState {
      const v = rt.heap.alloc(n * 4);
      rt.heap.f32(v, n).fill(0);
      const values = (epoch: number) => {
        const m = mom(epoch);
        const e = lr(epoch);
        if (!(m >= 0 && m < 1)) throw new RangeError(`thinnet.optimizers.sgd: momentum at epoch ${epoch} is ${m}, not in [0, 1)`);
        if (!(e >= 0) || !Number.isFinite(e)) throw new RangeError(`thinnet.optimizers.sgd: learning rate at epoch ${epoch} is ${e}`);
        return { learningRate: e, momentum: m };
      };
      return {
        values,
        slots: [{ name: 'velocity', ptr: v }],
        counters: () => ({}),
        setCounters() {},
        update(b, epoch) {
          const { learningRate, momentum } = values(epoch);
          const step = dampening ? (1 - momentum) * learningRate : learningRate;
          // Elementwise, so split across the pool like any elementwise kernel (bit-identical).
          const update = (at: number, decay: number, n: number) => rt.runSplit('sgd_momentum_update_f32', n, (s, c) => [
            b.params + at + 4 * s, v + at + 4 * s, b.grads + at + 4 * s, step, momentum, decay, c]);
          update(0, wd, b.weightCount);
          if (b.biasCount) update(4 * b.weightCount, 0, b.biasCount);
        },
        dispose() { rt.heap.free(v); },
      };
    },
  };
}

export interface AdamOptions {
  learningRate?: ScheduleLike;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/** Adam (Kingma & Ba 2015) with bias correction; weight decay on weights only. */
export function adam(options: AdamOptions = {}): Optimizer {
  const o = checkOptions('optimizers.adam', options);
  const lr = toSchedule('optimizers.adam', 'learningRate', (o.learningRate as ScheduleLike | undefined) ?? 0.001);
  const beta1 = nonNegative('optimizers.adam', 'beta1', o.beta1, 0.9);
  const beta2 = nonNegative('optimizers.adam', 'beta2', o.beta2, 0.999);
  const eps = nonNegative('optimizers.adam', 'epsilon', o.epsilon, 1e-8);
  const wd = nonNegative('optimizers.adam', 'weightDecay', o.weightDecay, 0);
  if (beta1 >= 1 || beta2 >= 1) throw new RangeError('thinnet.optimizers.adam: beta1 and beta2 must be in [0, 1)');
  return {
    name: 'adam',
    config: { learningRate: describe(o.learningRate), beta1, beta2, epsilon: eps, weightDecay: wd },
    create(rt: Runtime, n: number): OptimizerState {
      const m = rt.heap.alloc(n * 4), v = rt.heap.alloc(n * 4);
      rt.heap.f32(m, n).fill(0);
      rt.heap.f32(v, n).fill(0);
      let t = 0;
      const values = (epoch: number) => {
        const e = lr(epoch);
        if (!(e >= 0) || !Number.isFinite(e)) throw new RangeError(`thinnet.optimizers.adam: learning rate at epoch ${epoch} is ${e}, not a finite number ≥ 0`);
        return { learningRate: e };
      };
      return {
        values,
        slots: [{ name: 'm', ptr: m }, { name: 'v', ptr: v }],
        counters: () => ({ t }),
        setCounters(c) {
          if (!Number.isInteger(c.t) || c.t < 0) throw new Error(`thinnet: bad saved Adam step counter ${String(c.t)}`);
          t = c.t;
        },
        update(b, epoch) {
          t++;
          const e = values(epoch).learningRate;
          const p1 = Math.pow(beta1, t), p2 = Math.pow(beta2, t);
          const update = (at: number, decay: number, n: number) => rt.runSplit('adam_update_f32', n, (s, c) => [
            b.params + at + 4 * s, m + at + 4 * s, v + at + 4 * s, b.grads + at + 4 * s, e, beta1, beta2, eps, p1, p2, decay, c]);
          update(0, wd, b.weightCount);
          if (b.biasCount) update(4 * b.weightCount, 0, b.biasCount);
        },
        dispose() { rt.heap.free(m); rt.heap.free(v); },
      };
    },
  };
}

function describe(v: unknown): unknown {
  return typeof v === 'function' ? 'schedule' : v;
}

/** Optimizer state read from a model file (see model.save(path, { optimizer: true })). */
export interface SavedOptimizerState {
  name: string;
  counters: Record<string, number>;
  slots: Array<{ name: string; data: Float32Array }>;
}

/** Copies saved state into a freshly created state of the same optimizer kind. */
export function restoreOptimizerState(rt: Runtime, state: OptimizerState, saved: SavedOptimizerState, n: number): void {
  const names = state.slots.map((s) => s.name).join(', ');
  const savedNames = saved.slots.map((s) => s.name).join(', ');
  if (names !== savedNames) throw new Error(`thinnet.compile: the saved ${saved.name} state has buffers [${savedNames}], this optimizer [${names}]`);
  for (const s of saved.slots) {
    if (s.data.length !== n) throw new Error(`thinnet.compile: the saved ${saved.name} buffer '${s.name}' has ${s.data.length} values, the model ${n} parameters`);
  }
  state.setCounters(saved.counters);
  saved.slots.forEach((s, i) => rt.heap.f32(state.slots[i].ptr, n).set(s.data));
}
