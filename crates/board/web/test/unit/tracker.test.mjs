import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTracker, parseReceiptFile, ReceiptError } from '../../src/lib/tracker.js';
import { toHex, toBase64, enc } from '../../src/lib/bytes.js';
import { leafHash } from '../../src/lib/merkle.js';

const H = leafHash(enc('example entry 2'));
const HEX = toHex(H);

test('trackers: hex either case, base64, white space; refusals', () => {
  for (const s of [HEX, HEX.toUpperCase(), `  ${HEX}\n`, `\t${toBase64(H)} `]) {
    const r = parseTracker(s);
    assert.ok(r.ok, s);
    assert.equal(toHex(r.hash), HEX);
  }
  const bad = ['', '   ', HEX.slice(1), HEX + '0', HEX.replace('3', 'g'), toBase64(H).slice(0, 43) + 'A', 'AAAA', `${HEX} ${HEX}`, toBase64(new Uint8Array(33))];
  for (const s of bad) {
    const r = parseTracker(s);
    assert.equal(r.ok, false, s);
    assert.ok(r.message.length > 0);
  }
  const huge = parseTracker('a'.repeat(5000));
  assert.equal(huge.ok, false);
  assert.match(huge.message, /Nothing was sent/);
  assert.match(parseTracker(HEX.slice(2)).message, /this has 62/);
});

const TLOG_PROOF = `c2sp.org/tlog-proof@v1
index 2
9Yx1VpHMZn91kwpHWmM7lBqn4j3F2HIc/nWKb/mFfLE=
kabtYwokrKy4yK0vyyiOaV/G0VcuFQ2zXr+U+8GUrfA=
cmepYl+m0+Ky/4aQuV+YMr7u3dObPmkDO+Hy0+FzgW8=

tallyboard/example-election
5
p4GnZEHR02yif2nX5umh0IxJNqDLNEs3JnOidpmTxZ0=

\u2014 tallyboard/example-election +M3RHwlBzaJGAnReMUkR5H8N/rOjNuQEz6qRD91vMJrdzaUpVs7x3zgCvnTKRnIpt7cDeFjmi/EdacmHjiMsUPr8OAQ=
`;
const ELECTION = 'ab'.repeat(32);
export const RECEIPT_FILE = `tallyboard/v1/cast-receipt\nelection ${ELECTION}\ntracker ${HEX}\nindex 2\n\n${TLOG_PROOF}`;

test('receipt file: parses, and each header rule is enforced', () => {
  const r = parseReceiptFile(RECEIPT_FILE);
  assert.equal(r.index, 2);
  assert.equal(toHex(r.tracker), HEX);
  assert.equal(toHex(r.election), ELECTION);
  assert.equal(r.proof.proof.length, 3);
  assert.ok(new TextDecoder().decode(r.proof.checkpoint).startsWith('tallyboard/example-election\n5\n'));
  const bad = [
    RECEIPT_FILE.replace('tallyboard/v1/cast-receipt', 'tallyboard/v2/cast-receipt'),
    RECEIPT_FILE.replace('index 2\n\n', 'index 3\n\n'),
    RECEIPT_FILE.replace('index 2\n\n', 'index 02\n\n'),
    RECEIPT_FILE.replace(`tracker ${HEX}`, `tracker ${HEX.toUpperCase()}`),
    RECEIPT_FILE.replace(`election ${ELECTION}\n`, ''),
    RECEIPT_FILE.replace('index 2\n\n', 'index 2\nextra x\n\n'),
    RECEIPT_FILE.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v0'),
    RECEIPT_FILE.slice(0, RECEIPT_FILE.length - 20),
    'tallyboard/v1/cast-receipt\n',
    new Uint8Array([0xff, 0xfe, 0x00]),
  ];
  for (const b of bad) assert.throws(() => parseReceiptFile(b), ReceiptError, String(b).slice(0, 80));
});
