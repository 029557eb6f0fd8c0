import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Explorer } from '../../src/app/explorer.js';
import { Memory } from '../../src/app/memory.js';
import { toHex } from '../../src/lib/bytes.js';
import { leafHash } from '../../src/lib/merkle.js';
import { NoteVerifier } from '../../src/lib/note.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schema } from './protos.mjs';
import { FakeBoard, entryBytes, manifestEntry, ORIGIN } from './fakeboard.mjs';

class MapStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

function recorder() {
  const v = { alarms: [], halts: [], checks: {}, checkpoints: [] };
  return new Proxy(v, {
    get(t, k) {
      if (k in t) return t[k];
      if (k === 'alarm') return (a) => t.alarms.push(a);
      if (k === 'halted') return (h) => t.halts.push(h);
      if (k === 'check') return (n, s, text) => { t.checks[n] = { s, text }; };
      if (k === 'checkpoint') return (cp, s) => t.checkpoints.push({ size: cp.size, s });
      return () => {};
    },
  });
}

const noTimers = { setTimeout: () => 0, clearTimeout: () => {} };

/** One visit: start, read the stream to its end, let async checks settle. */
async function visit(board, storage, pinnedKey = null) {
  const view = recorder();
  const ex = new Explorer({ api: board, schema, memory: new Memory(storage), view, pinnedKey, timers: noTimers });
  await ex.start();
  await ex.follow();
  await new Promise((r) => setTimeout(r, 20));
  return { ex, view };
}

function election() {
  const e = [manifestEntry()];
  for (let i = 0; i < 7; i++) e.push(entryBytes({ ballot: { district: i % 3 === 0 ? 'd2' : 'd1' } }, i));
  e.push(entryBytes({ challenged_ballot: { ballot: { district: 'd1' } } }, 99));
  return e;
}

test('first visit: verifies and remembers; next visit checks consistency with it', async () => {
  const board = new FakeBoard(election());
  const storage = new MapStorage();
  const { ex, view } = await visit(board, storage);
  assert.deepEqual(view.alarms, []);
  assert.equal(ex.latest.size, 9);
  assert.equal(view.checks['tree-root'].s, 'ok');
  assert.deepEqual(Object.fromEntries(ex.state.counts), { d1: { ballots: 4, challenged: 1, round1: 0 }, d2: { ballots: 3, challenged: 0, round1: 0 } });
  board.append(entryBytes({ notice: { text: 'hello' } }));
  board.append(entryBytes({ notice: { text: 'again' } }));
  const second = await visit(board, storage);
  assert.deepEqual(second.view.alarms, []);
  assert.ok(board.calls.includes('GetConsistencyProof 9 11'));
  assert.equal(second.view.checks.memory.s, 'ok');
  assert.equal(JSON.parse(storage.getItem([...storage.m.keys()].find((k) => k.includes('checkpoint')))).size, 11);
});

test('a fork to a longer history fails the consistency proof and is not remembered', async () => {
  const board = new FakeBoard(election());
  const storage = new MapStorage();
  const fork = board.fork();
  board.append(entryBytes({ notice: { text: 'seen by this browser' } }));
  await visit(board, storage);
  fork.append(entryBytes({ notice: { text: 'other history 1' } }));
  fork.append(entryBytes({ notice: { text: 'other history 2' } }));
  const { view } = await visit(fork, storage);
  assert.equal(view.alarms.length, 1);
  assert.equal(view.alarms[0].kind, 'fork');
  assert.equal(view.alarms[0].older.size, 10);
  assert.equal(view.alarms[0].newer.size, 11);
  // The remembered checkpoint is kept, so the next visit warns again.
  const key = [...storage.m.keys()].find((k) => k.includes('checkpoint'));
  assert.equal(JSON.parse(storage.getItem(key)).size, 10);
  const again = await visit(fork, storage);
  assert.equal(again.view.alarms[0].kind, 'fork');
});

test('same size, another root: fork; fewer entries: shrink', async () => {
  const board = new FakeBoard(election());
  const storage = new MapStorage();
  const fork = board.fork();
  board.append(entryBytes({ notice: { text: 'one' } }));
  await visit(board, storage);
  fork.append(entryBytes({ notice: { text: 'two' } }));
  const same = await visit(fork, storage);
  assert.equal(same.view.alarms[0].kind, 'fork');
  assert.match(same.view.alarms[0].message, /two different roots for size 10/);
  const shrunk = await visit(new FakeBoard(election()), storage);
  assert.equal(shrunk.view.alarms[0].kind, 'shrink');
});

test('a signed root that is not the root of the streamed entries raises the alarm', async () => {
  const liar = new FakeBoard(election());
  const other = new FakeBoard([...election().slice(0, 8), entryBytes({ notice: { text: 'swapped' } })]);
  // Streams other entries (with their own valid checkpoint) than the ones it signed first.
  liar.streamEntries = (start) => other.streamEntries(start);
  const { view } = await visit(liar, new MapStorage());
  assert.equal(view.alarms.length, 1);
  assert.equal(view.alarms[0].kind, 'fork');
});

test('a pinned key that differs from the manifest stops everything', async () => {
  const board = new FakeBoard(election());
  const other = new NoteVerifier(ORIGIN, ed25519.getPublicKey(new Uint8Array(32).fill(1))).vkey;
  const { ex, view } = await visit(board, new MapStorage(), other);
  assert.equal(view.halts.length, 1);
  assert.equal(view.halts[0].kind, 'key-mismatch');
  assert.equal(ex.verifier, null);
  assert.equal(ex.latest, null);
});

test('tracker lookup: verified, not found', async () => {
  const board = new FakeBoard(election());
  const { ex } = await visit(board, new MapStorage());
  const r = await ex.lookup(leafHash(board.entries[3]));
  assert.equal(r.status, 'verified');
  assert.equal(r.index, 3);
  assert.equal(r.type, 'ballot');
  const nf = await ex.lookup(new Uint8Array(32));
  assert.equal(nf.status, 'not-found');
  // A board answering another entry for the tracker is caught.
  board.getEntryByLeafHash = async () => ({ entry: { index: 2, entry: board.entries[2] }, checkpoint: board.signed(), tree_size: 9, inclusion_proof: [] });
  const bad = await ex.lookup(leafHash(board.entries[3]));
  assert.equal(bad.status, 'error');
  assert.match(bad.message, /does not hash to this tracker/);
  assert.equal(toHex(ex.leaves.get(3)), toHex(leafHash(board.entries[3])));
});
