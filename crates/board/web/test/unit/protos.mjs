// The project's .proto files, for tests (the bundle imports them as text).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { loadRoot, Schema } from '../../src/lib/proto.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../../../proto/tallyboard/v1');
export const boardProto = readFileSync(join(dir, 'board.proto'), 'utf8');
export const entriesProto = readFileSync(join(dir, 'entries.proto'), 'utf8');
export const schema = new Schema(loadRoot(boardProto, entriesProto));
