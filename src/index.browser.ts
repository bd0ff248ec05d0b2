// Entry point for browsers, Web Workers, bundlers and edge runtimes: nothing here imports fs.
import { browserPlatform } from './platform/browser.js';
import { setPlatform } from './platform/types.js';

setPlatform(browserPlatform);

export * from './api.js';
