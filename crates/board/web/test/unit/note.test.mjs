import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { enc, concat, toBase64, fromBase64 } from '../../src/lib/bytes.js';
import {
  NoteVerifier, parseNote, openCheckpoint, parseCheckpointText, checkCosignatures, witnessKeyId,
  cosignatureMessage, keyId, parseTlogProof, isValidKeyName,
} from '../../src/lib/note.js';
import { verifyInclusion, leafHash } from '../../src/lib/merkle.js';
import { VECTORS } from './vectors.mjs';

const c2sp = (p) => readFileSync(join(VECTORS, 'C2SP', p));

test('C2SP example.vkey verifies example.note', () => {
  const v = NoteVerifier.fromVkey(c2sp('signed-note/example.vkey').toString());
  assert.equal(v.name, 'example.com/foo');
  assert.equal(v.id, 0x530d903a);
  assert.equal(v.vkey, 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
  const note = parseNote(c2sp('signed-note/example.note'));
  assert.equal(note.text, 'This is an example message.\n');
  assert.equal(note.signatures.length, 1);
  assert.equal(note.signatures[0].id, v.id);
  assert.ok(ed25519.verify(note.signatures[0].sig, note.textBytes, v.key));
});

test('C2SP quasimodo note: the text ends at the last blank line', () => {
  const note = parseNote(c2sp('signed-note/quasimodo.note'));
  assert.ok(note.text.endsWith('ed è subito sera.\n'));
  assert.ok(note.text.includes('\n\n'));
  assert.equal(note.signatures[0].name, 'quasimodo.example/salvatore');
});

test('C2SP checkpoint and cosigned checkpoint parse', () => {
  const cp = parseCheckpointText(parseNote(c2sp('tlog-checkpoint/example.checkpoint')).text);
  assert.equal(cp.origin, 'example.com/behind-the-sofa');
  assert.equal(cp.size, 20852163);
  const note = parseNote(c2sp('tlog-cosignature/example-cosigned.checkpoint'));
  assert.equal(note.signatures.length, 2);
  const w = note.signatures[1];
  assert.equal(w.name, 'witness.example.com/w1');
  assert.equal(w.sig.length, 72); // timestamp (8) ‖ Ed25519 signature (64)
  const t = new DataView(w.sig.buffer, w.sig.byteOffset, 8).getBigUint64(0);
  assert.ok(t > 1_600_000_000n && t < 2_000_000_000n);
  // Its key is not published: with some other key under that name the line is not recognised.
  const other = ed25519.getPublicKey(new Uint8Array(32).fill(9));
  assert.deepEqual(checkCosignatures(note, [{ name: w.name, key: other }]).map((r) => r.status), ['missing']);
});

test('malformed notes are refused', () => {
  const bad = [
    'no signature block\n',
    'text\n\n',
    'text\n\nnot a signature\n',
    'text\n\n\u2014 name\n',
    'text\n\n\u2014 name AAAA\n',
    'text\n\n\u2014 name AQIDBAU=', // unterminated
    'te\rxt\n\n\u2014 name AQIDBAU=\n',
    'text\n\n\u2014 na+me AQIDBAU=\n',
    'text\n\n\u2014 name AQIDBAV=\n', // non-canonical base64
  ];
  for (const s of bad) assert.throws(() => parseNote(s), { name: 'NoteError' }, JSON.stringify(s));
  assert.equal(parseNote('text\n\n\u2014 name AQIDBAU=\n').signatures[0].id, 0x01020304);
  assert.ok(!isValidKeyName('a b'));
  assert.ok(!isValidKeyName(''));
  assert.ok(isValidKeyName('tallyboard/x'));
});

// spec/tlog.md §12: the example-only key with seed 00 01 … 1f.
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const ORIGIN = 'tallyboard/example-election';
const VKEY = 'tallyboard/example-election+f8cdd11f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4';
const RECEIPT = `c2sp.org/tlog-proof@v1
index 2
9Yx1VpHMZn91kwpHWmM7lBqn4j3F2HIc/nWKb/mFfLE=
kabtYwokrKy4yK0vyyiOaV/G0VcuFQ2zXr+U+8GUrfA=
cmepYl+m0+Ky/4aQuV+YMr7u3dObPmkDO+Hy0+FzgW8=

tallyboard/example-election
5
p4GnZEHR02yif2nX5umh0IxJNqDLNEs3JnOidpmTxZ0=

\u2014 tallyboard/example-election +M3RHwlBzaJGAnReMUkR5H8N/rOjNuQEz6qRD91vMJrdzaUpVs7x3zgCvnTKRnIpt7cDeFjmi/EdacmHjiMsUPr8OAQ=
`;

export function signNote(text, name, seed) {
  const pub = ed25519.getPublicKey(seed);
  const id = keyId(name, 1, pub);
  const sig = ed25519.sign(enc(text), seed);
  const raw = concat(new Uint8Array([id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]), sig);
  return `${text}\n\u2014 ${name} ${toBase64(raw)}\n`;
}

test('spec/tlog.md §12: board key, signed checkpoint and receipt', () => {
  const v = NoteVerifier.fromVkey(VKEY);
  assert.equal(toBase64(v.key), toBase64(ed25519.getPublicKey(SEED)));
  assert.equal(new NoteVerifier(ORIGIN, ed25519.getPublicKey(SEED)).vkey, VKEY);
  assert.equal(NoteVerifier.fromVkey(VKEY.replace('f8cdd11f', 'F8CDD11F')).id, 0xf8cdd11f);
  assert.throws(() => NoteVerifier.fromVkey(VKEY.replace('f8cdd11f', 'f8cdd11e')), { code: 'KeyIdMismatch' });
  const tp = parseTlogProof(RECEIPT);
  assert.equal(tp.index, 2);
  const cp = openCheckpoint(tp.checkpoint, v);
  assert.equal(cp.size, 5);
  verifyInclusion(leafHash(enc('example entry 2')), tp.index, cp.size, tp.proof, cp.root);
  // Ed25519 is deterministic: signing again gives the same bytes.
  assert.equal(signNote(cp.text, ORIGIN, SEED), new TextDecoder().decode(tp.checkpoint));
  // Any flipped bit of the checkpoint fails.
  const bytes = Uint8Array.from(tp.checkpoint);
  for (const i of [0, 30, 40, bytes.length - 10]) {
    const b = Uint8Array.from(bytes);
    b[i] ^= 1;
    assert.throws(() => openCheckpoint(b, v), { name: 'NoteError' });
  }
  // Another key of the same name is not the board's.
  const other = new NoteVerifier(ORIGIN, ed25519.getPublicKey(new Uint8Array(32).fill(7)));
  assert.throws(() => openCheckpoint(tp.checkpoint, other), { code: 'NoKnownSignature' });
  const foreign = new NoteVerifier('tallyboard/other', v.key);
  assert.throws(() => openCheckpoint(tp.checkpoint, foreign), { code: 'OriginMismatch' });
});

test('a receipt with extra data and tampering', () => {
  const withExtra = RECEIPT.replace('index 2', 'extra AAEC\nindex 2');
  assert.deepEqual([...parseTlogProof(withExtra).extra], [0, 1, 2]);
  assert.throws(() => parseTlogProof(RECEIPT.replace('index 2', 'index 02')), { name: 'NoteError' });
  assert.throws(() => parseTlogProof(RECEIPT.slice(0, 60)), { name: 'NoteError' });
  assert.throws(() => parseTlogProof('c2sp.org/tlog-proof@v2\n' + RECEIPT.slice(23)), { name: 'NoteError' });
});

function cosign(text, name, seed, timestamp) {
  const pub = ed25519.getPublicKey(seed);
  const id = witnessKeyId(name, pub);
  const ts = new Uint8Array(8);
  new DataView(ts.buffer).setBigUint64(0, BigInt(timestamp));
  const sig = ed25519.sign(cosignatureMessage(timestamp, text), seed);
  const raw = concat(new Uint8Array([id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]), ts, sig);
  return `\u2014 ${name} ${toBase64(raw)}\n`;
}

test('witness cosignatures (cosignature/v1) made with noble', () => {
  const text = `${ORIGIN}\n5\np4GnZEHR02yif2nX5umh0IxJNqDLNEs3JnOidpmTxZ0=\n`;
  const w1 = { name: 'witness.example-campaign.org/w1', seed: new Uint8Array(32).fill(1) };
  const w2 = { name: 'press.example/w', seed: new Uint8Array(32).fill(2) };
  const w3 = { name: 'univ.example/w', seed: new Uint8Array(32).fill(3) };
  const witnesses = [w1, w2, w3].map((w) => ({ name: w.name, key: ed25519.getPublicKey(w.seed) }));
  const signed = signNote(text, ORIGIN, SEED);
  const good2 = cosign(text, w2.name, w2.seed, 1700000000);
  // w1 signs a different time than the one in its line: invalid.
  const bad1 = cosign(text, w1.name, w1.seed, 1700000001);
  const raw = fromBase64(bad1.split(' ')[2].trim());
  new DataView(raw.buffer).setBigUint64(4, 1700000002n);
  const forged1 = `\u2014 ${w1.name} ${toBase64(raw)}\n`;
  const note = parseNote(signed + good2 + forged1);
  const res = checkCosignatures(note, witnesses);
  assert.deepEqual(res.map((r) => r.status), ['invalid', 'verified', 'missing']);
  assert.equal(res[1].timestamp, 1700000000);
  // The board's checkpoint still opens: cosignature lines are ignored by the board key.
  assert.equal(openCheckpoint(signed + good2 + forged1, NoteVerifier.fromVkey(VKEY)).size, 5);
  const ok = checkCosignatures(parseNote(signed + cosign(text, w1.name, w1.seed, 1700000005)), witnesses);
  assert.deepEqual(ok.map((r) => r.status), ['verified', 'missing', 'missing']);
  // A witness's line over another checkpoint text does not verify.
  const other = cosign(text.replace('\n5\n', '\n6\n'), w3.name, w3.seed, 1);
  assert.equal(checkCosignatures(parseNote(signed + other), witnesses)[2].status, 'invalid');
});
