// What a voter or observer pastes or loads: a ballot tracker, or a receipt
// file (spec/client.md §5.2).

import { fromHex, fromBase64, dec, enc, parseDecimal } from './bytes.js';
import { parseTlogProof, NoteError } from './note.js';

/** Pastes longer than this are refused without looking further. */
export const MAX_TRACKER_INPUT = 4096;
/** Receipt files larger than this are refused before reading. */
export const MAX_RECEIPT_FILE = 2 * 1024 * 1024;

/**
 * Parses a tracker: 64 hex digits or standard base64 of 32 bytes, surrounding
 * white space ignored. Returns {ok: true, hash} or {ok: false, message}.
 */
export function parseTracker(input) {
  if (typeof input !== 'string') return { ok: false, message: 'Enter a tracker.' };
  if (input.length > MAX_TRACKER_INPUT) {
    return { ok: false, message: `That is ${input.length} characters; a tracker is 64 hexadecimal characters. Nothing was sent.` };
  }
  const s = input.trim();
  if (s === '') return { ok: false, message: 'Enter a tracker: 64 hexadecimal characters.' };
  if (/^[0-9a-fA-F]{64}$/.test(s)) return { ok: true, hash: fromHex(s) };
  if (s.length === 44) {
    const b = fromBase64(s);
    if (b && b.length === 32) return { ok: true, hash: b };
  }
  if (/^[0-9a-fA-F]+$/.test(s)) {
    return { ok: false, message: `A tracker is 64 hexadecimal characters; this has ${s.length}.` };
  }
  if (s.startsWith('tallyboard/v1/cast-receipt')) {
    return { ok: false, message: 'This looks like a receipt file: load it with "Receipt file" instead.' };
  }
  return { ok: false, message: 'This is not a tracker: expected 64 hexadecimal characters (or base64 of 32 bytes).' };
}

export class ReceiptError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ReceiptError';
  }
}

/**
 * Parses a cast-receipt file: the four header lines, an empty line, then a
 * C2SP tlog-proof. Checks the header is exactly these lines and that the
 * tlog-proof names the same index. Signatures and proofs are checked later.
 */
export function parseReceiptFile(bytes) {
  if (typeof bytes === 'string') bytes = enc(bytes);
  if (bytes.length > MAX_RECEIPT_FILE) throw new ReceiptError('The file is too large to be a receipt.');
  let str;
  try {
    str = dec(bytes);
  } catch {
    throw new ReceiptError('The file is not text (UTF-8): not a receipt.');
  }
  const end = str.indexOf('\n\n');
  if (end < 0) throw new ReceiptError('The receipt has no empty line after its header.');
  const header = str.slice(0, end).split('\n');
  if (header.length !== 4) throw new ReceiptError(`The receipt header has ${header.length} lines; it must have 4.`);
  if (header[0] !== 'tallyboard/v1/cast-receipt') throw new ReceiptError('The file does not start with "tallyboard/v1/cast-receipt".');
  const m1 = /^election ([0-9a-f]{64})$/.exec(header[1]);
  if (!m1) throw new ReceiptError('The second line must be "election " and 64 lowercase hex digits.');
  const m2 = /^tracker ([0-9a-f]{64})$/.exec(header[2]);
  if (!m2) throw new ReceiptError('The third line must be "tracker " and 64 lowercase hex digits.');
  const m3 = /^index (0|[1-9][0-9]*)$/.exec(header[3]);
  const index = m3 ? parseDecimal(m3[1]) : null;
  if (index === null || index > BigInt(Number.MAX_SAFE_INTEGER)) throw new ReceiptError('The fourth line must be "index " and a decimal.');
  let proof;
  try {
    proof = parseTlogProof(bytes.subarray(enc(str.slice(0, end + 2)).length));
  } catch (e) {
    throw new ReceiptError(`The receipt's tlog-proof does not parse: ${e instanceof NoteError ? e.message : e}`);
  }
  if (proof.index !== Number(index)) {
    throw new ReceiptError(`The header says index ${index} but the tlog-proof says ${proof.index}.`);
  }
  return { election: fromHex(m1[1]), tracker: fromHex(m2[1]), index: Number(index), proof };
}
