#!/usr/bin/env node
// Writes the cast-receipt file (spec/client.md §5.2) of one board entry, made
// from the board's own answers, for testing the page's receipt check.
//
//   node test/make-receipt.mjs --url http://127.0.0.1:PORT --index N [--tamper] > receipt.txt

import { loadRoot, Schema } from '../src/lib/proto.js';
import { BoardApi } from '../src/app/api.js';
import { toHex, toBase64, dec } from '../src/lib/bytes.js';
import { leafHash } from '../src/lib/merkle.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const arg = (n) => {
  const i = process.argv.indexOf(`--${n}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../../proto/tallyboard/v1');
const schema = new Schema(loadRoot(readFileSync(join(dir, 'board.proto'), 'utf8'), readFileSync(join(dir, 'entries.proto'), 'utf8')));
const api = new BoardApi(schema, { base: arg('url').replace(/\/$/, '') });
const index = Number(arg('index'));
const cp = await api.getCheckpoint();
const page = await api.listEntries(index, 1);
const bytes = page.entries[0].entry;
const { body } = schema.decodeEntry(bytes);
const proof = await api.getInclusionProof(index, cp.tree_size);
// The board's signature line only: a receipt carries the board's checkpoint.
const note = dec(cp.checkpoint).split('\n\n')[0] + '\n\n' + dec(cp.checkpoint).split('\n\n')[1].split('\n').filter((l) => l.startsWith(`\u2014 ${dec(cp.checkpoint).split('\n')[0]} `)).join('\n') + '\n';
let tracker = toHex(leafHash(bytes));
if (process.argv.includes('--tamper')) tracker = tracker.slice(0, 63) + (tracker[63] === '0' ? '1' : '0');
process.stdout.write(
  `tallyboard/v1/cast-receipt\nelection ${toHex(body.election_fingerprint)}\ntracker ${tracker}\nindex ${index}\n\n` +
    `c2sp.org/tlog-proof@v1\nindex ${index}\n${proof.proof.map((p) => toBase64(p) + '\n').join('')}\n${note}`,
);
