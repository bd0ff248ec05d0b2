// ONNX Conv/MaxPool `pads` of thinnet's 'valid'/'same' padding: shared by the exporter (which
// writes them) and the importer (which recognises them), so that importing needs no exporter code.
import { outputSize } from '../../layers/conv.js';
import type { Shape } from '../../layers/types.js';

/** Conv/MaxPool pads [top, left, bottom, right] of thinnet's padding. */
export function padsOf(inShape: Shape, k: [number, number], s: [number, number], padding: string | undefined): number[] {
  const p = padding ?? 'valid';
  const v = outputSize(inShape[0], k[0], s[0], p as 'valid' | 'same'), h = outputSize(inShape[1], k[1], s[1], p as 'valid' | 'same');
  const total = (n: number, out: number, kk: number, ss: number) => Math.max((out - 1) * ss + kk - n, 0);
  return [v.pad, h.pad, total(inShape[0], v.out, k[0], s[0]) - v.pad, total(inShape[1], h.out, k[1], s[1]) - h.pad];
}
