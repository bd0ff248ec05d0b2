// The protobuf wire codec of the ONNX reader and writer (src/io/onnx/wire.ts): known-answer
// encodings from the protobuf encoding guide, round trips at the edges of every integer width,
// sub-messages, skipping of unknown fields and groups, and errors (never a read past the input).
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../src/io/onnx/wire';

const bytesOf = (f: (w: Writer) => void) => { const w = Writer.create(); f(w); return Array.from(w.finish()); };

describe('ONNX wire codec', () => {
  it('encodes varints as the protobuf guide does', () => {
    expect(bytesOf((w) => w.uint32(1))).toEqual([1]);
    expect(bytesOf((w) => w.uint32(150))).toEqual([0x96, 0x01]);
    expect(bytesOf((w) => w.uint32(300))).toEqual([0xac, 0x02]);
    expect(bytesOf((w) => w.int64(-1))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytesOf((w) => w.int32(-2))).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytesOf((w) => w.string('testing'))).toEqual([7, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    expect(bytesOf((w) => w.float(1))).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('round-trips int64 at the edges of 32 and 53 bits, int32, uint32, float and double', () => {
    const ints = [0, 1, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 32 + 1, -(2 ** 32), -(2 ** 32) - 1,
      Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1234567890123, -987654321012];
    const w = Writer.create();
    for (const v of ints) w.int64(v);
    w.int32(-5).int32(2 ** 31 - 1).uint32(2 ** 32 - 1).float(0.1).double(Math.PI);
    const r = Reader.create(w.finish());
    expect(ints.map(() => r.int64())).toEqual(ints);
    expect([r.int32(), r.int32(), r.uint32(), r.float(), r.double()]).toEqual([-5, 2 ** 31 - 1, 2 ** 32 - 1, Math.fround(0.1), Math.PI]);
    expect(r.pos).toBe(r.buf.length);
    expect(() => Writer.create().int64(2 ** 60)).toThrow(/not a safe integer/);
  });

  it('frames sub-messages (fork/ldelim, nested) and skips unknown fields of every wire type, groups included', () => {
    const w = Writer.create();
    w.uint32((1 << 3) | 2).fork().uint32((2 << 3) | 0).uint32(7).uint32((3 << 3) | 2).fork().string('in').ldelim().ldelim();
    w.uint32((4 << 3) | 1).double(1).uint32((5 << 3) | 5).float(2);
    // a group 6 holding a varint field and a nested group 7, then field 8
    w.uint32((6 << 3) | 3).uint32((1 << 3) | 0).uint32(5).uint32((7 << 3) | 3).uint32((7 << 3) | 4).uint32((6 << 3) | 4);
    w.uint32((8 << 3) | 0).uint32(42);
    const r = Reader.create(w.finish());
    expect(r.uint32()).toBe((1 << 3) | 2);
    expect(r.uint32()).toBe(7); // [tag 2, 7, tag 3, length 3, [2, 'i', 'n']]
    expect([r.uint32(), r.uint32(), r.uint32(), r.uint32()]).toEqual([(2 << 3) | 0, 7, (3 << 3) | 2, 3]);
    expect(r.uint32()).toBe(2);
    expect(new TextDecoder().decode(r.buf.subarray(r.pos, r.pos + 2))).toBe('in');
    r.pos += 2;
    for (const wire of [1, 5, 3]) { expect(r.uint32() & 7).toBe(wire); r.skipType(wire); }
    expect(r.uint32()).toBe((8 << 3) | 0);
    expect(r.uint32()).toBe(42);
  });

  it('errors: truncated values, bad wire types, unmatched or too deeply nested groups, overlong varints', () => {
    expect(() => Reader.create(Uint8Array.of(0x80)).uint32()).toThrow(/index out of range/);
    expect(() => Reader.create(Uint8Array.of(1, 2)).float()).toThrow(/index out of range/);
    expect(() => Reader.create(Uint8Array.of(5, 1)).skipType(2)).toThrow(/index out of range/);
    expect(() => Reader.create(Uint8Array.of(0)).skipType(7)).toThrow(/invalid wire type 7/);
    expect(() => Reader.create(Uint8Array.of()).skipType(4)).toThrow(/end-group tag without its start/);
    expect(() => Reader.create(new Uint8Array(11).fill(0xff)).uint32()).toThrow(/more than 10 bytes/);
    const deep = new Uint8Array(200).fill((1 << 3) | 3);
    expect(() => Reader.create(deep).skipType(3)).toThrow(/groups nested deeper than 64/);
    expect(() => Reader.create(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)).int64()).toThrow(/beyond ±2\^53/);
  });
});
