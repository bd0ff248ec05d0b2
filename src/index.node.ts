// Entry point for Node (package.json "exports" → "node").
import { nodePlatform } from './platform/node.js';
import { setPlatform } from './platform/types.js';

setPlatform(nodePlatform);

export * from './api.js';
