// The model being served, and reloading it without dropping a request. Each request leases the
// model current when it arrives and keeps it until answered; a reload loads the new model
// first (a failure leaves the old one serving), then swaps it in: new requests get the new
// model, requests already holding the old one finish on it, and the old one is disposed when
// its last lease is returned. Only models the server loaded itself are ever disposed.
import type { Sequential } from '../model/sequential.js';

export interface ModelInfo {
  /** SHA-256 of the model file (model.contentHash()). */
  sha256: string;
  /** When this model started serving (ISO 8601). */
  loadedAt: string;
  /** Where it came from: a file path, or 'bytes' / 'object'. */
  source: string;
  /** 1 for the first model, +1 per reload. */
  generation: number;
}

interface Entry {
  model: Sequential;
  info: ModelInfo;
  owned: boolean;
  leases: number;
  retired: boolean;
}

export interface Lease {
  readonly model: Sequential;
  readonly info: ModelInfo;
  release(): void;
}

export class ModelSlot {
  private entry: Entry;

  constructor(model: Sequential, info: Omit<ModelInfo, 'generation' | 'loadedAt'>, owned: boolean) {
    this.entry = { model, info: { ...info, generation: 1, loadedAt: new Date().toISOString() }, owned, leases: 0, retired: false };
  }

  get model(): Sequential {
    return this.entry.model;
  }

  get info(): ModelInfo {
    return this.entry.info;
  }

  acquire(): Lease {
    const e = this.entry;
    e.leases++;
    let released = false;
    return {
      model: e.model, info: e.info,
      release: () => {
        if (released) return;
        released = true;
        e.leases--;
        this.maybeDispose(e);
      },
    };
  }

  /** Serves `model` from now on; the old model is disposed once its last request is answered. */
  swap(model: Sequential, info: Omit<ModelInfo, 'generation' | 'loadedAt'>, owned: boolean): ModelInfo {
    const old = this.entry;
    this.entry = { model, info: { ...info, generation: old.info.generation + 1, loadedAt: new Date().toISOString() }, owned, leases: 0, retired: false };
    old.retired = true;
    this.maybeDispose(old);
    return this.entry.info;
  }

  /** Disposes the current model (if the server loaded it) once its requests are answered. */
  retire(): void {
    this.entry.retired = true;
    this.maybeDispose(this.entry);
  }

  private maybeDispose(e: Entry): void {
    if (e.retired && e.leases === 0 && e.owned) e.model.dispose();
  }
}
