// The built package under other JavaScript runtimes: Bun and Deno (installed from npm as
// devDependencies, binaries through their optionalDependencies) run test/fixtures/runtime-smoke.mjs
// — dropout ops, 50 training steps with a fixed seed, predictions, a save/load round trip —
// through the browser entry (wasm passed as bytes) and through the Node entry, and every number
// must equal Node's bit for bit. docs/RUNTIMES.md lists what is covered and what is not.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const smoke = fileURLToPath(new URL('./fixtures/runtime-smoke.mjs', import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

interface Runtime {
  name: 'bun' | 'deno';
  command: string;
  args: (entry: string) => string[];
  env?: Record<string, string>;
  /** Whether thinnet's worker pool runs there (Node entry, threads > 1). */
  threads: boolean;
}

const runtimes: Runtime[] = [
  { name: 'bun', command: bin('bun'), args: () => [smoke], threads: true },
  {
    name: 'deno', command: bin('deno'),
    // Resolves thinnet's dependencies from node_modules (package.json is present); --cached-only
    // forbids any download, --no-lock leaves no deno.lock behind.
    args: (entry) => ['run', '--no-lock', '--cached-only', '--allow-read', ...(entry === 'node' ? ['--allow-env'] : []), smoke],
    env: { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    threads: true,
  },
];

function version(r: Runtime): string | undefined {
  if (!existsSync(r.command)) return undefined;
  try {
    return execFileSync(r.command, ['--version'], { encoding: 'utf8', timeout: 20_000 }).trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

function run(command: string, args: string[], extra: string[], env: Record<string, string> = {}): any {
  const out = execFileSync(command, [...args, ...extra], {
    cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env },
  });
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Everything but the runtime's name: the numbers that must match Node's. */
function numbers(result: any) {
  const { runtime: _, entry: __, ...rest } = result;
  return rest;
}

let reference: Record<string, any>;

beforeAll(() => {
  // Plain node, no V8 flags (vitest's workers run with --experimental-wasm-relaxed-simd).
  reference = {
    browser: run(process.execPath, [smoke], ['browser']),
    node: run(process.execPath, [smoke], ['node', '1']),
  };
});

describe('Node reference', () => {
  test('the browser entry with wasm bytes and the Node entry give the same numbers; 50 steps lower the loss', () => {
    const { browser, node } = reference;
    expect(browser.backend).toBe('simd');
    expect(browser.losses).toHaveLength(50);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(browser.losses.slice(-10))).toBeLessThan(0.6 * mean(browser.losses.slice(0, 10)));
    expect(browser.samePredictions).toBe(true);
    expect(numbers(node)).toEqual(numbers(browser));
  });

  test('two threads on the Node entry give the same numbers as one', () => {
    const two = run(process.execPath, [smoke], ['node', '2']);
    expect(two).toMatchObject({ backend: 'threads', threads: 2 });
    expect(two.losses).toEqual(reference.node.losses);
    expect({ ...numbers(two), backend: 'simd', threads: 1 }).toEqual(numbers(reference.node));
  });
});

for (const r of runtimes) {
  const v = version(r);
  if (!v) {
    if (process.env.CI) {
      test(`${r.name} is installed`, () => {
        throw new Error(`${r.command} is missing or does not run: \`npm ci\` should install it (devDependency ${r.name})`);
      });
    } else {
      test.skip(`${r.name} tests skipped: ${r.command} is missing or does not run (npm install)`, () => {});
    }
    continue;
  }
  describe(`${r.name} (${v})`, () => {
    test('browser entry, wasm as bytes read by the runtime: the same numbers as Node, bit for bit', () => {
      const out = run(r.command, r.args('browser'), ['browser'], r.env);
      expect(out.runtime.name).toBe(r.name);
      expect(out).toMatchObject({ entry: 'browser', backend: 'simd', threads: 1 });
      expect(out.losses).toEqual(reference.browser.losses);
      expect(numbers(out)).toEqual(numbers(reference.browser));
    });

    test('Node entry (node:fs, one thread): the same numbers as Node, bit for bit', () => {
      const out = run(r.command, r.args('node'), ['node', '1'], r.env);
      expect(out.runtime.name).toBe(r.name);
      expect(out.losses).toEqual(reference.node.losses);
      expect(numbers(out)).toEqual(numbers(reference.node));
    });

    if (r.threads) {
      test('Node entry with a two-thread worker pool: the same numbers as Node, bit for bit', () => {
        const out = run(r.command, r.args('node'), ['node', '2'], r.env);
        expect(out).toMatchObject({ backend: 'threads', threads: 2 });
        expect({ ...numbers(out), backend: 'simd', threads: 1 }).toEqual(numbers(reference.node));
      });
    }
  });
}
