// C2SP signed notes, Ed25519 note keys, checkpoints, witness cosignatures and
// tlog-proof receipts (spec/tlog.md §6–§8, c2sp.org/tlog-cosignature).

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { enc, dec, concat, equal, fromBase64, toBase64, toHex, fromHex, parseDecimal } from './bytes.js';

export const MAX_NOTE_SIZE = 1 << 20;
export const MAX_SIGNATURES = 100;
export const MAX_TLOG_PROOF_SIZE = (1 << 20) + 128 * 1024;
export const MAX_PROOF_HASHES = 64;
const DASH = '\u2014 ';

export class NoteError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'NoteError';
    this.code = code;
  }
}

/** A key name: non-empty, no '+', no Unicode white space. */
export function isValidKeyName(name) {
  return typeof name === 'string' && name.length > 0 && !name.includes('+') && !/[\s\u0085\u180e]/u.test(name);
}

/** Note key ID: the first 4 bytes of SHA-256(name ‖ "\n" ‖ type ‖ key), as a u32. */
export function keyId(name, type, key) {
  const h = sha256(concat(enc(name), new Uint8Array([0x0a, type]), key));
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

function hex8(id) {
  return id.toString(16).padStart(8, '0');
}

/** True if `key` is a valid Ed25519 point of large order. */
export function isStrongEd25519Key(key) {
  if (!(key instanceof Uint8Array) || key.length !== 32) return false;
  try {
    return !ed25519.Point.fromBytes(key).isSmallOrder();
  } catch {
    return false;
  }
}

/**
 * Strict Ed25519 verification: canonical encodings (RFC 8032), neither the
 * key nor R of small order. Never throws.
 */
export function ed25519VerifyStrict(sig, msg, key) {
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
  try {
    if (!isStrongEd25519Key(key)) return false;
    if (ed25519.Point.fromBytes(sig.subarray(0, 32)).isSmallOrder()) return false;
    return ed25519.verify(sig, msg, key, { zip215: false });
  } catch {
    return false;
  }
}

/** A board (Ed25519, type 0x01) verifier key. */
export class NoteVerifier {
  constructor(name, key) {
    if (!isValidKeyName(name)) throw new NoteError('InvalidKeyName', `"${name}" is not a valid key name`);
    if (!isStrongEd25519Key(key)) throw new NoteError('InvalidPublicKey', 'the key is not a valid Ed25519 public key');
    this.name = name;
    this.key = key;
    this.id = keyId(name, 0x01, key);
  }

  /** Parses `<name>+<8 hex>+<base64(0x01 ‖ key)>` (spec/tlog.md §6.4). */
  static fromVkey(text) {
    const s = text.trim();
    const a = s.indexOf('+');
    const b = a < 0 ? -1 : s.indexOf('+', a + 1);
    if (a < 0 || b < 0) throw new NoteError('Malformed', 'a verifier key is <name>+<key id>+<key>');
    const name = s.slice(0, a);
    const idHex = s.slice(a + 1, b);
    const raw = fromBase64(s.slice(b + 1));
    if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw new NoteError('Malformed', 'the key id is not 8 hex digits');
    if (!raw || raw.length < 1) throw new NoteError('Malformed', 'the key is not base64');
    if (raw[0] !== 0x01) throw new NoteError('UnsupportedType', `key type 0x${raw[0].toString(16)} is not Ed25519 (0x01)`);
    if (raw.length !== 33) throw new NoteError('InvalidPublicKey', 'an Ed25519 key is 32 bytes');
    const v = new NoteVerifier(name, raw.slice(1));
    if (v.id !== parseInt(idHex, 16)) throw new NoteError('KeyIdMismatch', 'the key id does not match the key');
    return v;
  }

  get vkey() {
    return `${this.name}+${hex8(this.id)}+${toBase64(concat(new Uint8Array([1]), this.key))}`;
  }
}

function checkText(bytes) {
  for (const b of bytes) if (b < 0x20 && b !== 0x0a) throw new NoteError('Malformed', 'the note contains a control character');
}

/**
 * Parses a signed note (spec/tlog.md §6.1) into its text (bytes and string)
 * and signature lines {name, id, sig, line}.
 */
export function parseNote(bytes) {
  if (typeof bytes === 'string') bytes = enc(bytes);
  if (bytes.length > MAX_NOTE_SIZE) throw new NoteError('TooLarge', 'the note is larger than 1 MiB');
  checkText(bytes);
  let str;
  try {
    str = dec(bytes);
  } catch {
    throw new NoteError('Malformed', 'the note is not UTF-8');
  }
  const s = str.lastIndexOf('\n\n');
  if (s < 0) throw new NoteError('Malformed', 'the note has no signature block');
  const text = str.slice(0, s + 1);
  const block = str.slice(s + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new NoteError('Malformed', 'the signature block is empty or unterminated');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('TooManySignatures', 'more than 100 signatures');
  const signatures = lines.map((line) => {
    if (!line.startsWith(DASH)) throw new NoteError('Malformed', 'a signature line does not start with "— "');
    const rest = line.slice(DASH.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw new NoteError('Malformed', 'a signature line has no signature');
    const name = rest.slice(0, sp);
    if (!isValidKeyName(name)) throw new NoteError('Malformed', `"${name}" is not a valid key name`);
    const raw = fromBase64(rest.slice(sp + 1));
    if (!raw || raw.length < 5) throw new NoteError('Malformed', 'a signature is not canonical base64 of at least 5 bytes');
    const id = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
    return { name, id, sig: raw.slice(4), line };
  });
  return { text, textBytes: enc(text), signatures };
}

/** Parses a checkpoint text (spec/tlog.md §7.1). */
export function parseCheckpointText(text) {
  if (!text.endsWith('\n')) throw new NoteError('Malformed', 'the checkpoint does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteError('Malformed', 'a checkpoint has at least three lines');
  if (lines.some((l) => l.length === 0)) throw new NoteError('Malformed', 'the checkpoint has an empty line');
  const size = parseDecimal(lines[1]);
  if (size === null) throw new NoteError('Malformed', 'the tree size is not a decimal');
  const root = fromBase64(lines[2]);
  if (!root || root.length !== 32) throw new NoteError('Malformed', 'the root is not base64 of 32 bytes');
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new NoteError('Malformed', 'the tree size is too large');
  return { origin: lines[0], size: Number(size), root, extensions: lines.slice(3) };
}

/**
 * Opens a signed checkpoint with the board's key (spec/tlog.md §7.2): the
 * origin must be the key name, every line by that key must verify and at
 * least one must. Returns the checkpoint with its note; throws NoteError.
 */
export function openCheckpoint(bytes, verifier) {
  const note = parseNote(bytes);
  const cp = parseCheckpointText(note.text);
  if (cp.origin !== verifier.name) {
    throw new NoteError('OriginMismatch', `the checkpoint origin "${cp.origin}" is not the board key's name "${verifier.name}"`);
  }
  let verified = 0;
  for (const s of note.signatures) {
    if (s.name !== verifier.name || s.id !== verifier.id) continue;
    if (!ed25519VerifyStrict(s.sig, note.textBytes, verifier.key)) {
      throw new NoteError('InvalidSignature', 'the board signature on the checkpoint does not verify');
    }
    verified++;
  }
  if (verified === 0) throw new NoteError('NoKnownSignature', 'the checkpoint has no signature by the board key');
  return { ...cp, note, text: note.text, bytes: typeof bytes === 'string' ? enc(bytes) : bytes };
}

/** Witness keys: cosignature/v1 key IDs use signature type 0x04. */
export function witnessKeyId(name, key) {
  return keyId(name, 0x04, key);
}

/** The message a witness signs: "cosignature/v1\ntime <t>\n" ‖ checkpoint text. */
export function cosignatureMessage(timestamp, text) {
  return concat(enc(`cosignature/v1\ntime ${BigInt(timestamp)}\n`), typeof text === 'string' ? enc(text) : text);
}

/**
 * Checks the cosignatures of a parsed note against the expected witnesses
 * [{name, key}]. Returns one result per witness: {name, status:
 * 'verified'|'invalid'|'missing', timestamp?}. A witness with several lines is
 * 'verified' only if all of them verify.
 */
export function checkCosignatures(note, witnesses) {
  return witnesses.map((w) => {
    let id;
    try {
      id = witnessKeyId(w.name, w.key);
    } catch {
      return { name: w.name, status: 'invalid', reason: 'the manifest key is malformed' };
    }
    const lines = note.signatures.filter((s) => s.name === w.name && s.id === id);
    if (lines.length === 0) return { name: w.name, status: 'missing' };
    let timestamp = null;
    for (const s of lines) {
      if (s.sig.length !== 72) return { name: w.name, status: 'invalid', reason: 'a cosignature is not 72 bytes' };
      const view = new DataView(s.sig.buffer, s.sig.byteOffset, 8);
      const t = view.getBigUint64(0);
      if (!ed25519VerifyStrict(s.sig.subarray(8), cosignatureMessage(t, note.textBytes), w.key)) {
        return { name: w.name, status: 'invalid', reason: 'the cosignature does not verify' };
      }
      if (timestamp === null || t > timestamp) timestamp = t;
    }
    return { name: w.name, status: 'verified', timestamp: Number(timestamp) };
  });
}

/** Parses a C2SP tlog-proof (spec/tlog.md §8.1). The checkpoint is returned unopened. */
export function parseTlogProof(bytes) {
  if (typeof bytes === 'string') bytes = enc(bytes);
  if (bytes.length > MAX_TLOG_PROOF_SIZE) throw new NoteError('TooLarge', 'the tlog-proof is too large');
  let str;
  try {
    str = dec(bytes);
  } catch {
    throw new NoteError('Malformed', 'the tlog-proof is not UTF-8');
  }
  let pos = 0;
  const line = () => {
    const nl = str.indexOf('\n', pos);
    if (nl < 0) throw new NoteError('Truncated', 'the tlog-proof is truncated');
    const l = str.slice(pos, nl);
    pos = nl + 1;
    return l;
  };
  if (line() !== 'c2sp.org/tlog-proof@v1') throw new NoteError('Malformed', 'not a c2sp.org/tlog-proof@v1');
  let l = line();
  let extra = null;
  if (l.startsWith('extra ')) {
    extra = fromBase64(l.slice(6));
    if (!extra) throw new NoteError('Malformed', 'the extra data is not base64');
    l = line();
  }
  if (!l.startsWith('index ')) throw new NoteError('Malformed', 'the tlog-proof has no index line');
  const index = parseDecimal(l.slice(6));
  if (index === null || index > BigInt(Number.MAX_SAFE_INTEGER)) throw new NoteError('Malformed', 'the index is not a decimal');
  const proof = [];
  for (;;) {
    l = line();
    if (l === '') break;
    if (proof.length >= MAX_PROOF_HASHES) throw new NoteError('Malformed', 'more than 64 proof hashes');
    const h = fromBase64(l);
    if (!h || h.length !== 32) throw new NoteError('Malformed', 'a proof hash is not base64 of 32 bytes');
    proof.push(h);
  }
  const checkpoint = bytes.subarray(enc(str.slice(0, pos)).length);
  parseCheckpointText(parseNote(checkpoint).text);
  return { extra, index: Number(index), proof, checkpoint };
}

export { toHex, fromHex, equal };
