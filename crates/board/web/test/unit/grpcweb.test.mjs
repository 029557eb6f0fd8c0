import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, parseTrailers, GrpcWebClient, GrpcError, TransportError, decodeGrpcMessage } from '../../src/lib/grpcweb.js';
import { encode, decode, DecodeError } from '../../src/lib/proto.js';
import { schema } from './protos.mjs';
import { enc, concat } from '../../src/lib/bytes.js';

function trailerFrame(text) {
  const b = enc(text);
  const f = encodeFrame(b);
  f[0] = 0x80;
  return f;
}

test('frames: encode, decode across arbitrary chunk boundaries', () => {
  const a = encodeFrame(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...a], [0, 0, 0, 0, 3, 1, 2, 3]);
  const all = concat(a, encodeFrame(new Uint8Array(0)), encodeFrame(new Uint8Array(300).fill(7)), trailerFrame('grpc-status: 0\r\ngrpc-message: \r\n'));
  for (const step of [1, 2, 3, 5, 7, 100, all.length]) {
    const d = new FrameDecoder();
    const got = [];
    for (let i = 0; i < all.length; i += step) {
      d.push(all.subarray(i, i + step));
      for (let f = d.next(); f; f = d.next()) got.push(f);
    }
    assert.equal(got.length, 4);
    assert.deepEqual([...got[0].data], [1, 2, 3]);
    assert.equal(got[1].data.length, 0);
    assert.equal(got[2].data.length, 300);
    assert.deepEqual(got[3], { trailers: true, map: { 'grpc-status': '0', 'grpc-message': '' } });
    assert.equal(d.pending, 0);
  }
  const bad = new FrameDecoder();
  bad.push(new Uint8Array([1, 0, 0, 0, 0]));
  assert.throws(() => bad.next(), TransportError);
});

test('trailers and percent-encoded messages', () => {
  assert.deepEqual(parseTrailers(enc('Grpc-Status: 5\r\ngrpc-message: board.lookup%3A%20no%20entry\r\n')), {
    'grpc-status': '5',
    'grpc-message': 'board.lookup%3A%20no%20entry',
  });
  assert.equal(decodeGrpcMessage('rule%20R1.3%20%E2%80%94%20x'), 'rule R1.3 \u2014 x');
  assert.equal(decodeGrpcMessage('bad%zz'), 'bad%zz');
});

function fakeFetch(respond) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    return respond(url, init);
  };
  fn.calls = calls;
  return fn;
}

function response(chunks, { status = 200, headers = { 'content-type': 'application/grpc-web+proto' } } = {}) {
  const body = new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  return new Response(body, { status, headers });
}

test('unary call: request framing, headers, response and OK trailers', async () => {
  const msg = schema.encodeRequest('GetInclusionProof', { index: 7, tree_size: 300 });
  assert.deepEqual(decode(schema.method('GetInclusionProof').resolvedRequestType, msg), { index: 7, tree_size: 300 });
  const reply = encode(schema.method('GetCheckpoint').resolvedResponseType, { checkpoint: enc('cp'), tree_size: 2 ** 40 + 3 });
  const f = fakeFetch(() => response([concat(encodeFrame(reply), trailerFrame('grpc-status:0\r\n'))]));
  const c = new GrpcWebClient('tallyboard.v1.Board', { fetchFn: f });
  const got = schema.decodeResponse('GetCheckpoint', await c.unary('GetCheckpoint', msg));
  assert.equal(got.tree_size, 2 ** 40 + 3);
  assert.equal(new TextDecoder().decode(got.checkpoint), 'cp');
  assert.equal(got.cosigned_checkpoint.length, 0);
  const { url, init } = f.calls[0];
  assert.equal(url, '/tallyboard.v1.Board/GetCheckpoint');
  assert.equal(init.method, 'POST');
  assert.equal(init.headers['content-type'], 'application/grpc-web+proto');
  assert.equal(init.headers['x-grpc-web'], '1');
  assert.deepEqual([...init.body.subarray(5)], [...msg]);
});

