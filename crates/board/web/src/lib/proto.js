// The project's protobuf types, parsed at run time from the .proto text.
//
// protobufjs parses the schema and provides the wire Reader/Writer; messages
// are decoded and encoded here by walking the reflected types, because
// protobufjs's generated codecs need `eval`, which the page's
// Content-Security-Policy forbids.

import protobuf from 'protobufjs';

export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

const WIRE = {
  double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5,
  int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function longToNumber(v) {
  if (typeof v === 'number') return v;
  // protobufjs gives a Long (or {low, high}) when the long package is present.
  const n = (v.high >>> 0) * 4294967296 + (v.low >>> 0);
  return v.unsigned === false && v.high < 0 ? Number(BigInt.asIntN(64, BigInt(v.toString()))) : n;
}

function defaultFor(field) {
  if (field.repeated) return [];
  if (field.resolvedType instanceof protobuf.Type) return null;
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  switch (field.type) {
    case 'string': return '';
    case 'bytes': return new Uint8Array(0);
    case 'bool': return false;
    default: return 0;
  }
}

function readScalar(reader, type) {
  const v = reader[type]();
  return LONG.has(type) ? longToNumber(v) : v;
}

/**
 * Decodes `bytes` as message type `type` (a protobuf.Type). Returns a plain
 * object with every field (proto3 defaults for absent ones) and, for each
 * oneof, `<oneof>Case` naming the field that was set (or '').
 */
export function decode(type, bytes, depth = 0) {
  if (depth > 32) throw new DecodeError('messages nested too deeply');
  const reader = protobuf.Reader.create(bytes);
  const out = {};
  for (const f of type.fieldsArray) out[f.name] = defaultFor(f);
  for (const o of type.oneofsArray) out[`${o.name}Case`] = '';
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const id = tag >>> 3;
      const wire = tag & 7;
      if (id === 0) throw new DecodeError('field number 0');
      const f = type.fieldsById[id];
      if (!f) {
        reader.skipType(wire);
        continue;
      }
      const isMsg = f.resolvedType instanceof protobuf.Type;
      const scalar = f.resolvedType instanceof protobuf.Enum ? 'int32' : f.type;
      let value;
      if (isMsg) {
        if (wire !== 2) throw new DecodeError(`${type.name}.${f.name}: wrong wire type`);
        value = decode(f.resolvedType, reader.bytes(), depth + 1);
      } else if (f.repeated && wire === 2 && WIRE[scalar] !== 2) {
        const end = reader.uint32() + reader.pos;
        if (end > reader.len) throw new DecodeError(`${type.name}.${f.name}: truncated`);
        while (reader.pos < end) out[f.name].push(readScalar(reader, scalar));
        if (reader.pos !== end) throw new DecodeError(`${type.name}.${f.name}: bad packed field`);
        continue;
      } else {
        if (wire !== WIRE[scalar]) throw new DecodeError(`${type.name}.${f.name}: wrong wire type`);
        value = readScalar(reader, scalar);
      }
      if (f.repeated) out[f.name].push(value);
      else out[f.name] = value;
      if (f.partOf) {
        // A later member of the same oneof replaces an earlier one.
        for (const other of f.partOf.fieldsArray) if (other !== f) out[other.name] = defaultFor(other);
        out[`${f.partOf.name}Case`] = f.name;
      }
    }
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(`${type.name}: ${e && e.message ? e.message : e}`);
  }
  if (reader.pos !== reader.len) throw new DecodeError(`${type.name}: truncated`);
  return out;
}

/** Encodes a plain object as message type `type`; absent or default fields are omitted. */
export function encode(type, obj, writer = protobuf.Writer.create()) {
  for (const f of type.fieldsArray) {
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    const values = f.repeated ? v : [v];
    for (const x of values) {
      if (f.resolvedType instanceof protobuf.Type) {
        writer.uint32((f.id << 3) | 2).fork();
        encode(f.resolvedType, x, writer);
        writer.ldelim();
        continue;
      }
      const scalar = f.resolvedType instanceof protobuf.Enum ? 'int32' : f.type;
      if (!f.repeated && (x === 0 || x === '' || x === false || (x instanceof Uint8Array && x.length === 0))) continue;
      writer.uint32((f.id << 3) | WIRE[scalar]);
      writer[scalar](typeof x === 'bigint' ? x.toString() : x);
    }
  }
  return writer.finish();
}

/** Parses the .proto texts into one resolved Root. */
export function loadRoot(...texts) {
  const root = new protobuf.Root();
  for (const t of texts) protobuf.parse(t, root, { keepCase: true });
  // Resolving a field touches its type's constructor, which protobufjs would
  // generate with `Function`: give every type a plain one first.
  const plainConstructors = (ns) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) obj.ctor = function Message() {};
      if (obj.nestedArray) plainConstructors(obj);
    }
  };
  plainConstructors(root);
  root.resolveAll();
  return root;
}

/** The board's API: typed request encoders and response decoders by method. */
export class Schema {
  constructor(root) {
    this.root = root;
    this.service = root.lookupService('tallyboard.v1.Board');
    this.Entry = root.lookupType('tallyboard.v1.Entry');
    this.EntryBody = root.lookupType('tallyboard.v1.EntryBody');
    this.Phase = root.lookupEnum('tallyboard.v1.Phase');
    this.payloads = this.EntryBody.oneofs.payload.fieldsArray.map((f) => f.name);
  }

  method(name) {
    const m = this.service.methods[name];
    if (!m) throw new Error(`no method ${name}`);
    m.resolve();
    return m;
  }

  encodeRequest(method, obj) {
    return encode(this.method(method).resolvedRequestType, obj);
  }

  decodeResponse(method, bytes) {
    return decode(this.method(method).resolvedResponseType, bytes);
  }

  /** Decodes an Entry and its EntryBody. */
  decodeEntry(bytes) {
    const entry = decode(this.Entry, bytes);
    const body = decode(this.EntryBody, entry.body);
    return { entry, body };
  }

  phaseName(n) {
    return this.Phase.valuesById[n] || `phase ${n}`;
  }
}
