// The part of ONNX's protobuf schema (onnx/onnx.proto, IR version 7+) that thinnet reads and
// writes, as field tables: field number → name and kind. Written from the message definitions of
// onnx.proto; fields not listed here (sub-graphs of control-flow attributes, sparse tensors,
// training info, functions, …) are skipped by the reader and never written. Nothing here is
// recursive, so decoding depth is bounded by this table, not by the input.
//
// reader.ts and writer.ts walk these tables; they are the one place field numbers appear.

/** Scalar kinds (proto types): int64/int32 as JS numbers, strings as UTF-8, bytes as Uint8Array. */
export type Scalar = 'int64' | 'int32' | 'float' | 'double' | 'string' | 'bytes';

export interface Field {
  readonly name: string;
  readonly kind: Scalar | Message;
  /** `repeated` in the proto; numeric repeated fields are written packed (proto3 default) and read either way. */
  readonly repeated?: boolean;
}

export interface Message {
  readonly name: string;
  readonly fields: ReadonlyMap<number, Field>;
}

function message(name: string, fields: Record<number, Field>): Message {
  return { name, fields: new Map(Object.entries(fields).map(([n, f]) => [Number(n), f])) };
}

const r = true;

export const StringStringEntry = message('StringStringEntryProto', {
  1: { name: 'key', kind: 'string' },
  2: { name: 'value', kind: 'string' },
});

export const OperatorSetId = message('OperatorSetIdProto', {
  1: { name: 'domain', kind: 'string' },
  2: { name: 'version', kind: 'int64' },
});

export const Tensor = message('TensorProto', {
  1: { name: 'dims', kind: 'int64', repeated: r },
  2: { name: 'data_type', kind: 'int32' },
  4: { name: 'float_data', kind: 'float', repeated: r },
  5: { name: 'int32_data', kind: 'int32', repeated: r },
  7: { name: 'int64_data', kind: 'int64', repeated: r },
  8: { name: 'name', kind: 'string' },
  9: { name: 'raw_data', kind: 'bytes' },
  10: { name: 'double_data', kind: 'double', repeated: r },
  12: { name: 'doc_string', kind: 'string' },
  13: { name: 'external_data', kind: StringStringEntry, repeated: r },
  14: { name: 'data_location', kind: 'int32' },
});

export const Attribute = message('AttributeProto', {
  1: { name: 'name', kind: 'string' },
  2: { name: 'f', kind: 'float' },
  3: { name: 'i', kind: 'int64' },
  4: { name: 's', kind: 'bytes' },
  5: { name: 't', kind: Tensor },
  7: { name: 'floats', kind: 'float', repeated: r },
  8: { name: 'ints', kind: 'int64', repeated: r },
  9: { name: 'strings', kind: 'bytes', repeated: r },
  10: { name: 'tensors', kind: Tensor, repeated: r },
  13: { name: 'doc_string', kind: 'string' },
  20: { name: 'type', kind: 'int32' },
  21: { name: 'ref_attr_name', kind: 'string' },
});

export const Node = message('NodeProto', {
  1: { name: 'input', kind: 'string', repeated: r },
  2: { name: 'output', kind: 'string', repeated: r },
  3: { name: 'name', kind: 'string' },
  4: { name: 'op_type', kind: 'string' },
  5: { name: 'attribute', kind: Attribute, repeated: r },
  6: { name: 'doc_string', kind: 'string' },
  7: { name: 'domain', kind: 'string' },
});

export const Dimension = message('TensorShapeProto.Dimension', {
  1: { name: 'dim_value', kind: 'int64' },
  2: { name: 'dim_param', kind: 'string' },
});

export const TensorShape = message('TensorShapeProto', {
  1: { name: 'dim', kind: Dimension, repeated: r },
});

export const TypeTensor = message('TypeProto.Tensor', {
  1: { name: 'elem_type', kind: 'int32' },
  2: { name: 'shape', kind: TensorShape },
});

export const Type = message('TypeProto', {
  1: { name: 'tensor_type', kind: TypeTensor },
});

export const ValueInfo = message('ValueInfoProto', {
  1: { name: 'name', kind: 'string' },
  2: { name: 'type', kind: Type },
  3: { name: 'doc_string', kind: 'string' },
});

export const Graph = message('GraphProto', {
  1: { name: 'node', kind: Node, repeated: r },
  2: { name: 'name', kind: 'string' },
  5: { name: 'initializer', kind: Tensor, repeated: r },
  10: { name: 'doc_string', kind: 'string' },
  11: { name: 'input', kind: ValueInfo, repeated: r },
  12: { name: 'output', kind: ValueInfo, repeated: r },
  13: { name: 'value_info', kind: ValueInfo, repeated: r },
});

export const Model = message('ModelProto', {
  1: { name: 'ir_version', kind: 'int64' },
  2: { name: 'producer_name', kind: 'string' },
  3: { name: 'producer_version', kind: 'string' },
  4: { name: 'domain', kind: 'string' },
  5: { name: 'model_version', kind: 'int64' },
  6: { name: 'doc_string', kind: 'string' },
  7: { name: 'graph', kind: Graph },
  8: { name: 'opset_import', kind: OperatorSetId, repeated: r },
  14: { name: 'metadata_props', kind: StringStringEntry, repeated: r },
});

// ---- the decoded objects (what reader.ts returns and writer.ts takes) ----------------------------

/** TensorProto.DataType values thinnet handles. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  dims?: number[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  name?: string;
  raw_data?: Uint8Array;
  doc_string?: string;
  external_data?: StringStringEntryProto[];
  data_location?: number;
}

export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  doc_string?: string;
  ref_attr_name?: string;
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoProto {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: DimensionProto[] } } };
  doc_string?: string;
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface StringStringEntryProto {
  key?: string;
  value?: string;
}

export interface ModelProto {
  ir_version?: number;
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: GraphProto;
  opset_import?: Array<{ domain?: string; version?: number }>;
  metadata_props?: StringStringEntryProto[];
}