test('errors: trailers-only, trailer frame, HTTP, wrong content type, unreachable, truncated', async () => {
  const cases = [
    [() => response([], { headers: { 'content-type': 'application/grpc-web+proto', 'grpc-status': '5', 'grpc-message': 'board.lookup%3A%20not%20found' } }), (e) => e instanceof GrpcError && e.code === 5 && e.codeName === 'NOT_FOUND' && e.grpcMessage === 'board.lookup: not found'],
    [() => response([trailerFrame('grpc-status: 11\r\ngrpc-message: board.range%3A%20start%2010%20%3E%20size%203\r\n')]), (e) => e instanceof GrpcError && e.codeName === 'OUT_OF_RANGE' && e.message === 'OUT_OF_RANGE: board.range: start 10 > size 3'],
    [() => response([], { status: 502, headers: { 'content-type': 'text/html' } }), (e) => e instanceof TransportError && /HTTP 502/.test(e.message)],
    [() => response([enc('<html>')], { headers: { 'content-type': 'text/html' } }), (e) => e instanceof TransportError && /text\/html/.test(e.message)],
    [() => { throw new TypeError('Failed to fetch'); }, (e) => e instanceof TransportError && /cannot be reached/.test(e.message)],
    [() => response([encodeFrame(enc('abc')).subarray(0, 6)]), (e) => e instanceof TransportError && /middle of a message/.test(e.message)],
    [() => response([encodeFrame(enc('abc'))]), (e) => e instanceof TransportError && /without a status/.test(e.message)],
  ];
  for (const [respond, check] of cases) {
    const c = new GrpcWebClient('tallyboard.v1.Board', { fetchFn: fakeFetch(respond) });
    await assert.rejects(c.unary('GetCheckpoint', new Uint8Array(0)), check);
  }
});

test('server streaming yields messages as chunks arrive', async () => {
  let push;
  const body = new ReadableStream({ start(c) { push = c; } });
  const f = fakeFetch(() => new Response(body, { headers: { 'content-type': 'application/grpc-web+proto' } }));
  const c = new GrpcWebClient('tallyboard.v1.Board', { fetchFn: f });
  const it = c.stream('StreamEntries', schema.encodeRequest('StreamEntries', { start: 0 }));
  const msgs = [0, 1, 2].map((i) => encode(schema.method('StreamEntries').resolvedResponseType, { entry: { index: i, entry: new Uint8Array([i]) } }));
  const first = it.next();
  push.enqueue(encodeFrame(msgs[0]).subarray(0, 3));
  push.enqueue(concat(encodeFrame(msgs[0]).subarray(3), encodeFrame(msgs[1])));
  const a = await first;
  assert.equal(schema.decodeResponse('StreamEntries', a.value).entry.index, 0);
  const b = await it.next();
  assert.equal(schema.decodeResponse('StreamEntries', b.value).entry.index, 1);
  push.enqueue(encodeFrame(msgs[2]));
  assert.equal(schema.decodeResponse('StreamEntries', (await it.next()).value).entry.index, 2);
  push.enqueue(trailerFrame('grpc-status: 14\r\ngrpc-message: board.shutdown\r\n'));
  push.close();
  await assert.rejects(it.next(), (e) => e.codeName === 'UNAVAILABLE' && e.grpcMessage === 'board.shutdown');
});

test('entries: oneof payload, packed and unpacked repeated fields, malformed bytes', () => {
  const body = encode(schema.EntryBody, {
    election_id: 'e1',
    author_key: new Uint8Array(32).fill(1),
    caucus_viability: { result_entry: 9, districts: [{ district: 'd1', participants: 12, threshold: 2, viable: [true, false, true] }] },
  });
  const entryBytes = encode(schema.Entry, { body, signature: new Uint8Array(64) });
  const { body: b } = schema.decodeEntry(entryBytes);
  assert.equal(b.payloadCase, 'caucus_viability');
  assert.equal(b.manifest, null);
  assert.deepEqual(b.caucus_viability.districts[0].viable, [true, false, true]);
  // Unpacked encoding of a repeated scalar is accepted too: field 4 (viable) as three varints.
  const dv = concat(enc('\x0a\x02d1'), new Uint8Array([0x20, 1, 0x20, 0, 0x20, 1]));
  const t = schema.root.lookupType('tallyboard.v1.DistrictViability');
  assert.deepEqual(decode(t, dv).viable, [true, false, true]);
  assert.throws(() => decode(schema.Entry, new Uint8Array([0x0a, 0x05, 1])), DecodeError);
  assert.throws(() => decode(schema.Entry, new Uint8Array([0x08, 0x01])), DecodeError); // wrong wire type
  assert.throws(() => decode(schema.Entry, new Uint8Array([0xff])), DecodeError);
  // Unknown fields are skipped.
  assert.equal(decode(schema.Entry, new Uint8Array([0x78, 0x01])).body.length, 0);
  assert.ok(schema.payloads.includes('ballot') && schema.payloads.includes('caucus_apportionment'));
  assert.equal(schema.phaseName(2), 'VOTING_OPEN');
});
