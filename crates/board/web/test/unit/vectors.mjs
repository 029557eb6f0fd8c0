// Where the shared transparency-log vectors are (override with TLOG_VECTORS).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [
  process.env.TLOG_VECTORS,
  join(here, '../../../../../../shared/data/tlog-vectors'),
  join(here, '../../../../../shared/data/tlog-vectors'),
].filter(Boolean);

export const VECTORS = candidates.find((p) => existsSync(join(p, 'README.md'))) || candidates[0];
