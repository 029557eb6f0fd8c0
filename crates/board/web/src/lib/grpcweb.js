// gRPC-Web over fetch (binary protobuf, HTTP/1.1), same origin.

export const CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
export const NOT_FOUND = 5;
export const UNAVAILABLE = 14;

/** A non-zero grpc-status, with its code name and (decoded) message. */
export class GrpcError extends Error {
  constructor(code, message) {
    const name = CODE_NAMES[code] || `CODE_${code}`;
    super(message ? `${name}: ${message}` : name);
    this.name = 'GrpcError';
    this.code = code;
    this.codeName = name;
    this.grpcMessage = message || '';
  }
}

/** The board could not be reached, or answered something that is not gRPC-Web. */
export class TransportError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TransportError';
  }
}

const MAX_FRAME = 16 * 1024 * 1024;

/** One gRPC-Web data frame: 0x00, u32 big-endian length, message. */
export function encodeFrame(message) {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** Decodes a percent-encoded grpc-message. */
export function decodeGrpcMessage(s) {
  if (!s) return '';
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses a trailers frame: "name: value\r\n" lines. Keys are lowercased. */
export function parseTrailers(bytes) {
  const text = new TextDecoder().decode(bytes);
  const out = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

/** Throws a GrpcError for a non-zero grpc-status in trailers (a map). */
export function checkStatus(trailers) {
  const status = trailers['grpc-status'];
  if (status === undefined) return false;
  const code = Number(status);
  if (!Number.isInteger(code)) throw new TransportError(`the board sent a malformed grpc-status "${status}"`);
  if (code !== 0) throw new GrpcError(code, decodeGrpcMessage(trailers['grpc-message']));
  return true;
}

/**
 * Incremental frame decoder: push chunks, take complete frames as
 * {trailers: false, data} or {trailers: true, map}.
 */
export class FrameDecoder {
  constructor() {
    this.buf = new Uint8Array(0);
  }

  push(chunk) {
    if (this.buf.length === 0) {
      this.buf = chunk;
      return;
    }
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
  }

  /** The next complete frame, or null. */
  next() {
    if (this.buf.length < 5) return null;
    const flag = this.buf[0];
    const len = new DataView(this.buf.buffer, this.buf.byteOffset, 5).getUint32(1);
    if (len > MAX_FRAME) throw new TransportError(`the board sent a frame of ${len} bytes`);
    if (flag !== 0 && flag !== 0x80) throw new TransportError(`the board sent a frame with flag 0x${flag.toString(16)} (compressed or not gRPC-Web)`);
    if (this.buf.length < 5 + len) return null;
    const data = this.buf.slice(5, 5 + len);
    this.buf = this.buf.subarray(5 + len);
    return flag === 0x80 ? { trailers: true, map: parseTrailers(data) } : { trailers: false, data };
  }

  get pending() {
    return this.buf.length;
  }
}

function headersMap(h) {
  const out = {};
  h.forEach((v, k) => {
    out[k.toLowerCase()] = v;
  });
  return out;
}

/**
 * A gRPC-Web client for one service. `fetchFn` defaults to the global fetch;
 * `base` to the page's origin ('').
 */
export class GrpcWebClient {
  constructor(service, { base = '', fetchFn } = {}) {
    this.service = service;
    this.base = base;
    this.fetch = fetchFn || ((...a) => globalThis.fetch(...a));
  }

  async open(method, message, signal) {
    let res;
    try {
      res = await this.fetch(`${this.base}/${this.service}/${method}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/grpc-web+proto',
          'x-grpc-web': '1',
          accept: 'application/grpc-web+proto',
        },
        body: encodeFrame(message),
        signal,
        cache: 'no-store',
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new TransportError(`the board cannot be reached (${e && e.message ? e.message : e})`);
    }
    const headers = headersMap(res.headers);
    // A trailers-only answer carries the status in the headers.
    if ('grpc-status' in headers) {
      if (res.body) res.body.cancel().catch(() => {});
      checkStatus(headers);
    }
    if (!res.ok) throw new TransportError(`the board answered HTTP ${res.status} ${res.statusText || ''}`.trim());
    const ct = headers['content-type'] || '';
    if (!ct.startsWith('application/grpc-web')) throw new TransportError(`the board answered "${ct || 'no content type'}", not gRPC-Web`);
    if (!res.body) throw new TransportError('the board sent no response body');
    return res.body.getReader();
  }

  /** A unary call: resolves to the response message bytes. */
  async unary(method, message, { signal } = {}) {
    let out = null;
    for await (const m of this.stream(method, message, { signal })) {
      if (out !== null) throw new TransportError(`${method} answered more than one message`);
      out = m;
    }
    if (out === null) throw new TransportError(`${method} answered no message`);
    return out;
  }

  /** A server-streaming call: yields message bytes as they arrive. */
  async *stream(method, message, { signal, onOpen } = {}) {
    const reader = await this.open(method, message, signal);
    if (onOpen) onOpen();
    const frames = new FrameDecoder();
    let done = false;
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (e && e.name === 'AbortError') throw e;
          throw new TransportError(`the connection to the board broke (${e && e.message ? e.message : e})`);
        }
        const { value, done: eof } = chunk;
        if (value) frames.push(value);
        for (let f = frames.next(); f; f = frames.next()) {
          if (f.trailers) {
            checkStatus(f.map);
            done = true;
          } else if (done) {
            throw new TransportError('the board sent a message after its trailers');
          } else {
            yield f.data;
          }
        }
        if (eof) break;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    if (frames.pending) throw new TransportError('the board closed the connection in the middle of a message');
    if (!done) throw new TransportError('the board closed the connection without a status');
  }
}
