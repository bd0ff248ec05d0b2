// Entry point for Node (package.json "exports" → "node").
import { nodePlatform } from './platform/node.js';
import { setPlatform } from './platform/types.js';

setPlatform(nodePlatform);

export * from './api.js';
import type { ModelSource, ServeOptions, Server } from './serve/server.js';
export type { ModelSource, ServeOptions, Server };

/**
 * Node only: the HTTP inference server (docs/SERVING.md); edge workers use thinnet/serve/fetch.
 * Its code (and node:http) loads on the first call, not at `import 'thinnet'` (cold start, RSS).
 */
export async function serve(source: ModelSource, options?: ServeOptions): Promise<Server> {
  const server = await import('./serve/server.js');
  return server.serve(source, options);
}
