// The /predict protocol, independent of any HTTP implementation (the Node server and the fetch
// handler of edge workers both use it): a request body and its Content-Type become checked rows
// and options, and a prediction becomes the JSON answer. Every check happens here, before a
// request reaches the model, so one bad request can never fail a batch it would have joined.
//
// Requests:
//   application/json           { "inputs": [[...row], ...], "mc": 20, "uncertainty": true }
//   application/octet-stream   raw rows, little-endian; `; dtype=float32` (default) or `; dtype=uint8`
//                              (pixels, scaled by 1/255 as model.predict does with a Uint8Array);
//                              options in the query string: /predict?mc=20&uncertainty=true
// A JSON body may take its options from the query string too, but not the same option twice.
import { HttpError } from './errors.js';

export type Dtype = 'float32' | 'uint8';

export interface Limits {
  /** Largest request body, bytes. */
  maxBodyBytes: number;
  /** Most rows (examples) in one request. */
  maxRows: number;
  /** Largest `mc` (Monte-Carlo samples) a request may ask for: each sample is a full pass. */
  maxMc: number;
}

export const DEFAULT_LIMITS: Limits = { maxBodyBytes: 8 << 20, maxRows: 1000, maxMc: 100 };

/** Samples of an `uncertainty` request that gives no `mc` (predictWithUncertainty's default), capped by maxMc. */
export const DEFAULT_UNCERTAINTY_SAMPLES = 50;

export interface PredictRequest {
  /** rows × inputSize values; a Uint8Array for dtype uint8. */
  x: Float32Array | Uint8Array;
  rows: number;
  dtype: Dtype;
  /** 0: weight scaling (deterministic); k ≥ 1: mean of k thinned networks. */
  mc: number;
  uncertainty: boolean;
}

export interface PredictResult {
  /** rows × outputs: probabilities (or a regression model's outputs); the MC mean for mc > 0. */
  predictions: Float32Array;
  variance?: Float32Array;
  entropy?: Float32Array;
  mutualInformation?: Float32Array;
}

/** A Content-Type header as its media type (lower case) and parameters. */
export function parseContentType(header: string | null | undefined): { type: string; params: Map<string, string> } {
  const [type, ...rest] = (header ?? '').split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  }
  return { type: type.trim().toLowerCase(), params };
}

const QUERY_OPTIONS = ['mc', 'uncertainty'];
const JSON_FIELDS = ['inputs', 'mc', 'uncertainty'];

/**
 * Checks a /predict body against the model's input size and the limits: the rows and options
 * of a request, or an HttpError (400 malformed or invalid, 413 too large, 415 wrong type).
 */
export function parsePredict(body: Uint8Array, contentType: string | null | undefined, query: URLSearchParams,
  inputSize: number, limits: Limits): PredictRequest {
  if (body.byteLength > limits.maxBodyBytes) throw tooLarge(body.byteLength, limits.maxBodyBytes);
  const { type, params } = parseContentType(contentType);
  const fromQuery = queryOptions(query);
  if (type === 'application/json') {
    const charset = params.get('charset');
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      throw new HttpError(415, 'unsupported_charset', `a JSON body must be UTF-8, got charset=${charset}`);
    }
    return parseJson(body, fromQuery, inputSize, limits);
  }
  if (type === 'application/octet-stream') {
    const dtype = params.get('dtype') ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'uint8') {
      throw new HttpError(415, 'unsupported_dtype', `application/octet-stream takes dtype=float32 or dtype=uint8, got dtype=${dtype}`);
    }
    return withOptions(parseBinary(body, dtype, inputSize, limits), fromQuery, {}, limits);
  }
  throw new HttpError(415, 'unsupported_media_type',
    `Content-Type must be application/json or application/octet-stream (; dtype=float32 or uint8), got ${contentType ? `'${contentType}'` : 'none'}`);
}

export function tooLarge(bytes: number | string, limit: number): HttpError {
  return new HttpError(413, 'body_too_large', `the request body has ${bytes} bytes, more than the limit of ${limit} bytes`);
}

