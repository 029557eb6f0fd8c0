// The page's Content-Security-Policy has no 'unsafe-eval': loading the schema
// and decoding entries must never build functions from strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const protos = new URL('./protos.mjs', import.meta.url).href;
const proto = new URL('../../src/lib/proto.js', import.meta.url).href;

test('schema loading, encoding and decoding run without Function or eval', () => {
  const script = `
    globalThis.Function = new Proxy(Function, { apply() { throw new Error('Function called'); }, construct() { throw new Error('Function constructed'); } });
    globalThis.eval = () => { throw new Error('eval called'); };
    const { schema } = await import(${JSON.stringify(protos)});
    const { encode } = await import(${JSON.stringify(proto)});
    const body = encode(schema.EntryBody, { election_id: 'x', ballot: { district: 'd1', contests: [{ contest: 'c', encrypted: new Uint8Array(3) }] } });
    const { body: b } = schema.decodeEntry(encode(schema.Entry, { body }));
    if (b.ballot.contests[0].contest !== 'c') throw new Error('round trip failed');
    schema.decodeResponse('GetCheckpoint', schema.encodeRequest('GetCheckpoint', {}));
    console.log('ok');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
});
