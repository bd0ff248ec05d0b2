// seedrandom ships CommonJS/UMD only. Evaluated as a module (no `module`, no `define`), its
// seedrandom.js installs Math.seedrandom — the same ARC4 generator `require('seedrandom')` gives.
import '/node_modules/seedrandom/seedrandom.js';

export default Math.seedrandom;