function queryOptions(query: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) {
    if (!QUERY_OPTIONS.includes(k)) throw new HttpError(400, 'unknown_option', `unknown query parameter '${k}' (options: ${QUERY_OPTIONS.join(', ')})`);
    if (k in out) throw new HttpError(400, 'invalid_option', `query parameter '${k}' is given twice`);
    if (k === 'mc') out.mc = v.trim() === '' ? NaN : Number(v);
    else if (v === 'true' || v === '1' || v === '') out.uncertainty = true;
    else if (v === 'false' || v === '0') out.uncertainty = false;
    else throw new HttpError(400, 'invalid_option', `uncertainty must be true or false, got '${v}'`);
  }
  return out;
}

function parseJson(body: Uint8Array, fromQuery: Record<string, unknown>, inputSize: number, limits: Limits): PredictRequest {
  let text: string, doc: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, 'malformed_json', 'the JSON body is not valid UTF-8');
  }
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'malformed_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new HttpError(400, 'invalid_request', 'the JSON body must be an object like { "inputs": [[...], ...] }');
  }
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    // a misspelt option must not be ignored silently (a client asking for "MC" would get weight scaling)
    if (!JSON_FIELDS.includes(k)) throw new HttpError(400, 'unknown_field', `unknown field '${k}' (fields: ${JSON_FIELDS.join(', ')})`);
  }
  const inputs = o.inputs;
  if (!Array.isArray(inputs)) throw new HttpError(400, 'invalid_inputs', `"inputs" must be an array of rows, each an array of ${inputSize} numbers`);
  if (inputs.length === 0) throw new HttpError(400, 'no_rows', '"inputs" has no rows');
  if (typeof inputs[0] === 'number') {
    throw new HttpError(400, 'invalid_inputs', `"inputs" must be an array of rows; for one example write [[...]] (a row of ${inputSize} numbers inside an array)`);
  }
  if (inputs.length > limits.maxRows) throw tooManyRows(inputs.length, limits.maxRows);
  const x = new Float32Array(inputs.length * inputSize);
  // Rows are copied value by value: JSON gives doubles, the model takes float32, and each value
  // is checked (a number, finite, and still finite as a float32) where the error can name it.
  for (let r = 0; r < inputs.length; r++) {
    const row = inputs[r];
    if (!Array.isArray(row)) {
      throw new HttpError(400, 'invalid_inputs', `inputs[${r}] is ${describe(row)}, not a row (an array of ${inputSize} numbers)`);
    }
    if (row.length !== inputSize) {
      throw new HttpError(400, 'wrong_row_length', `inputs[${r}] has ${row.length} values; the model takes ${inputSize} per row`);
    }
    const base = r * inputSize;
    for (let c = 0; c < inputSize; c++) {
      const v = row[c];
      if (typeof v !== 'number') throw new HttpError(400, 'not_a_number', `inputs[${r}][${c}] is ${describe(v)}, not a number`);
      const f = Math.fround(v);
      if (!Number.isFinite(f)) {
        throw new HttpError(400, 'not_finite', `inputs[${r}][${c}] is ${v}, ${Number.isFinite(v) ? 'too large for float32 (|x| ≥ 3.4e38)' : 'not finite'}`);
      }
      x[base + c] = f;
    }
  }
  return withOptions({ x, rows: inputs.length, dtype: 'float32' }, fromQuery, o, limits);
}

