// RFC 9162 Merkle tree hashing, a compact range, and proof verification
// (spec/tlog.md §2 and §5).

import { sha256 } from '@noble/hashes/sha2.js';
import { equal } from './bytes.js';

export const EMPTY_ROOT = sha256(new Uint8Array(0));

export class ProofError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'ProofError';
    this.code = code;
  }
}

/** SHA-256(0x00 ‖ data): an entry's leaf hash, i.e. its tracker. */
export function leafHash(data) {
  const h = sha256.create();
  h.update(new Uint8Array([0]));
  h.update(data);
  return h.digest();
}

const NODE_BUF = new Uint8Array(65);
NODE_BUF[0] = 1;

/** SHA-256(0x01 ‖ l ‖ r). */
export function nodeHash(l, r) {
  NODE_BUF.set(l, 1);
  NODE_BUF.set(r, 33);
  return sha256(NODE_BUF);
}

function big(x, what) {
  if (typeof x === 'bigint') return x;
  if (!Number.isSafeInteger(x) || x < 0) throw new ProofError('BadArgument', `${what} is not a size`);
  return BigInt(x);
}

function bitlen(x) {
  return x === 0n ? 0 : x.toString(2).length;
}

function popcount(x) {
  let n = 0;
  for (const c of x.toString(2)) if (c === '1') n++;
  return n;
}

function tz(x) {
  if (x === 0n) return 0;
  let n = 0;
  while ((x & 1n) === 0n) {
    x >>= 1n;
    n++;
  }
  return n;
}

function checkHashes(proof) {
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== 32) throw new ProofError('WrongHashLength', 'a proof hash is not 32 bytes');
  }
}

/**
 * Verifies that `leaf` is at `index` in the tree of `size` with root `root`
 * (spec/tlog.md §5.1). Throws a ProofError if not.
 */
export function verifyInclusion(leaf, index, size, proof, root) {
  const i = big(index, 'index');
  const n = big(size, 'size');
  if (i >= n) throw new ProofError('IndexOutOfRange', `index ${i} is not below the tree size ${n}`);
  if (!(leaf instanceof Uint8Array) || leaf.length !== 32) throw new ProofError('WrongHashLength', 'the leaf hash is not 32 bytes');
  const inner = bitlen(i ^ (n - 1n));
  const border = popcount(i >> BigInt(inner));
  if (proof.length !== inner + border) {
    throw new ProofError('WrongProofLength', `the inclusion proof has ${proof.length} hashes, ${inner + border} expected`);
  }
  checkHashes(proof);
  let r = leaf;
  for (let j = 0; j < inner; j++) {
    r = ((i >> BigInt(j)) & 1n) === 1n ? nodeHash(proof[j], r) : nodeHash(r, proof[j]);
  }
  for (let j = inner; j < proof.length; j++) r = nodeHash(proof[j], r);
  if (!(root instanceof Uint8Array) || root.length !== 32 || !equal(r, root)) {
    throw new ProofError('RootMismatch', 'the inclusion proof does not lead to the checkpoint root');
  }
}

/**
 * Verifies a consistency proof from the tree (size1, root1) to the tree
 * (size2, root2) (spec/tlog.md §5.2). Throws a ProofError if not.
 */
export function verifyConsistency(size1, size2, proof, root1, root2) {
  const m = big(size1, 'old size');
  const n = big(size2, 'new size');
  if (n < m) throw new ProofError('SizeWentBackwards', `the new size ${n} is smaller than the old size ${m}`);
  if (m === 0n) throw new ProofError('EmptyOldTree', 'a consistency proof from the empty tree is meaningless');
  if (m === n) {
    if (proof.length !== 0) throw new ProofError('WrongProofLength', 'equal sizes need an empty proof');
    if (!equal(root1, root2)) throw new ProofError('NewRootMismatch', 'two different roots for one tree size');
    return;
  }
  if (root1.length !== 32 || root2.length !== 32) throw new ProofError('WrongHashLength', 'a root is not 32 bytes');
  if (proof.length === 0) throw new ProofError('WrongProofLength', 'the consistency proof is empty');
  let inner = bitlen((m - 1n) ^ (n - 1n));
  const border = popcount((m - 1n) >> BigInt(inner));
  const shift = tz(m);
  inner -= shift;
  const powerOfTwo = (m & (m - 1n)) === 0n;
  const start = powerOfTwo ? 0 : 1;
  if (proof.length !== start + inner + border) {
    throw new ProofError('WrongProofLength', `the consistency proof has ${proof.length} hashes, ${start + inner + border} expected`);
  }
  checkHashes(proof);
  const seed = powerOfTwo ? root1 : proof[0];
  const q = proof.slice(start);
  const mask = (m - 1n) >> BigInt(shift);
  let r1 = seed;
  let r2 = seed;
  for (let j = 0; j < inner; j++) {
    if (((mask >> BigInt(j)) & 1n) === 1n) {
      r1 = nodeHash(q[j], r1);
      r2 = nodeHash(q[j], r2);
    } else {
      r2 = nodeHash(r2, q[j]);
    }
  }
  for (let j = inner; j < q.length; j++) {
    r1 = nodeHash(q[j], r1);
    r2 = nodeHash(q[j], r2);
  }
  if (!equal(r1, root1)) throw new ProofError('OldRootMismatch', 'the consistency proof does not lead to the old root');
  if (!equal(r2, root2)) throw new ProofError('NewRootMismatch', 'the consistency proof does not lead to the new root');
}

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest
 * first. Appending is amortised O(1) hashes; the root costs O(log n).
 */
export class CompactRange {
  constructor() {
    this.size = 0;
    this.hashes = []; // roots of perfect subtrees, largest first
    this.heights = [];
  }

  append(leaf) {
    let h = leaf;
    let height = 0;
    while (this.heights.length > 0 && this.heights[this.heights.length - 1] === height) {
      h = nodeHash(this.hashes.pop(), h);
      this.heights.pop();
      height++;
    }
    this.hashes.push(h);
    this.heights.push(height);
    this.size++;
  }

  root() {
    if (this.hashes.length === 0) return EMPTY_ROOT;
    let r = this.hashes[this.hashes.length - 1];
    for (let i = this.hashes.length - 2; i >= 0; i--) r = nodeHash(this.hashes[i], r);
    return r;
  }
}

/** Leaf hashes of the log, 32 bytes each, in one growing buffer. */
export class LeafStore {
  constructor() {
    this.buf = new Uint8Array(32 * 1024);
    this.size = 0;
  }

  push(h) {
    if ((this.size + 1) * 32 > this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf.set(h, this.size * 32);
    this.size++;
  }

  get(i) {
    return this.buf.subarray(i * 32, i * 32 + 32);
  }

  /** The Merkle tree hash of the first `n` leaves. */
  rootAt(n) {
    if (n > this.size) throw new RangeError(`tree size ${n} is beyond the ${this.size} leaves known`);
    const cr = new CompactRange();
    for (let i = 0; i < n; i++) cr.append(this.get(i));
    return cr.root();
  }

  /** Index of the first leaf equal to `h`, or -1. */
  indexOf(h) {
    outer: for (let i = 0; i < this.size; i++) {
      const o = i * 32;
      for (let j = 0; j < 32; j++) if (this.buf[o + j] !== h[j]) continue outer;
      return i;
    }
    return -1;
  }
}
