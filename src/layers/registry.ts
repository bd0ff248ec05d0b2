// From specs to the layers a model runs. The families are found on the factories of the
// `layers` namespace (index.ts): nothing here names a family. A trailing softmax is dropped (the
// loss fuses it); one anywhere else is an error.
import * as factories from './index.js';
import type { Layer, LayerFamily, LayerSpec, Shape } from './types.js';

const FAMILIES: ReadonlyMap<string, LayerFamily> = new Map(
  Object.values(factories).flatMap((f) => {
    const family = (f as { family?: LayerFamily }).family;
    return family ? [[family.type, family] as const] : [];
  }));

function familyOf(spec: unknown, i: number): LayerFamily {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new TypeError(`thinnet.sequential: layer ${i} is not a layer (use tn.layers.*)`);
  const type = (spec as { type?: unknown }).type;
  const family = typeof type === 'string' ? FAMILIES.get(type) : undefined;
  if (!family) {
    throw new TypeError(`thinnet.sequential: layer ${i} has unknown type ${JSON.stringify(type)} (known: ${[...FAMILIES.keys()].join(', ')})`);
  }
  return family;
}

/** Every spec checked and normalized by its family (the factories' checks and messages). */
export function checkSpecs(specs: readonly unknown[]): LayerSpec[] {
  return specs.map((s, i) => {
    const family = familyOf(s, i);
    try {
      return family.check(s as LayerSpec);
    } catch (e) {
      (e as Error).message = `layer ${i}: ${(e as Error).message}`;
      throw e;
    }
  });
}

export interface Built {
  layers: Layer[];
  /** The last spec ends in a softmax, dropped from the layers and fused with the loss. */
  foldedSoftmax: boolean;
}

/** The layers for checked specs on examples of shape inputShape (each keeps its spec's index). */
export function buildLayers(specs: readonly LayerSpec[], inputShape: Shape): Built {
  const layers: Layer[] = [];
  let shape = inputShape;
  specs.forEach((s, i) => {
    const built = familyOf(s, i).build(s, i, shape);
    for (const l of built) {
      if (!(l.outSize >= 1)) throw new RangeError(`thinnet.sequential: layer ${i} (${s.type}) has an empty output (shape [${l.outShape.join(', ')}])`);
      layers.push(l);
      shape = l.outShape;
    }
  });
  const foldedSoftmax = layers.length > 0 && layers[layers.length - 1].kind === 'softmax';
  if (foldedSoftmax) layers.pop();
  const inner = layers.find((l) => l.kind === 'softmax');
  if (inner) throw new RangeError(`thinnet.sequential: softmax is only supported as the last layer (layer ${inner.index} is not last)`);
  return { layers, foldedSoftmax };
}

/** summary()'s description of a checked spec. */
export function describeSpec(spec: LayerSpec, i: number): string {
  return familyOf(spec, i).describe(spec);
}
