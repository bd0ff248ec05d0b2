// The module graph of a built entry point, read statically (tests of what a runtime must load).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Every module reachable from `entry` by static or dynamic relative imports: [file, all its import specifiers]. */
export function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const src = readFileSync(file, 'utf8');
    const specs = [...src.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)]
      .map((m) => m[1] ?? m[2]);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) visit(join(dirname(file), s));
  };
  visit(entry);
  return seen;
}
