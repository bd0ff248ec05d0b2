// CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF; the
// CRC of zlib, PNG and gzip), the checksum of thinnet's model files (src/io.ts). Wasm has no
// carry-less multiply, so the fast kernel is the table method, sixteen bytes a step
// ("slicing-by-16": sixteen independent lookups per step instead of a chain of sixteen; here
// ~2.2 GB/s optimized, ~1.35 GB/s in V8's baseline tier, vs ~0.7 GB/s for slicing-by-4 in JS).
// crc32_update_bytewise spells out the definition one byte at a time; the two agree for every
// input (test/crc32.test.ts).
//
// Both continue a running CRC: crc32_update(crc32_update(0, a, n), a + n, m) equals
// crc32_update(0, a, n + m), so a file can be checked piece by piece (header, weights, ...).
//
// The sixteen 256-entry tables are built on first use in a 16 KB heap block. Not in static
// memory: a threaded build's workers instantiate over the same shared memory and would
// re-initialize a static segment under the main thread. (Tables as constant data at a fixed
// address save one add per lookup, ~0.5 ms of loading a 7.5 MB model, but cost 16 KB of every
// build, incompressible: measured, not worth it.)

const TABLE_BYTES: usize = 256 * 4;
let TABLES: usize = 0;

function makeTables(): void {
  TABLES = heap.alloc(16 * TABLE_BYTES);
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(TABLES + (<usize>n << 2), c);
  }
  // Table t maps a byte to its CRC contribution followed by t zero bytes.
  for (let t: usize = 1; t < 16; t++) {
    for (let n: usize = 0; n < 256; n++) {
      const prev = load<u32>(TABLES + (t - 1) * TABLE_BYTES + (n << 2));
      store<u32>(TABLES + t * TABLE_BYTES + (n << 2), (prev >>> 8) ^ load<u32>(TABLES + (<usize>(prev & 0xff) << 2)));
    }
  }
}

/**
 * The CRC-32 of `crc`'s bytes followed by the n bytes at ptr, where `crc` is the CRC-32 of the
 * bytes before (0 for none). Any alignment. Main instance only: the first call allocates the
 * tables from the heap, which only the main instance may do.
 */
export function crc32_update(crc: u32, ptr: usize, n: usize): u32 {
  if (!TABLES) makeTables();
  const tb = TABLES; // a local, not a global read per lookup (the baseline tier does not hoist it)
  let c = ~crc;
  let p = ptr;
  const end = ptr + n;
  while (end - p >= 16) {
    const a = load<u32>(p) ^ c;
    const b = load<u32>(p, 4);
    const d = load<u32>(p, 8);
    const e = load<u32>(p, 12);
    // Byte k of the sixteen (k = 0: the first) indexes table 15 - k, which starts at byte
    // (15 - k) * 1024 of the tables: the load's immediate offset.
    c = load<u32>(tb + ((<usize>a & 0xff) << 2), 15360)
      ^ load<u32>(tb + ((<usize>a >>> 6) & 0x3fc), 14336)
      ^ load<u32>(tb + ((<usize>a >>> 14) & 0x3fc), 13312)
      ^ load<u32>(tb + ((<usize>a >>> 24) << 2), 12288)
      ^ load<u32>(tb + ((<usize>b & 0xff) << 2), 11264)
      ^ load<u32>(tb + ((<usize>b >>> 6) & 0x3fc), 10240)
      ^ load<u32>(tb + ((<usize>b >>> 14) & 0x3fc), 9216)
      ^ load<u32>(tb + ((<usize>b >>> 24) << 2), 8192)
      ^ load<u32>(tb + ((<usize>d & 0xff) << 2), 7168)
      ^ load<u32>(tb + ((<usize>d >>> 6) & 0x3fc), 6144)
      ^ load<u32>(tb + ((<usize>d >>> 14) & 0x3fc), 5120)
      ^ load<u32>(tb + ((<usize>d >>> 24) << 2), 4096)
      ^ load<u32>(tb + ((<usize>e & 0xff) << 2), 3072)
      ^ load<u32>(tb + ((<usize>e >>> 6) & 0x3fc), 2048)
      ^ load<u32>(tb + ((<usize>e >>> 14) & 0x3fc), 1024)
      ^ load<u32>(tb + ((<usize>e >>> 24) << 2), 0);
    p += 16;
  }
  while (p < end) {
    c = load<u32>(tb + (<usize>((c ^ <u32>load<u8>(p)) & 0xff) << 2)) ^ (c >>> 8);
    p++;
  }
  return ~c;
}

/** crc32_update by the definition: one byte, eight shifts at a time (the reference). */
export function crc32_update_bytewise(crc: u32, ptr: usize, n: usize): u32 {
  let c = ~crc;
  for (let i: usize = 0; i < n; i++) {
    c ^= <u32>load<u8>(ptr + i);
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c;
}
