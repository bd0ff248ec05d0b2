// Node's built-in modules for the parts of io/ that need them (files, temporary files, hashing).
// They are loaded by dynamic import with a computed specifier, so browser bundles never see a
// `node:` import; callers check isNode() first and say what to use elsewhere.

export function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

export async function nodeImport<T>(name: string): Promise<T> {
  const spec = `node:${name}`;
  return (await import(/* @vite-ignore */ spec)) as T;
}
