// Schedules for the learning rate and the momentum: functions of the epoch index (0-based),
// evaluated once at the start of every epoch. The JMLR paper (App. A.2, B.1) gives only momentum
// values (0.95–0.99, "final momentum of 0.95"); the linear momentum ramp and the exponential
// learning-rate decay ε_t = ε₀·f^t are from Hinton et al. 2012, "Improving neural networks by
// preventing co-adaptation of feature detectors" (arXiv:1207.0580, App. A: 0.5 → 0.99 over 500
// epochs, f = 0.998); inverse-t decay is the first author's deepnet example config.

/** A value per epoch: epoch 0 is the first. */
export type Schedule = (epoch: number) => number;

/** A number, a schedule function, or a linear ramp {start, end, epochs} (Hinton et al. 2012's momentum ramp). */
export type ScheduleLike = number | Schedule | { start: number; end: number; epochs: number };

/** lr0 · rate^epoch (ε_t = ε_0 · f^t of Hinton et al. 2012, arXiv:1207.0580; rate e.g. their 0.998). */
export function exponentialDecay(options: { initial: number; rate: number }): Schedule {
  const { initial, rate } = options;
  check('exponentialDecay', 'initial', initial);
  check('exponentialDecay', 'rate', rate);
  return (epoch) => initial * Math.pow(rate, epoch);
}

/** lr0 / (1 + epoch / T): inverse-time decay. */
export function inverseTimeDecay(options: { initial: number; T: number }): Schedule {
  const { initial, T } = options;
  check('inverseTimeDecay', 'initial', initial);
  if (!(T > 0)) throw new RangeError(`thinnet.schedules.inverseTimeDecay: T must be > 0, got ${T}`);
  return (epoch) => initial / (1 + epoch / T);
}

/** Linear from `start` (epoch 0) to `end` (epoch `epochs` and after): the momentum ramp of Hinton et al. 2012 (arXiv:1207.0580). */
export function linearRamp(options: { start: number; end: number; epochs: number }): Schedule {
  const { start, end, epochs } = options;
  check('linearRamp', 'start', start);
  check('linearRamp', 'end', end);
  if (!(epochs >= 0) || !Number.isFinite(epochs)) throw new RangeError(`thinnet.schedules.linearRamp: epochs must be ≥ 0, got ${epochs}`);
  return (epoch) => (epochs === 0 || epoch >= epochs ? end : start + (end - start) * (epoch / epochs));
}

/**
 * Linear warm-up: from `from` at epoch 0 to the value `then` has at epoch `epochs`, then `then`
 * itself. Deep logistic nets need it: a rate they tolerate later keeps them on the chance plateau
 * at the start (docs/RESULTS.md, Table 2 row 2).
 */
export function warmup(options: { from: number; epochs: number; then: number | Schedule }): Schedule {
  const { from, epochs } = options;
  check('warmup', 'from', from);
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new RangeError(`thinnet.schedules.warmup: epochs must be an integer ≥ 0, got ${epochs}`);
  const then = toSchedule('schedules.warmup', 'then', options.then);
  return (epoch) => (epoch >= epochs ? then(epoch) : from + (then(epochs) - from) * (epoch / epochs));
}

export function constant(value: number): Schedule {
  check('constant', 'value', value);
  return () => value;
}

/** Turns a ScheduleLike into a Schedule, with a clear error naming the option. */
export function toSchedule(op: string, name: string, v: ScheduleLike): Schedule {
  if (typeof v === 'number') {
    check(op, name, v);
    return () => v;
  }
  if (typeof v === 'function') return v;
  if (v && typeof v === 'object' && 'start' in v) return linearRamp(v);
  throw new TypeError(`thinnet.${op}: ${name} must be a number, a schedule function or {start, end, epochs}`);
}

function check(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`thinnet.${op.includes('.') ? op : `schedules.${op}`}: ${name} must be a finite number ≥ 0, got ${String(v)}`);
  }
}
