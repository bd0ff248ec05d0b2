// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), the part ONNX's
// messages use: varints (uint32, int32, int64 as two's complement in 10 bytes), fixed 32- and
// 64-bit floats, length-delimited fields, and skipping of unknown fields (groups included). Why
// our own instead of protobufjs (the first version used protobufjs/minimal): it is CommonJS with a
// graph of CommonJS sub-packages, which workerd and a browser without a bundler cannot import —
// thinnet runs in both — while the ten primitives below are all ONNX needs (reader.ts and
// writer.ts walk our own schema, schema.ts).
//
// Reader: every read checks the bytes left and throws a RangeError ("index out of range") past
// the end, so a hostile file is an error, never a read outside the input; group skipping is
// iterative with a depth limit (no stack overflow). int64 values outside ±2^53 are errors (ONNX
// uses int64 for dimensions, axes and attribute ints, all far smaller).

const MAX_GROUP_DEPTH = 64;
const TWO_32 = 4294967296;

export class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  static create(buf: Uint8Array): Reader { return new Reader(buf); }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.buf.length}`);
  }

  /** A varint as its low and high 32 bits (unsigned). */
  private varint64(): [number, number] {
    let lo = 0, hi = 0;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) { lo |= (b & 0x0f) << 28; hi |= (b & 0x7f) >> 4; }
      else hi |= (b & 0x7f) << (7 * i - 32);
      if (!(b & 0x80)) return [lo >>> 0, hi >>> 0];
    }
    throw new RangeError('invalid varint encoding (more than 10 bytes)');
  }

  uint32(): number { return this.varint64()[0]; }

  int32(): number { return this.varint64()[0] | 0; }

  int64(): number {
    const [lo, hi] = this.varint64();
    const negative = hi >= 0x80000000;
    // |value| = two's complement for negatives
    const h = negative ? (~hi >>> 0) : hi, l = negative ? (~lo >>> 0) : lo;
    const mag = h * TWO_32 + l + (negative ? 1 : 0);
    if (!Number.isSafeInteger(mag)) throw new RangeError(`an int64 value beyond ±2^53 (${negative ? '-' : ''}${mag})`);
    return negative ? -mag : mag;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Skips one field's value of wire type `wire` (after its tag). */
  skipType(wire: number): void {
    let depth = 0;
    for (;;) {
      switch (wire) {
        case 0: this.varint64(); break;
        case 1: this.need(8); this.pos += 8; break;
        case 2: { const n = this.uint32(); this.need(n); this.pos += n; break; }
        case 3:
          if (++depth > MAX_GROUP_DEPTH) throw new RangeError(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
          break;
        case 4:
          if (depth === 0) throw new RangeError('an end-group tag without its start');
          depth--;
          break;
        case 5: this.need(4); this.pos += 4; break;
        default: throw new RangeError(`invalid wire type ${wire} at offset ${this.pos}`);
      }
      if (depth === 0) return;
      wire = this.uint32() & 7; // the next field inside the open group
    }
  }
}

const utf8 = new TextEncoder();

/** Appends bytes; fork()/ldelim() frame a length-delimited sub-message. */
export class Writer {
  private chunks: number[] = [];
  private parts: Uint8Array[] = [];
  private stack: Array<{ parts: Uint8Array[]; chunks: number[] }> = [];

  static create(): Writer { return new Writer(); }

  private flush(): void {
    if (this.chunks.length) { this.parts.push(Uint8Array.from(this.chunks)); this.chunks = []; }
  }

  private length(): number {
    return this.parts.reduce((a, p) => a + p.length, 0) + this.chunks.length;
  }

  uint32(v: number): this {
    v >>>= 0;
    while (v > 0x7f) { this.chunks.push((v & 0x7f) | 0x80); v >>>= 7; }
    this.chunks.push(v);
    return this;
  }

  /** int32 and int64 are both written as 64-bit varints (a negative one takes 10 bytes). */
  int64(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`int64 value ${v} is not a safe integer`);
    let lo: number, hi: number;
    if (v >= 0) { lo = v % TWO_32; hi = Math.floor(v / TWO_32); } else {
      const m = -v; // two's complement of the magnitude
      lo = (~(m % TWO_32) + 1) >>> 0; hi = (~Math.floor(m / TWO_32) + (lo === 0 ? 1 : 0)) >>> 0;
    }
    while (hi > 0 || lo > 0x7f) {
      this.chunks.push((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    this.chunks.push(lo);
    return this;
  }

  int32(v: number): this { return this.int64(v | 0); }

  float(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.chunks.push(x);
    return this;
  }

  double(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    for (const x of b) this.chunks.push(x);
    return this;
  }

  bytes(v: Uint8Array): this {
    this.uint32(v.length);
    this.flush();
    this.parts.push(v);
    return this;
  }

  string(v: string): this { return this.bytes(utf8.encode(v)); }

  /** Starts a sub-message whose length ldelim() will prefix. */
  fork(): this {
    this.flush();
    this.stack.push({ parts: this.parts, chunks: this.chunks });
    this.parts = []; this.chunks = [];
    return this;
  }

  ldelim(): this {
    const inner = this.finish();
    const outer = this.stack.pop();
    if (!outer) throw new Error('ldelim() without fork()');
    this.parts = outer.parts; this.chunks = outer.chunks;
    return this.bytes(inner);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length());
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    this.parts = [];
    return out;
  }
}
