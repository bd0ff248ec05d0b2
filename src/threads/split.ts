// The one range splitter of the worker pool: how n items (elements, rows, units, examples) are
// cut into at most one range per thread. Every split in thinnet goes through it, so a range
// always starts where a single call would have put that item.

export interface SplitOptions {
  /** Every range starts at a multiple of this (default 32: mask words and RNG counters line up). */
  align?: number;
  /** No range is smaller than this (except the last; default: align). */
  minChunk?: number;
  /**
   * Merge a last range of one item into the one before. (Products used it so that a thread never
   * got a single row of a larger product, when the one-row GEMV path summed in another order;
   * it now keeps the GEMM's order, so this no longer changes any bits.)
   */
  noSingle?: boolean;
}

/** Cuts [0, n) into at most `parts` ranges, as [start, count] pairs ([[0, 0]] for n = 0). */
export function splitRange(n: number, parts: number, options: SplitOptions = {}): Array<[number, number]> {
  const align = options.align ?? 32;
  const usable = Math.max(1, Math.min(parts, Math.floor(n / Math.max(align, options.minChunk ?? 0)) || 1));
  const chunk = Math.max(align, Math.ceil(n / usable / align) * align);
  const out: Array<[number, number]> = [];
  for (let start = 0; start < n; start += chunk) out.push([start, Math.min(chunk, n - start)]);
  if (options.noSingle && out.length > 1 && out[out.length - 1][1] === 1) {
    out.pop();
    out[out.length - 1][1] += 1;
  }
  if (out.length === 0) out.push([0, 0]);
  return out;
}
