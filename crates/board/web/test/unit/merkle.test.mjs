import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64, fromHex, enc, toHex, toBase64 } from '../../src/lib/bytes.js';
import { leafHash, nodeHash, verifyInclusion, verifyConsistency, CompactRange, LeafStore, EMPTY_ROOT } from '../../src/lib/merkle.js';
import { VECTORS } from './vectors.mjs';

const TESTDATA = join(VECTORS, 'transparency-dev-merkle', 'testdata');

function jsonFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...jsonFiles(p));
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

// Vectors hold standard base64 that may not be 32 bytes (or even canonical): decode leniently.
function b64(s) {
  if (s === '') return new Uint8Array(0);
  const v = fromBase64(s);
  if (v) return v;
  return new Uint8Array(Buffer.from(s, 'base64'));
}

const inclusion = jsonFiles(join(TESTDATA, 'inclusion'));
const consistency = jsonFiles(join(TESTDATA, 'consistency'));

test('all transparency-dev vectors are present', () => {
  assert.equal(inclusion.length, 98);
  assert.equal(consistency.length, 98);
});

for (const file of inclusion) {
  const v = JSON.parse(readFileSync(file, 'utf8'));
  test(`inclusion ${file.slice(TESTDATA.length + 1)}: ${v.desc}`, () => {
    const run = () => verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof || []).map(b64), b64(v.root));
    if (v.wantErr) assert.throws(run, { name: 'ProofError' });
    else run();
  });
}

for (const file of consistency) {
  const v = JSON.parse(readFileSync(file, 'utf8'));
  test(`consistency ${file.slice(TESTDATA.length + 1)}: ${v.desc}`, () => {
    const run = () => verifyConsistency(v.size1, v.size2, (v.proof || []).map(b64), b64(v.root1), b64(v.root2));
    if (v.wantErr) assert.throws(run, { name: 'ProofError' });
    else run();
  });
}

// The worked example of spec/tlog.md §12.
const entries = [0, 1, 2, 3, 4].map((i) => enc(`example entry ${i}`));

test('spec/tlog.md §12: leaf hashes, roots, inclusion and consistency', () => {
  assert.equal(toHex(leafHash(entries[0])), 'e757d5b64c2169fe28d2719ab9f9303551cd4e5fa3666b421a59b6b19f27356c');
  assert.equal(toHex(nodeHash(leafHash(entries[0]), leafHash(entries[1]))), '91a6ed630a24acacb8c8ad2fcb288e695fc6d1572e150db35ebf94fbc194adf0');
  const store = new LeafStore();
  const cr = new CompactRange();
  const roots = [toBase64(cr.root())];
  for (const e of entries) {
    store.push(leafHash(e));
    cr.append(leafHash(e));
    roots.push(toBase64(cr.root()));
  }
  assert.equal(roots[0], '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  assert.equal(roots[3], '5lBdeHwojQErRr/ORrBs0oDg9fE/InCZdm5ug9VIcVY=');
  assert.equal(roots[5], 'p4GnZEHR02yif2nX5umh0IxJNqDLNEs3JnOidpmTxZ0=');
  assert.equal(toBase64(store.rootAt(3)), roots[3]);
  assert.equal(toBase64(store.rootAt(0)), toBase64(EMPTY_ROOT));
  const proof = ['9Yx1VpHMZn91kwpHWmM7lBqn4j3F2HIc/nWKb/mFfLE=', 'kabtYwokrKy4yK0vyyiOaV/G0VcuFQ2zXr+U+8GUrfA=', 'cmepYl+m0+Ky/4aQuV+YMr7u3dObPmkDO+Hy0+FzgW8='].map(fromBase64);
  verifyInclusion(store.get(2), 2, 5, proof, fromBase64(roots[5]));
  assert.throws(() => verifyInclusion(store.get(1), 2, 5, proof, fromBase64(roots[5])), { code: 'RootMismatch' });
  const cproof = ['MOxR44jXVf3T+QK2bqPL5jX7biNvQqyV5xpIFIVM3aU=', ...proof.map(toBase64)].map(fromBase64);
  verifyConsistency(3, 5, cproof, fromBase64(roots[3]), fromBase64(roots[5]));
  assert.throws(() => verifyConsistency(3, 5, cproof, fromBase64(roots[5]), fromBase64(roots[5])), { code: 'OldRootMismatch' });
  assert.equal(store.indexOf(leafHash(entries[3])), 3);
  assert.equal(store.indexOf(fromHex('00'.repeat(32))), -1);
});

test('compact range equals the recursive definition for sizes up to 70', () => {
  const leaves = [];
  for (let i = 0; i < 70; i++) leaves.push(leafHash(new Uint8Array([i])));
  const mth = (a) => {
    if (a.length === 1) return a[0];
    let k = 1;
    while (k * 2 < a.length) k *= 2;
    return nodeHash(mth(a.slice(0, k)), mth(a.slice(k)));
  };
  const cr = new CompactRange();
  for (let n = 1; n <= 70; n++) {
    cr.append(leaves[n - 1]);
    assert.equal(toHex(cr.root()), toHex(mth(leaves.slice(0, n))), `size ${n}`);
    assert.ok(cr.hashes.length <= 7);
  }
});
