// foldDropout: an inference network without dropout layers. The paper's weight scaling of each
// 'paper'-convention dropout layer (×p at test time) moves forward through layers that commute
// with a positive factor (flatten, max-pool, relu, maxout, linear) into the weights of the next
// layer that absorbs it (dense, conv: f(p·x) = f(x) with its kernel scaled by p); 'inverted' and
// Gaussian dropout are the identity at test time and are simply removed.
import type { Layer, LayerSpec } from '../layers/types.js';
import type { Network } from './network.js';

export interface FoldPlan {
  /** The specs without the dropout layers. */
  specs: LayerSpec[];
  /** For each layer with parameters, in order: the factor its 'weight' parameters take. */
  scales: number[];
}

export function planFold(specs: readonly LayerSpec[], layers: readonly Layer[]): FoldPlan {
  const dropped = new Set<number>();
  const scales: number[] = [];
  let pending: { s: number; at: number } | undefined;
  for (const l of layers) {
    if (l.dropoutScale !== undefined) {
      dropped.add(l.index);
      if (l.dropoutScale !== 1) pending = { s: (pending?.s ?? 1) * l.dropoutScale, at: pending?.at ?? l.index };
      continue;
    }
    if (l.params.length > 0 && l.fold === 'absorb') {
      scales.push(pending?.s ?? 1);
      pending = undefined;
      continue;
    }
    if (pending && l.fold !== 'commute') {
      throw new Error(`thinnet.foldDropout: dropout layer ${pending.at} ('paper' convention) is followed by layer ${l.index} (${l.kind}), ` +
        'through which its weight scaling cannot be moved into weights (only flatten, max-pool, relu, maxout and linear pass it on to a dense or conv layer)');
    }
    if (l.params.length > 0) scales.push(1);
  }
  if (pending) throw new Error(`thinnet.foldDropout: dropout layer ${pending.at} ('paper' convention) has no dense or conv layer after it; nothing to fold it into`);
  return { specs: specs.filter((_, i) => !dropped.has(i)).map((s) => ({ ...s })), scales };
}

/** Copies src's parameters into dst (the network of plan.specs), scaling weights as planned. */
export function copyFolded(src: Network, dst: Network, plan: FoldPlan): void {
  const from = src.layers.filter((l) => l.params.length > 0);
  const to = dst.layers.filter((l) => l.params.length > 0);
  const k = src.rt.kernels;
  from.forEach((l, i) => {
    l.params.forEach((p, j) => {
      const q = to[i].params[j];
      k.scale_f32(dst.params + 4 * q.offset, src.params + 4 * p.offset, p.role === 'weight' ? plan.scales[i] : 1, p.size);
    });
  });
}
