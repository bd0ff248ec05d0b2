// GET /: what a client needs to call /predict — the model's input and output sizes, its
// architecture and file hash, the runtime, and the server's batching and limits.
import type { Sequential } from '../model/sequential.js';
import type { ModelInfo } from './model-slot.js';
import type { Limits } from './protocol.js';

export function modelMetadata(model: Sequential, info: ModelInfo): Record<string, unknown> {
  return {
    inputShape: [...model.inputShape], inputSize: model.inputSize, outputSize: model.outputSize,
    loss: model.loss, paramCount: model.paramCount, seed: model.seed, step: model.step, epoch: model.epoch,
    layers: model.config.layers, ...info,
  };
}

export function serverMetadata(model: Sequential, info: ModelInfo, extra: {
  runtime: { backend: string; threads: number }; limits: Limits; batching?: unknown; server: string;
}): Record<string, unknown> {
  return {
    name: 'thinnet', server: extra.server, model: modelMetadata(model, info), runtime: extra.runtime,
    ...(extra.batching === undefined ? {} : { batching: extra.batching }), limits: extra.limits,
    endpoints: {
      'POST /predict': 'application/json { "inputs": [[...], ...], "mc"?, "uncertainty"? } or application/octet-stream; dtype=float32|uint8 (options in the query string)',
      'GET /healthz': 'liveness: 200 while serving, 503 while draining',
      'GET /metrics': 'Prometheus text format',
      'GET /': 'this document',
    },
  };
}
