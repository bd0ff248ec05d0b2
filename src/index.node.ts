// Entry point for Node (package.json "exports" → "node").
import { nodePlatform } from './platform/node.js';
import { setPlatform } from './platform/types.js';

setPlatform(nodePlatform);

export * from './api.js';
// Node only: the HTTP inference server (node:http); edge workers use thinnet/serve/fetch.
export { serve, type ServeOptions, type Server, type ModelSource } from './serve/server.js';
