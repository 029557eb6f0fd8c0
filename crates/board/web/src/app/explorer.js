// Follows a board: streams its entries, recomputes its Merkle tree, checks
// every signed checkpoint against it and against the checkpoint remembered
// from the last visit, and keeps a small summary of each entry. It talks to
// the page only through `view` (see view.js), so it can run without a DOM.

import { toBase64, toHex, equal, dec } from '../lib/bytes.js';
import { leafHash, CompactRange, LeafStore, verifyInclusion, verifyConsistency } from '../lib/merkle.js';
import { NoteVerifier, openCheckpoint, parseNote, parseCheckpointText, checkCosignatures } from '../lib/note.js';
import { GrpcError, NOT_FOUND } from '../lib/grpcweb.js';
import { parseReceiptFile } from '../lib/tracker.js';

const POLL_MS = 10000;

function describeError(e) {
  if (e instanceof GrpcError) return { code: e.codeName, message: e.grpcMessage || e.codeName };
  return { code: e && e.name ? e.name : 'Error', message: e && e.message ? e.message : String(e) };
}

/** A verified checkpoint as the page keeps it. */
function checkpointRecord(opened) {
  return {
    origin: opened.origin,
    size: opened.size,
    root: opened.root,
    rootB64: toBase64(opened.root),
    rootHex: toHex(opened.root),
    noteText: dec(opened.bytes),
  };
}

export class Explorer {
  constructor({ api, schema, memory, view, pinnedKey = null, timers = globalThis }) {
    this.api = api;
    this.schema = schema;
    this.memory = memory;
    this.view = view;
    this.timers = timers;
    this.pinnedKey = pinnedKey;
    this.reset();
  }

  reset() {
    this.leaves = new LeafStore();
    this.range = new CompactRange();
    this.summaries = [];
    this.rootsBySize = new Map();
    this.waiting = new Map(); // tree size -> checks to run when the tree reaches it
    this.verifier = null;
    this.manifest = null;
    this.fingerprint = null;
    this.latest = null; // newest checkpoint verified against the page's own tree
    this.alarm = null; // {kind, ...}: a fork, a shrink or a mismatch; nothing is remembered while set
    this.memoryChecked = false;
    this.halted = null;
    this.state = { phase: 0, phaseIndex: -1, tallies: new Map(), results: [], viability: null, apportionment: null, notices: [], counts: new Map(), undecodable: 0 };
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    if (this.abort) this.abort.abort();
    if (this.pollTimer) this.timers.clearTimeout(this.pollTimer);
  }

  // ---- following the board ----------------------------------------------

  /** Connects and follows the board until stopped; reconnects after failures. */
  async run() {
    let delay = 1000;
    while (!this.stopped && !this.halted) {
      try {
        this.view.connection('connecting', this.leaves.size === 0 ? 'Connecting to the board…' : 'Reconnecting to the board…');
        if (this.leaves.size === 0) await this.start();
        await this.follow();
        if (this.stopped || this.halted) return;
        this.view.connection('retrying', 'The board closed the live stream; reconnecting…');
      } catch (e) {
        if (this.stopped || this.halted) return;
        if (e && e.name === 'AbortError') return;
        // The board refuses to continue from where this page is: it has fewer entries now.
        const behind = e instanceof GrpcError && e.codeName === 'OUT_OF_RANGE';
        if (behind && this.verifier) await this.poll();
        if (behind && this.alarm && this.alarm.kind === 'shrink') {
          this.view.connection('error', 'Stopped following the board: it no longer has the entries this page saw (see the warning).');
          return;
        }
        const { code, message } = describeError(e);
        const text = code === 'TransportError' ? message.charAt(0).toUpperCase() + message.slice(1) : `${code}: ${message}`;
        this.view.connection('error', `${text}. Retrying in ${Math.round(delay / 1000)} s.`, () => this.retryNow());
      }
      await this.sleep(delay);
      delay = Math.min(delay * 2, 30000);
      if (this.leaves.size > 0) delay = Math.min(delay, 5000);
    }
  }

