// Protobuf → plain objects for the ONNX subset of schema.ts, on wire.ts's Reader (varints,
// fixed-width numbers, skipping unknown fields; no reflection and no generated code, so it runs
// where `new Function` is forbidden, e.g. workerd).
//
// Hostile input: every length prefix (of a sub-message, a string, a bytes field, a packed list)
// is checked against the bytes left in its enclosing message before anything is read or
// allocated, so a declared size can never make this allocate more than the input's own length;
// a bytes field is a view of the input, not a copy. Truncation, bad wire types and bad varints are
// errors naming the field and the byte offset.
import { Reader as PbReader } from './wire.js';
import type { Field, Message, Scalar } from './schema.js';

export class OnnxFormatError extends Error {}

const WIRE_VARINT = 0, WIRE_64 = 1, WIRE_LEN = 2, WIRE_32 = 5;

function wireOf(kind: Scalar): number {
  switch (kind) {
    case 'int64': case 'int32': return WIRE_VARINT;
    case 'float': return WIRE_32;
    case 'double': return WIRE_64;
    default: return WIRE_LEN;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });


class Decoder {
  constructor(private readonly r: PbReader) {}

  private fail(what: string, path: string): never {
    throw new OnnxFormatError(`${what} (at ${path}, byte ${this.r.pos})`);
  }

  /** A length prefix that must fit in [pos, end). */
  private length(end: number, path: string): number {
    const len = this.r.uint32();
    if (len > end - this.r.pos) this.fail(`truncated: a field declares ${len} bytes but only ${end - this.r.pos} remain`, path);
    return len;
  }

  private scalar(kind: Scalar, path: string, end: number): number | string | Uint8Array {
    const r = this.r;
    switch (kind) {
      case 'int64': return r.int64();
      case 'int32': return r.int32();
      case 'float': return r.float();
      case 'double': return r.double();
      case 'string': case 'bytes': {
        const len = this.length(end, path);
        const bytes = r.buf.subarray(r.pos, r.pos + len);
        r.pos += len;
        if (kind === 'bytes') return bytes;
        try {
          return utf8.decode(bytes);
        } catch {
          return this.fail('a string field is not valid UTF-8', path);
        }
      }
    }
  }

  /** Fields of `msg` from the bytes [pos, end). */
  message(msg: Message, end: number, path: string): Record<string, unknown> {
    const r = this.r;
    const out: Record<string, unknown> = {};
    while (r.pos < end) {
      const tag = r.uint32();
      const num = tag >>> 3, wire = tag & 7;
      if (num === 0) this.fail('field number 0', path);
      const field = msg.fields.get(num);
      if (!field) {
        if (wire === 4) this.fail('unexpected end-group', path);
        r.skipType(wire);
        if (r.pos > end) this.fail('truncated: an unknown field runs past the end of its message', path);
        continue;
      }
      this.field(field, wire, out, end, path);
    }
    if (r.pos !== end) this.fail('truncated: the last field runs past the end of its message', path);
    return out;
  }

  private field(field: Field, wire: number, out: Record<string, unknown>, end: number, path: string): void {
    const r = this.r;
    const here = `${path}.${field.name}`;
    const list = field.repeated ? ((out[field.name] ??= []) as unknown[]) : undefined;
    if (typeof field.kind === 'object') {
      if (wire !== WIRE_LEN) this.fail(`wire type ${wire} for the message field ${field.name}`, here);
      const len = this.length(end, here);
      const value = this.message(field.kind, r.pos + len, list ? `${here}[${list.length}]` : here);
      if (list) list.push(value); else out[field.name] = value;
      return;
    }
    const want = wireOf(field.kind);
    if (list && wire === WIRE_LEN && want !== WIRE_LEN) { // a packed list of numbers
      const len = this.length(end, here);
      const stop = r.pos + len;
      while (r.pos < stop) list.push(this.scalar(field.kind, here, stop));
      if (r.pos !== stop) this.fail('truncated packed list', here);
      return;
    }
    if (wire !== want) this.fail(`wire type ${wire} for the ${field.kind} field ${field.name}`, here);
    const value = this.scalar(field.kind, here, end);
    if (list) list.push(value); else out[field.name] = value;
  }
}

/** Decodes `bytes` as message `msg`. Throws OnnxFormatError for malformed input. */
export function decode<T>(bytes: Uint8Array, msg: Message): T {
  const r = PbReader.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  try {
    return new Decoder(r).message(msg, bytes.length, msg.name) as T;
  } catch (e) {
    if (e instanceof OnnxFormatError) throw e;
    // wire.ts's errors: a varint or fixed-width value running past the end ("index out of
    // range"), an invalid varint or wire type, groups nested too deeply
    throw new OnnxFormatError(`malformed protobuf near byte ${r.pos} of ${bytes.length}: ${(e as Error).message}`);
  }
}
