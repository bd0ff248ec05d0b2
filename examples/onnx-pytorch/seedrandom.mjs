// seedrandom ships CommonJS/UMD only, which a browser cannot `import`. Evaluated as a plain module
// (no `module`, no `define`), its seedrandom.js installs Math.seedrandom: the same generator
// `require('seedrandom')` gives. The import map in index.html points `seedrandom` here.
// (A bundler needs none of this; web/test-page/seedrandom.mjs is the same shim.)
import '/node_modules/seedrandom/seedrandom.js';

export default Math.seedrandom;