  sleep(ms) {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = this.timers.setTimeout(resolve, ms);
    });
  }

  retryNow() {
    if (this.sleepTimer) this.timers.clearTimeout(this.sleepTimer);
    if (this.wake) this.wake();
  }

  /** The first GetCheckpoint: what the board claims before any entry is read. */
  async start() {
    const res = await this.api.getCheckpoint();
    this.first = res;
    const note = parseNote(res.checkpoint);
    const cp = parseCheckpointText(note.text);
    this.view.boardClaims(cp);
  }

  async follow() {
    this.abort = new AbortController();
    const from = this.leaves.size;
    let live = false;
    const onOpen = () => {
      if (from > 0) {
        live = true;
        this.view.connection('live', 'Following the board live.');
      } else {
        const empty = this.first && this.first.tree_size === 0;
        this.view.connection(empty ? 'live' : 'connecting', empty ? 'The board is empty: waiting for the manifest (entry 0).' : 'Reading the board\'s entries…');
      }
    };
    for await (const msg of this.api.streamEntries(from, { signal: this.abort.signal, onOpen })) {
      if (this.stopped || this.halted) return;
      const le = msg.entry;
      if (!le) throw new Error('the stream sent a message without an entry');
      if (le.index !== this.leaves.size) {
        throw new Error(`the stream sent entry ${le.index} when entry ${this.leaves.size} was next`);
      }
      this.addEntry(le.entry);
      if (msg.checkpoint.length > 0) {
        this.streamCheckpoint(msg.checkpoint, le.index);
        if (!live) {
          live = true;
          this.view.connection('live', 'Following the board live.');
        }
        if (!this.polling) {
          this.polling = true;
          this.schedulePoll(0);
        }
      }
      if (this.halted) return;
    }
  }

  addEntry(bytes) {
    const index = this.leaves.size;
    const h = leafHash(bytes);
    this.leaves.push(h);
    this.range.append(h);
    let summary;
    try {
      const { body } = this.schema.decodeEntry(bytes);
      summary = this.summarize(index, body);
    } catch (e) {
      summary = { type: 'undecodable', district: null, detail: e.message };
      this.state.undecodable++;
      if (index === 0) this.halt('no-manifest', `Entry 0 does not decode (${e.message}); this is not a tallyboard election record.`);
    }
    this.summaries.push(summary);
    const size = this.leaves.size;
    const checks = this.waiting.get(size);
    if (checks) {
      this.waiting.delete(size);
      const root = this.range.root();
      for (const check of checks) check(root);
    }
    this.view.entriesChanged(this);
  }

  summarize(index, body) {
    const type = body.payloadCase || 'empty';
    const s = { type, district: null, detail: '' };
    const st = this.state;
    switch (type) {
      case 'manifest':
        if (index !== 0) break;
        this.setManifest(body.manifest);
        break;
      case 'phase_change':
        st.phase = body.phase_change.phase;
        st.phaseIndex = index;
        s.detail = this.schema.phaseName(st.phase);
        this.view.electionChanged(this);
        break;
      case 'ballot':
      case 'challenged_ballot': {
        const b = type === 'ballot' ? body.ballot : body.challenged_ballot.ballot || { district: '', round: 0 };
        s.district = b.district;
        s.round = b.round;
        const c = st.counts.get(b.district) || { ballots: 0, challenged: 0, round1: 0 };
        if (type === 'challenged_ballot') c.challenged++;
        else if (b.round === 1) c.round1++;
        else c.ballots++;
        st.counts.set(b.district, c);
        break;
      }
      case 'issuance':
        s.district = body.issuance.district;
        break;
      case 'encrypted_tally':
        st.tallies.set(index, { round: body.encrypted_tally.round, ballots: body.encrypted_tally.ballots_counted });
        s.detail = `round ${body.encrypted_tally.round}, ${body.encrypted_tally.ballots_counted} ballots`;
        break;
      case 'partial_decryption':
        s.detail = `trustee ${body.partial_decryption.trustee}`;
        break;
      case 'result':
        st.results.push({ index, result: body.result });
        this.view.electionChanged(this);
        break;
      case 'caucus_viability':
        st.viability = { index, value: body.caucus_viability };
        this.view.electionChanged(this);
        break;
      case 'caucus_apportionment':
        st.apportionment = { index, value: body.caucus_apportionment };
        this.view.electionChanged(this);
        break;
      case 'notice':
        st.notices.push({ index, text: body.notice.text });
        s.detail = body.notice.text.length > 80 ? body.notice.text.slice(0, 79) + '…' : body.notice.text;
        this.view.electionChanged(this);
        break;
      default:
        break;
    }
    if (index === 0 && type !== 'manifest') this.halt('no-manifest', `Entry 0 is a ${type}, not the manifest; this is not a valid election record.`);
    if (index > 0 && !this.fingerprint) this.fingerprint = body.election_fingerprint;
    return s;
  }

  setManifest(m) {
    this.manifest = m;
    let verifier;
    try {
      verifier = new NoteVerifier(m.board_origin, m.board_key);
    } catch (e) {
      this.halt('bad-key', `The manifest's board key is not usable: ${e.message}`);
      return;
    }
    this.view.electionChanged(this);
    if (this.pinnedKey) {
      let pinned = null;
      try {
        pinned = NoteVerifier.fromVkey(this.pinnedKey);
      } catch {
        /* an unparsable pin never matches */
      }
      if (!pinned || pinned.vkey !== verifier.vkey) {
        this.halt('key-mismatch', 'The board key in this election\'s manifest is not the key you pinned. Nothing on this page can be trusted.', {
          pinned: this.pinnedKey,
          manifest: verifier.vkey,
        });
        return;
      }
    }
    this.verifier = verifier;
    this.view.boardKey(verifier.vkey, !!this.pinnedKey);
    this.view.check('board-key', 'ok', this.pinnedKey ? 'The manifest names the board key you pinned.' : 'Board key taken from the manifest (pin it to be warned if it ever changes).');
    // The checkpoint the board claimed at the start: its signature now, its root when the tree gets there.
    if (this.first) this.claimedCheckpoint(this.first.checkpoint, 'latest');
    this.checkMemory();
  }

  halt(kind, message, detail = {}) {
    if (this.halted) return;
    this.halted = { kind, message, ...detail };
    this.view.halted(this.halted);
    this.stop();
  }

  /** Opens a signed checkpoint with the board key; on failure raises the alarm. */
  open(bytes, what) {
    try {
      return openCheckpoint(bytes, this.verifier);
    } catch (e) {
      this.view.check('checkpoint-signature', 'fail', `The ${what} does not verify with the board key: ${e.message}`);
      this.raise({ kind: 'bad-signature', message: `The board served a ${what} that does not verify with its own key (${e.message}).`, newer: { noteText: safeText(bytes) } });
      return null;
    }
  }

  /** A checkpoint the board sent on the stream: it covers exactly the entries so far. */
  streamCheckpoint(bytes, index) {
    const opened = this.open(bytes, 'stream checkpoint');
    if (!opened) return;
    const cp = checkpointRecord(opened);
    if (cp.size !== index + 1) {
      this.raise({ kind: 'mismatch', message: `The stream sent a checkpoint of size ${cp.size} after entry ${index}.`, newer: cp });
      return;
    }
    this.compareWithTree(cp, this.range.root(), 'stream');
  }

  /** A checkpoint from GetCheckpoint (or a lookup): checked now if the tree is there, later otherwise. */
  claimedCheckpoint(bytes, what) {
    const opened = this.open(bytes, `${what} checkpoint`);
    if (!opened) return null;
    const cp = checkpointRecord(opened);
    if (this.latest && cp.size < this.latest.size && what === 'latest') {
      this.raise({ kind: 'shrink', message: `It now shows ${cp.size} entries after it showed this page ${this.latest.size}.`, older: this.latest, newer: cp });
      return cp;
    }
    this.whenTreeAt(cp.size, (root) => this.compareWithTree(cp, root, what));
    return cp;
  }

  /** Runs `check(root)` with the page's own root of size `size`, now or when the stream gets there. */
  whenTreeAt(size, check) {
    if (size <= this.leaves.size) {
      check(this.rootAt(size));
      return;
    }
    if (!this.waiting.has(size)) this.waiting.set(size, []);
    this.waiting.get(size).push(check);
  }

  rootAt(size) {
    if (size === this.leaves.size) return this.range.root();
    let r = this.rootsBySize.get(size);
    if (!r) {
      r = this.leaves.rootAt(size);
      this.rootsBySize.set(size, r);
    }
    return r;
  }

  compareWithTree(cp, root, what) {
    if (!equal(root, cp.root)) {
      this.view.check('tree-root', 'fail', `The signed root of size ${cp.size} is not the root of the entries the board sent.`);
      this.raise({
        kind: 'fork',
        message: `The board signed a checkpoint of size ${cp.size} (${what}) whose root is not the root of the ${cp.size} entries it sent this page.`,
        older: { size: cp.size, rootB64: toBase64(root), noteText: '(the root this page computed from the entries)' },
        newer: cp,
      });
      return;
    }
    this.rootsBySize.set(cp.size, cp.root);
    this.view.check('checkpoint-signature', 'ok', 'Every checkpoint shown verifies with the board key.');
    this.view.check('tree-root', 'ok', `This page hashed all ${cp.size} entries itself; the root equals the signed root.`);
    if (!this.latest || cp.size >= this.latest.size) {
      this.latest = cp;
      this.view.checkpoint(cp, this.alarm ? 'alarm' : 'verified');
      this.remember();
    }
  }

  // ---- memory across visits ---------------------------------------------

  async checkMemory() {
    const vkey = this.verifier.vkey;
    const old = this.memory.checkpoint(vkey);
    if (!old) {
      this.memoryChecked = true;
      this.view.check('memory', 'ok', 'First visit with this board key: nothing remembered yet; this visit\'s checkpoint will be.');
      this.remember();
      return;
    }
    let oldCp;
    try {
      oldCp = checkpointRecord(openCheckpoint(old.note, this.verifier));
    } catch (e) {
      this.memory.forgetCheckpoint(vkey);
      this.memoryChecked = true;
      this.view.check('memory', 'warn', `The remembered checkpoint was unreadable (${e.message}) and was dropped.`);
      return;
    }
    this.remembered = oldCp;
    const claimed = this.first ? checkpointRecord(openCheckpoint(this.first.checkpoint, this.verifier)) : null;
    // 1. Our own tree, when it reaches the remembered size.
    this.whenTreeAt(oldCp.size, (root) => {
      if (!equal(root, oldCp.root)) {
        this.raise({ kind: 'fork', message: `The entries it sends now do not lead to the root of size ${oldCp.size} it signed on your last visit.`, older: oldCp, newer: claimed || this.latest });
      }
    });
    // 2. The board's consistency proof from the remembered checkpoint to the latest one.
    if (claimed) {
      if (claimed.size < oldCp.size) {
        this.raise({ kind: 'shrink', message: `It now shows ${claimed.size} entries; on your last visit it signed ${oldCp.size}.`, older: oldCp, newer: claimed });
      } else if (claimed.size === oldCp.size) {
        if (!equal(claimed.root, oldCp.root)) {
          this.raise({ kind: 'fork', message: `It signed two different roots for size ${oldCp.size}.`, older: oldCp, newer: claimed });
        }
      } else {
        try {
          const res = await this.api.getConsistencyProof(oldCp.size, claimed.size);
          if (res.old_size !== oldCp.size || res.new_size !== claimed.size) throw new Error(`the board answered a proof for ${res.old_size} → ${res.new_size}`);
          verifyConsistency(oldCp.size, claimed.size, res.proof, oldCp.root, claimed.root);
        } catch (e) {
          if (e instanceof GrpcError && e.code === 14) {
            this.view.check('memory', 'warn', `Could not get a consistency proof (${e.codeName}); the page's own tree is still compared.`);
          } else {
            const { code, message } = describeError(e);
            this.raise({ kind: 'fork', message: `Its consistency proof from your last visit's checkpoint (size ${oldCp.size}) to the current one (size ${claimed.size}) fails: ${code}: ${message}`, older: oldCp, newer: claimed });
          }
        }
      }
    }
    this.memoryChecked = true;
    if (!this.alarm) {
      this.view.check('memory', 'ok', `Consistent with the checkpoint this browser remembered from its last visit (size ${oldCp.size}).`);
      this.remember();
    }
  }

  remember() {
    if (!this.memoryChecked || this.alarm || !this.latest || !this.verifier) return;
    if (this.remembered && this.latest.size < this.remembered.size) return;
    this.memory.saveCheckpoint(this.verifier.vkey, this.latest);
    this.remembered = this.latest;
  }

  forget() {
    if (this.verifier) this.memory.forgetCheckpoint(this.verifier.vkey);
  }

  raise(alarm) {
    if (this.alarm) return; // the first evidence stands
    this.alarm = alarm;
    this.view.check('memory', alarm.kind === 'fork' || alarm.kind === 'shrink' ? 'fail' : 'warn', alarm.message);
    this.view.alarm(alarm);
    if (this.latest) this.view.checkpoint(this.latest, 'alarm');
  }

  // ---- polling: cosignatures and the board's claims -----------------------

  schedulePoll(ms) {
    if (this.pollTimer) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = this.timers.setTimeout(() => this.poll(), ms);
  }

  async poll() {
    if (this.stopped || this.halted || !this.verifier) return;
    try {
      const res = await this.api.getCheckpoint();
      this.claimedCheckpoint(res.checkpoint, 'latest');
      this.cosignatures(res);
    } catch (e) {
      const { code, message } = describeError(e);
      this.view.cosigners({ error: `${code}: ${message}` });
    }
    this.schedulePoll(POLL_MS);
  }

  cosignatures(res) {
    const witnesses = (this.manifest && this.manifest.witnesses) || [];
    if (res.cosigned_checkpoint.length === 0) {
      this.view.cosigners({ size: null, results: witnesses.map((w) => ({ name: w.name, status: 'missing' })), witnesses });
      if (witnesses.length) this.view.check('cosignatures', 'warn', 'No witness has cosigned a checkpoint yet.');
      else this.view.check('cosignatures', 'none', 'The manifest names no witnesses.');
      return;
    }
    const opened = this.open(res.cosigned_checkpoint, 'cosigned checkpoint');
    if (!opened) return;
    const cp = checkpointRecord(opened);
    const results = checkCosignatures(opened.note, witnesses);
    const extra = opened.note.signatures.filter((s) => s.name !== this.verifier.name && !witnesses.some((w) => w.name === s.name)).map((s) => s.name);
    this.view.cosigners({ size: cp.size, rootB64: cp.rootB64, results, extra, witnesses });
    this.whenTreeAt(cp.size, (root) => this.compareWithTree(cp, root, 'cosigned'));
    const ok = results.filter((r) => r.status === 'verified').length;
    const bad = results.filter((r) => r.status === 'invalid').length;
    this.view.check('cosignatures', bad ? 'fail' : ok === witnesses.length ? 'ok' : 'warn', `${ok} of ${witnesses.length} witnesses cosigned the checkpoint of size ${cp.size}${bad ? `; ${bad} cosignature(s) do not verify` : ''}.`);
  }

  // ---- tracker lookup ---------------------------------------------------

  /** Looks a tracker up on the board and verifies the answer. */
  async lookup(tracker) {
    if (!this.verifier) return { status: 'error', message: 'The page has not verified the board key yet; try again in a moment.' };
    let res;
    try {
      res = await this.api.getEntryByLeafHash(tracker);
    } catch (e) {
      if (e instanceof GrpcError && e.code === NOT_FOUND) {
        return { status: 'not-found', index: null, message: 'This tracker is not on the board.', detail: e.grpcMessage };
      }
      const { code, message } = describeError(e);
      return { status: 'error', index: null, message: `${code}: ${message}` };
    }
    try {
      const le = res.entry;
      if (!le) throw new Error('the board answered without an entry');
      if (!equal(leafHash(le.entry), tracker)) throw new Error('the entry the board answered does not hash to this tracker');
      const opened = openCheckpoint(res.checkpoint, this.verifier);
      if (opened.size !== res.tree_size) throw new Error(`the answer says tree size ${res.tree_size} but its checkpoint says ${opened.size}`);
      verifyInclusion(tracker, le.index, opened.size, res.inclusion_proof, opened.root);
      const cp = checkpointRecord(opened);
      this.whenTreeAt(cp.size, (root) => this.compareWithTree(cp, root, 'lookup'));
      if (le.index < this.leaves.size && !equal(this.leaves.get(le.index), tracker)) {
        throw new Error(`entry ${le.index} on this page has another tracker`);
      }
      const { body } = this.schema.decodeEntry(le.entry);
      return {
        status: 'verified',
        index: le.index,
        type: body.payloadCase,
        district: (body.ballot && body.ballot.district) || (body.challenged_ballot && body.challenged_ballot.ballot && body.challenged_ballot.ballot.district) || '',
        fingerprint: body.election_fingerprint,
        checkpointSize: cp.size,
        message: `On the board at index ${le.index}, included in the signed checkpoint of size ${cp.size}.`,
      };
    } catch (e) {
      return { status: 'error', index: null, message: `The board's answer does not verify: ${e.message}` };
    }
  }

  /** Checks a receipt file: its own proof offline, then against the board. Returns {status, checks[]}. */
  async checkReceipt(bytes) {
    const checks = [];
    const add = (ok, text) => checks.push({ ok, text });
    const done = (status, message, index = null) => ({ status, message, index, checks });
    let r;
    try {
      r = parseReceiptFile(bytes);
      add(true, `The receipt file is well formed (tracker ${toHex(r.tracker).slice(0, 16)}…, index ${r.index}).`);
    } catch (e) {
      add(false, e.message);
      return done('invalid', e.message);
    }
    if (!this.verifier) return done('error', 'The page has not verified the board key yet.');
    let cp;
    try {
      cp = checkpointRecord(openCheckpoint(r.proof.checkpoint, this.verifier));
      add(true, `Its checkpoint (size ${cp.size}) is signed by the board key.`);
    } catch (e) {
      add(false, `Its checkpoint is not signed by this board's key: ${e.message}`);
      return done('error', 'The receipt is not from this board, or was altered.');
    }
    try {
      verifyInclusion(r.tracker, r.index, cp.size, r.proof.proof, cp.root);
      add(true, `Its inclusion proof puts the tracker at index ${r.index} in that checkpoint.`);
    } catch (e) {
      add(false, `Its inclusion proof fails: ${e.message}`);
      return done('error', 'The receipt does not prove its tracker is on the board.');
    }
    // The receipt's checkpoint against the page's current one.
    const latest = this.latest;
    if (latest) {
      try {
        if (cp.size > latest.size) {
          add(true, `Its checkpoint is newer (size ${cp.size}) than this page's (size ${latest.size}); it will be compared when the page gets there.`);
          this.whenTreeAt(cp.size, (root) => this.compareWithTree(cp, root, 'receipt'));
        } else {
          if (cp.size < latest.size) {
            const res = await this.api.getConsistencyProof(cp.size, latest.size);
            verifyConsistency(cp.size, latest.size, res.proof, cp.root, latest.root);
          } else if (!equal(cp.root, latest.root)) {
            throw new Error(`two roots for size ${cp.size}`);
          }
          if (!equal(this.rootAt(cp.size), cp.root)) throw new Error('its root is not the root of the entries this page hashed');
          add(true, `Its checkpoint is consistent with this page's current checkpoint (size ${latest.size}).`);
        }
      } catch (e) {
        const { message } = describeError(e);
        add(false, `Its checkpoint is NOT consistent with this page's current checkpoint: ${message}`);
        this.raise({ kind: 'fork', message: `The receipt's checkpoint of size ${cp.size} is not consistent with the board's current one (${message}).`, older: cp, newer: latest });
        return done('error', 'The board and the receipt disagree: evidence of a fork.', r.index);
      }
    }
    const found = await this.lookup(r.tracker);
    if (found.status !== 'verified') {
      add(false, `The board does not show it now: ${found.message}`);
      return done(found.status === 'not-found' ? 'not-found' : 'error', found.message);
    }
    if (found.index !== r.index) {
      add(false, `The board has this tracker at index ${found.index}, the receipt says ${r.index}.`);
      return done('error', 'The index does not match.', found.index);
    }
    if (!equal(found.fingerprint, r.election)) {
      add(false, 'The entry on the board is for another election than the receipt says.');
      return done('error', 'The election fingerprint does not match.', found.index);
    }
    add(true, `The board still has it at index ${found.index} (${found.type}), in its checkpoint of size ${found.checkpointSize}.`);
    return { ...found, checks, message: `Receipt verified: on the board at index ${found.index}.` };
  }
}

function safeText(bytes) {
  try {
    return dec(bytes);
  } catch {
    return '(not UTF-8)';
  }
}
