// A board in memory for tests: signs checkpoints with noble, serves the
// BoardApi methods the explorer uses, and can be forked.
import { ed25519 } from '@noble/curves/ed25519.js';
import { enc, concat, toBase64 } from '../../src/lib/bytes.js';
import { leafHash, nodeHash, EMPTY_ROOT } from '../../src/lib/merkle.js';
import { keyId } from '../../src/lib/note.js';
import { encode } from '../../src/lib/proto.js';
import { GrpcError } from '../../src/lib/grpcweb.js';
import { schema } from './protos.mjs';

function mth(leaves) {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

// RFC 9162 §2.1.4.1 SUBPROOF.
function subproof(m, leaves, b) {
  const n = leaves.length;
  if (m === n) return b ? [] : [mth(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) return [...subproof(m, leaves.slice(0, k), b), mth(leaves.slice(k))];
  return [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

function path(i, leaves) {
  const n = leaves.length;
  if (n <= 1) return [];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (i < k) return [...path(i, leaves.slice(0, k)), mth(leaves.slice(k))];
  return [...path(i - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

export const SEED = new Uint8Array(32).fill(42);
export const ORIGIN = 'tallyboard/test-election';

export function entryBytes(payload, n = 0) {
  const body = encode(schema.EntryBody, { election_id: 'test-election', created_unix_ms: n, ...payload });
  return encode(schema.Entry, { body, signature: new Uint8Array(64) });
}

export function manifestEntry(extra = {}) {
  return entryBytes({
    manifest: {
      election_id: 'test-election',
      title: 'Test election',
      board_origin: ORIGIN,
      board_key: ed25519.getPublicKey(SEED),
      districts: [{ id: 'd1', name: 'District 1' }, { id: 'd2', name: 'District 2' }],
      contests: [{ id: 'c', title: 'Contest', options: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }] }],
      ...extra,
    },
  });
}

export class FakeBoard {
  constructor(entries, seed = SEED) {
    this.entries = entries.slice();
    this.seed = seed;
    this.calls = [];
  }

  fork() {
    return new FakeBoard(this.entries, this.seed);
  }

  append(bytes) {
    this.entries.push(bytes);
  }

  leaves(n = this.entries.length) {
    return this.entries.slice(0, n).map(leafHash);
  }

  signed(n = this.entries.length) {
    const text = `${ORIGIN}\n${n}\n${toBase64(mth(this.leaves(n)))}\n`;
    const pub = ed25519.getPublicKey(this.seed);
    const id = keyId(ORIGIN, 1, pub);
    const sig = ed25519.sign(enc(text), this.seed);
    return enc(`${text}\n\u2014 ${ORIGIN} ${toBase64(concat(new Uint8Array([id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]), sig))}\n`);
  }

  async getCheckpoint() {
    this.calls.push('GetCheckpoint');
    return { checkpoint: this.signed(), tree_size: this.entries.length, cosigned_checkpoint: new Uint8Array(0), cosigned_tree_size: 0 };
  }

  async getConsistencyProof(m, n) {
    this.calls.push(`GetConsistencyProof ${m} ${n}`);
    if (n > this.entries.length) throw new GrpcError(11, 'board.range: new size beyond the log');
    if (m === 0 || m > n) throw new GrpcError(3, 'board.range: invalid sizes');
    return { old_size: m, new_size: n, proof: subproof(m, this.leaves(n), true) };
  }

  async getEntryByLeafHash(h) {
    const leaves = this.leaves();
    const i = leaves.findIndex((l) => toBase64(l) === toBase64(h));
    if (i < 0) throw new GrpcError(5, 'board.lookup: no entry has this leaf hash');
    return { entry: { index: i, entry: this.entries[i] }, checkpoint: this.signed(), tree_size: leaves.length, inclusion_proof: path(i, leaves) };
  }

  async *streamEntries(start) {
    this.calls.push(`StreamEntries ${start}`);
    if (start > this.entries.length) throw new GrpcError(11, `board.range: start ${start} is beyond the log size ${this.entries.length}`);
    for (let i = start; i < this.entries.length; i++) {
      yield { entry: { index: i, entry: this.entries[i] }, checkpoint: i === this.entries.length - 1 ? this.signed() : new Uint8Array(0) };
    }
    // A live stream then waits; tests end it here.
  }
}
