// Packed uint8 rows: a data set kept in wasm memory with its runs of zeros squeezed out, and
// unpacked into float32 one mini-batch at a time (issue 18: MNIST's 47 MB of training pixels are
// ~80% zeros and pack into ~14 MB). Lossless: an unpacked row equals the row.
//
// A packed row is a sequence of (zeros: u8, literals: u8) pairs, each followed by its `literals`
// bytes: `zeros` zero values, then the literal (nonzero) values, until the row's F values are
// given. A pair is never (0, 0) (so decoding always advances), a run longer than 255 continues in
// the next pair. Worst case (alternating zero and nonzero bytes) 3 bytes per 2 values plus one
// pair: packed_row_bound(F) bytes. Rows are addressed by a table of u32 byte addresses (one per
// row), so rows can live in several blocks and a subset of rows is a slice of the table.
//
// Unpacking writes scale · value as f32, the same operation as model_extra.ts's
// u8_to_f32_scaled (zeros give +0, as 0 · scale does), so a mini-batch unpacked from packed rows
// has the bits of one gathered from the plain rows.

/** Bytes that always suffice for one packed row of F values. */
export function packed_row_bound(F: i32): i32 {
  return F + 2 * ((F >> 1) + 2);
}

/** Packs the F bytes at src into dst; returns the bytes written (≤ packed_row_bound(F)). */
export function pack_row_u8(dst: usize, src: usize, F: i32): i32 {
  let o: usize = dst, j = 0;
  while (j < F) {
    let z = 0;
    while (j < F && z < 255 && load<u8>(src + <usize>j) == 0) { z++; j++; }
    const start = j;
    let l = 0;
    while (j < F && l < 255 && load<u8>(src + <usize>j) != 0) { l++; j++; }
    store<u8>(o, <u8>z);
    store<u8>(o + 1, <u8>l);
    memory.copy(o + 2, src + <usize>start, <usize>l);
    o += 2 + <usize>l;
  }
  return <i32>(o - dst);
}

/** Bytes of the packed row at p (of F values), or -1 if it is malformed (not written by pack_row_u8). */
export function packed_row_bytes(p: usize, F: i32): i32 {
  let o: usize = p, j = 0;
  while (j < F) {
    const z = <i32>load<u8>(o), l = <i32>load<u8>(o + 1);
    if (z + l == 0 || j + z + l > F) return -1;
    j += z + l;
    o += 2 + <usize>l;
  }
  return <i32>(o - p);
}

/** y[0..F) = scale · (the packed row at p), as f32. Returns false on a malformed row. */
// @ts-ignore: decorator
@inline function unpackRowF32(y: usize, p: usize, scale: f32, F: i32): bool {
  let o: usize = p, j = 0;
  while (j < F) {
    const z = <i32>load<u8>(o), l = <i32>load<u8>(o + 1);
    if (z + l == 0 || j + z + l > F) return false;
    memory.fill(y + (<usize>j << 2), 0, <usize>z << 2);
    j += z;
    const lit = o + 2;
    for (let t = 0; t < l; t++) store<f32>(y + (<usize>(j + t) << 2), <f32>load<u8>(lit + <usize>t) * scale);
    j += l;
    o = lit + <usize>l;
  }
  return true;
}

/**
 * Mini-batch gather from packed rows: y[r, :] = scale · row(idx[r]) for r < rows, where row(i)
 * is the packed row at the address table[i] (u32) and idx holds i32 row numbers (idx = 0: rows
 * 0, 1, … in order). Overwrites y (rows × F f32). Returns the number of rows unpacked: fewer
 * than `rows` only if a row was malformed.
 */
export function unpack_rows_f32(y: usize, table: usize, idx: usize, scale: f32, rows: i32, F: i32): i32 {
  for (let r = 0; r < rows; r++) {
    const i: usize = idx ? <usize>load<i32>(idx + (<usize>r << 2)) : <usize>r;
    const p = <usize>load<u32>(table + (i << 2));
    if (!unpackRowF32(y + ((<usize>r * <usize>F) << 2), p, scale, F)) return r;
  }
  return rows;
}

/** rows × F uint8 values of packed rows table[0..rows) into y (the plain layout). Returns rows unpacked. */
export function unpack_rows_u8(y: usize, table: usize, rows: i32, F: i32): i32 {
  for (let r = 0; r < rows; r++) {
    let o = <usize>load<u32>(table + (<usize>r << 2)), j = 0;
    const out = y + <usize>r * <usize>F;
    while (j < F) {
      const z = <i32>load<u8>(o), l = <i32>load<u8>(o + 1);
      if (z + l == 0 || j + z + l > F) return r;
      memory.fill(out + <usize>j, 0, <usize>z);
      memory.copy(out + <usize>(j + z), o + 2, <usize>l);
      j += z + l;
      o += 2 + <usize>l;
    }
  }
  return rows;
}

/**
 * Packs plain rows src[0..rows) (F bytes each) into [dst, dstEnd), table[r] = the address of row
 * r, stopping before a row that might not fit (fewer than packed_row_bound(F) bytes left).
 * Returns the rows packed, k, and writes the address after the last one to table[k] (so the
 * table needs one entry more than the rows it will hold).
 */
export function pack_rows_u8(table: usize, dst: usize, dstEnd: usize, src: usize, rows: i32, F: i32): i32 {
  const bound = <usize>packed_row_bound(F);
  let o = dst, r = 0;
  for (; r < rows && dstEnd - o >= bound; r++) {
    store<u32>(table + (<usize>r << 2), <u32>o);
    o += <usize>pack_row_u8(o, src + <usize>r * <usize>F, F);
  }
  store<u32>(table + (<usize>r << 2), <u32>o);
  return r;
}

/**
 * The same for rows already packed: row srcTable[idx[r]] (idx: i32 row numbers) copied into
 * [dst, dstEnd). Returns the rows copied (fewer than `rows` when out of room, or at a malformed
 * row: -1 - r then).
 */
export function copy_packed_rows(table: usize, dst: usize, dstEnd: usize, srcTable: usize, idx: usize, rows: i32, F: i32): i32 {
  let o = dst, r = 0;
  for (; r < rows; r++) {
    const p = <usize>load<u32>(srcTable + (<usize>load<i32>(idx + (<usize>r << 2)) << 2));
    const bytes = packed_row_bytes(p, F);
    if (bytes < 0) return -1 - r;
    const n = <usize>bytes;
    if (dstEnd - o < n) break;
    store<u32>(table + (<usize>r << 2), <u32>o);
    memory.copy(o, p, n);
    o += n;
  }
  store<u32>(table + (<usize>r << 2), <u32>o);
  return r;
}
