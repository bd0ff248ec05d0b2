// Plain objects → protobuf for the ONNX subset of schema.ts, on wire.ts's Writer.
// Fields are written in field-number order; numeric repeated fields packed; absent (undefined)
// fields are not written.
import { Writer as PbWriter } from './wire.js';
import type { Field, Message, Scalar } from './schema.js';

const WIRE = { int64: 0, int32: 0, float: 5, double: 1, string: 2, bytes: 2 } as const;

function scalar(w: PbWriter, kind: Scalar, v: unknown): void {
  switch (kind) {
    case 'int64': w.int64(v as number); return;
    case 'int32': w.int32(v as number); return;
    case 'float': w.float(v as number); return;
    case 'double': w.double(v as number); return;
    case 'string': w.string(v as string); return;
    case 'bytes': w.bytes(v as Uint8Array); return;
  }
}

function field(w: PbWriter, num: number, f: Field, v: unknown): void {
  if (typeof f.kind === 'object') {
    for (const item of (f.repeated ? v as unknown[] : [v])) {
      w.uint32((num << 3) | 2).fork();
      message(w, f.kind, item as Record<string, unknown>);
      w.ldelim();
    }
    return;
  }
  const kind = f.kind;
  if (f.repeated && WIRE[kind] !== 2) {
    const list = v as number[];
    if (list.length === 0) return;
    w.uint32((num << 3) | 2).fork();
    for (const x of list) scalar(w, kind, x);
    w.ldelim();
    return;
  }
  for (const item of (f.repeated ? v as unknown[] : [v])) {
    w.uint32((num << 3) | WIRE[kind]);
    scalar(w, kind, item);
  }
}

function message(w: PbWriter, msg: Message, obj: Record<string, unknown>): void {
  for (const k of Object.keys(obj)) {
    if (![...msg.fields.values()].some((f) => f.name === k)) throw new Error(`thinnet (ONNX writer): ${msg.name} has no field '${k}'`);
  }
  for (const [num, f] of [...msg.fields].sort((a, b) => a[0] - b[0])) {
    const v = obj[f.name];
    if (v !== undefined) field(w, num, f, v);
  }
}

/** Encodes `obj` as message `msg`. */
export function encode(msg: Message, obj: object): Uint8Array {
  const w = PbWriter.create();
  message(w, msg, obj as Record<string, unknown>);
  return w.finish();
}