function parseBinary(body: Uint8Array, dtype: Dtype, inputSize: number, limits: Limits): Omit<PredictRequest, 'mc' | 'uncertainty'> {
  const rowBytes = inputSize * (dtype === 'float32' ? 4 : 1);
  if (body.byteLength === 0) throw new HttpError(400, 'no_rows', 'the body is empty (no rows)');
  if (body.byteLength % rowBytes !== 0) {
    throw new HttpError(400, 'wrong_row_length',
      `the body has ${body.byteLength} bytes, not a whole number of rows: a row is ${inputSize} ${dtype} values = ${rowBytes} bytes`);
  }
  const rows = body.byteLength / rowBytes;
  if (rows > limits.maxRows) throw tooManyRows(rows, limits.maxRows);
  // own, aligned memory: a Node body may sit at any offset of a shared pool (and Buffer#slice
  // is a view, not a copy, so `new Uint8Array(body)` it is)
  const copy = new Uint8Array(body);
  if (dtype === 'uint8') return { x: copy, rows, dtype };
  const x = new Float32Array(copy.buffer, 0, rows * inputSize);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      const r = Math.floor(i / inputSize);
      throw new HttpError(400, 'not_finite', `row ${r}, value ${i - r * inputSize} is ${x[i]} (inputs must be finite)`);
    }
  }
  return { x, rows, dtype };
}

function tooManyRows(rows: number, limit: number): HttpError {
  return new HttpError(413, 'too_many_rows', `the request has ${rows} rows, more than the limit of ${limit} per request`);
}

/** The options of a request (query string and, for JSON, the body), checked against the limits. */
function withOptions(req: Omit<PredictRequest, 'mc' | 'uncertainty'>, fromQuery: Record<string, unknown>,
  fromBody: Record<string, unknown>, limits: Limits): PredictRequest {
  for (const k of QUERY_OPTIONS) {
    if (k in fromQuery && k in fromBody) throw new HttpError(400, 'invalid_option', `'${k}' is given both in the query string and in the body`);
  }
  const mcRaw = fromQuery.mc ?? fromBody.mc;
  const unRaw = fromQuery.uncertainty ?? fromBody.uncertainty;
  if (unRaw !== undefined && typeof unRaw !== 'boolean') throw new HttpError(400, 'invalid_option', `uncertainty must be true or false, got ${describe(unRaw)}`);
  const uncertainty = unRaw === true;
  let mc = 0;
  if (mcRaw !== undefined) {
    if (typeof mcRaw !== 'number' || !Number.isInteger(mcRaw) || mcRaw < 0) {
      throw new HttpError(400, 'invalid_option', `mc must be an integer ≥ 0 (0: weight scaling; k: the mean of k thinned networks), got ${describe(mcRaw)}`);
    }
    if (mcRaw > limits.maxMc) throw new HttpError(400, 'invalid_option', `mc ${mcRaw} is more than this server's limit of ${limits.maxMc} samples`);
    mc = mcRaw;
  }
  if (uncertainty) {
    if (mcRaw === undefined) mc = Math.min(DEFAULT_UNCERTAINTY_SAMPLES, limits.maxMc);
    else if (mc === 0) throw new HttpError(400, 'invalid_option', 'uncertainty needs Monte-Carlo samples: give mc ≥ 1 (or leave mc out)');
  }
  return { ...req, mc, uncertainty };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return typeof v === 'number' ? String(v) : typeof v;
}

/** rows of `width` values each, as nested arrays (JSON numbers round-trip float32 values exactly). */
function nested(a: Float32Array, rows: number, width: number): number[][] {
  const out: number[][] = new Array(rows);
  for (let r = 0; r < rows; r++) out[r] = Array.from(a.subarray(r * width, (r + 1) * width));
  return out;
}

/** The JSON answer to a prediction: predictions (rows × outputs), and for uncertainty the other three. */
export function predictResponse(req: PredictRequest, res: PredictResult, outputSize: number): string {
  const body: Record<string, unknown> = {
    mode: req.mc > 0 ? 'mc' : 'weightScaling', ...(req.mc > 0 ? { mc: req.mc } : {}), rows: req.rows,
    predictions: nested(res.predictions, req.rows, outputSize),
  };
  if (req.uncertainty && res.variance && res.entropy && res.mutualInformation) {
    body.variance = nested(res.variance, req.rows, outputSize);
    // NaN for a regression model (not probabilities): JSON writes it as null
    body.entropy = Array.from(res.entropy);
    body.mutualInformation = Array.from(res.mutualInformation);
  }
  return JSON.stringify(body);
}
