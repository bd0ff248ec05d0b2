// Compiles assembly/ into every build variant listed in asconfig.json (build/<target>.wasm).
// Targets build in parallel; any failure fails the whole build. First writes the TypeScript
// binding of the kernels (scripts/gen-binding.mjs).
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import './gen-binding.mjs';

const config = JSON.parse(readFileSync(new URL('../asconfig.json', import.meta.url), 'utf8'));
const targets = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(config.targets);

function build(target) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/assemblyscript/bin/asc.js', '--config', 'asconfig.json', '--target', target],
      { stdio: 'inherit' });
    child.on('exit', (code) => code === 0 ? resolve() : reject(new Error(`asc --target ${target} exited with ${code}`)));
  });
}

await Promise.all(targets.map(build));
console.log(`built ${targets.map((t) => config.targets[t].outFile).join(', ')}`);
