// The /metrics endpoint: counters, gauges and histograms in the Prometheus text exposition
// format (version 0.0.4), kept by hand — a few dozen lines, where a client library would be a
// dependency of every install of thinnet.

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

interface Metric { render(): string[] }

export class Counter implements Metric {
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by; else this.values.set(key, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) out.push(`${this.name} 0`);
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return out;
  }
}

/** A gauge read when /metrics is scraped. */
export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => Array<[Labels, number]> | number) {}

  render(): string[] {
    const v = this.read();
    const rows = typeof v === 'number' ? [[{}, v] as [Labels, number]] : v;
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, ...rows.map(([l, x]) => `${this.name}${labelText(l)} ${num(x)}`)];
  }
}

export class Histogram implements Metric {
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, s = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 });
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Observations so far (of one label set). */
  count(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.count ?? 0;
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText({ ...labels, le: num(b) })} ${counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      out.push(`${this.name}_sum${labelText(labels)} ${num(sum)}`, `${this.name}_count${labelText(labels)} ${count}`);
    }
    return out;
  }
}

export class Registry {
  private metrics: Metric[] = [];

  add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }

  /** The exposition text (Content-Type: text/plain; version=0.0.4). */
  render(): string {
    return this.metrics.flatMap((m) => m.render()).join('\n') + '\n';
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The server's metrics; `memory` reads tn.memoryInfo() (and the process's RSS where there is one). */
export function serverMetrics(memory: () => { allocatedBytes: number; allocations: number; memoryBytes: number }, extra: () => { inflight: number; queued: number }) {
  const r = new Registry();
  const m = {
    registry: r,
    requests: r.add(new Counter('thinnet_http_requests_total', 'HTTP requests answered, by route and status code.')),
    errors: r.add(new Counter('thinnet_http_errors_total', 'Requests answered with an error, by error code (400/413/415/500/503 bodies name it).')),
    latency: r.add(new Histogram('thinnet_http_request_duration_seconds', 'Time from the request\'s arrival to the end of its answer, by route.',
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5])),
    batchRows: r.add(new Histogram('thinnet_batch_rows', 'Rows per model call (a micro-batch, or one request alone).', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])),
    batchRequests: r.add(new Histogram('thinnet_batch_requests', 'Requests coalesced into one model call.', [1, 2, 4, 8, 16, 32, 64, 128])),
    batchSeconds: r.add(new Histogram('thinnet_batch_duration_seconds', 'Time of one model call.', [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1])),
    reloads: r.add(new Counter('thinnet_model_reloads_total', 'Model reloads, by result (ok, error).')),
  };
  r.add(new Gauge('thinnet_inflight_requests', 'Requests being read, queued or predicted.', () => extra().inflight));
  r.add(new Gauge('thinnet_queued_requests', 'Requests waiting for the model.', () => extra().queued));
  r.add(new Gauge('thinnet_wasm_memory_bytes', 'Size of the WebAssembly memory (tn.memoryInfo().memoryBytes).', () => memory().memoryBytes));
  r.add(new Gauge('thinnet_wasm_allocated_bytes', 'Bytes allocated in the WebAssembly heap (tn.memoryInfo().allocatedBytes).', () => memory().allocatedBytes));
  r.add(new Gauge('thinnet_wasm_allocations', 'Live allocations in the WebAssembly heap (tn.memoryInfo().allocations).', () => memory().allocations));
  const proc = (globalThis as { process?: { memoryUsage?: () => { rss: number } } }).process;
  if (typeof proc?.memoryUsage === 'function') {
    r.add(new Gauge('process_resident_memory_bytes', 'Resident set size of the process.', () => proc.memoryUsage!().rss));
  }
  return m;
}

export type ServerMetrics = ReturnType<typeof serverMetrics>;
