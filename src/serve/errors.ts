// The errors of the serving layer: each carries the HTTP status and a short machine-readable
// code, and its message names the problem in words (which row, which value, which limit), so a
// client can fix its request without reading the server's logs. Shared by the Node server and
// the fetch handler of edge workers.

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** The JSON body of an error response: `{ "error": { "code": ..., "message": ... } }`. */
export function errorBody(e: HttpError): string {
  return JSON.stringify({ error: { code: e.code, message: e.message } });
}

/** Anything thrown while answering, as an HttpError (an unexpected error is a 500 that says what failed). */
export function asHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  const message = e instanceof Error ? e.message : String(e);
  // thinnet's own refusals of an input (a float32 overflow inside the network on huge inputs)
  // are the request's fault; everything else is the server's
  if (e instanceof RangeError && /not finite/.test(message)) return new HttpError(400, 'output_not_finite', message);
  return new HttpError(500, 'internal', `internal error: ${message}`);
}
