// From layer specs (tn.layers.*) to the layers a Sequential runs, and the dense kernels'
// initial weights. A dense spec with an activation becomes two layers (Dense, then Activation);
// a trailing softmax is dropped here (the loss fuses it), one anywhere else is an error.
import { Activation } from './activation.js';
import { Dense } from './dense.js';
import { Dropout, GaussianDropout } from './dropout.js';
import type { KernelInitializer, Layer, LayerSpec } from './types.js';

/** The layers for `specs` on inputs of `inputSize` features; each keeps its spec's index. */
export function buildLayers(specs: readonly LayerSpec[], inputSize: number): Layer[] {
  const net: Layer[] = [];
  let f = inputSize;
  specs.forEach((s, i) => {
    if (!s || typeof s !== 'object') throw new TypeError(`thinnet.sequential: layer ${i} is not a layer (use tn.layers.*)`);
    switch (s.type) {
      case 'dense': {
        const pieces = s.activation === 'maxout' ? s.pieces ?? 2 : 1;
        const d = new Dense(i, f, s.units * pieces, s.useBias !== false, s.maxNorm);
        net.push(d);
        f = d.outF;
        if (s.activation && s.activation !== 'linear') {
          const a = new Activation(i, f, s.activation, pieces);
          net.push(a);
          f = a.outF;
        }
        break;
      }
      case 'dropout':
        net.push(new Dropout(i, f, s.keep, s.convention ?? 'paper'));
        break;
      case 'gaussianDropout':
        net.push(new GaussianDropout(i, f, s.keep));
        break;
      case 'activation': {
        const pieces = s.activation === 'maxout' ? s.pieces ?? 2 : 1;
        if (s.activation === 'maxout' && f % pieces !== 0) {
          throw new RangeError(`thinnet.sequential: layer ${i} (maxout, ${pieces} pieces) gets ${f} inputs, not a multiple of ${pieces}`);
        }
        const a = new Activation(i, f, s.activation, pieces);
        net.push(a);
        f = a.outF;
        break;
      }
      default:
        throw new TypeError(`thinnet.sequential: layer ${i} has unknown type ${String((s as { type?: unknown }).type)}`);
    }
  });
  const last = net[net.length - 1];
  if (last instanceof Activation && last.activation === 'softmax') net.pop();
  const inner = net.findIndex((l) => l instanceof Activation && l.activation === 'softmax');
  if (inner >= 0) throw new RangeError(`thinnet.sequential: softmax is only supported as the last layer (layer ${net[inner].index} is not last)`);
  return net;
}

/** Fills w (fanOut rows of fanIn) from `init`, drawing from rng (uniform in [0, 1)). */
export function fillInit(w: Float32Array, init: KernelInitializer, fanIn: number, fanOut: number, rng: () => number): void {
  const normal = (sigma: number) => {
    for (let i = 0; i < w.length; i++) {
      const u1 = 1 - rng(), u2 = rng();
      w[i] = sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  };
  const uniform = (limit: number) => {
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng() - 1) * limit;
  };
  if (typeof init === 'object') normal(init.normal);
  else if (init === 'glorotUniform') uniform(Math.sqrt(6 / (fanIn + fanOut)));
  else if (init === 'glorotNormal') normal(Math.sqrt(2 / (fanIn + fanOut)));
  else if (init === 'heUniform') uniform(Math.sqrt(6 / fanIn));
  else normal(Math.sqrt(2 / fanIn));
}
