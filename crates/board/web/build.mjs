// Builds the board explorer into dist/: index.html, app.js (one minified ES
// module) and app.css, the three files the board binary embeds.
//
//   node build.mjs            build into dist/
//   node build.mjs --check    build into a temporary directory and fail if dist/ differs
//   node build.mjs --out DIR  build into DIR

import * as esbuild from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const FILES = ['index.html', 'app.js', 'app.css'];

// protobufjs probes for optional Node modules through `eval`; under the
// page's Content-Security-Policy that is refused, so it gets a stub instead.
const noEval = {
  name: 'no-eval',
  setup(build) {
    build.onResolve({ filter: /^@protobufjs\/inquire$/ }, () => ({ path: 'inquire', namespace: 'stub' }));
    build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'module.exports = function inquire() { return null; };', loader: 'js' }));
  },
};

export async function build(out) {
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: ['src/main.js'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    charset: 'utf8',
    legalComments: 'eof',
    loader: { '.proto': 'text' },
    plugins: [noEval],
    write: false,
    logLevel: 'warning',
  });
  const js = result.outputFiles[0].contents;
  if (new TextDecoder().decode(js).match(/\beval\(|new Function\(/)) throw new Error('app.js would use eval, which the page CSP refuses');
  writeFileSync(join(out, 'app.js'), js);
  writeFileSync(join(out, 'index.html'), readFileSync(join(here, 'src/index.html')));
  writeFileSync(join(out, 'app.css'), readFileSync(join(here, 'src/app.css')));
}

const args = process.argv.slice(2);
if (args[0] === '--check') {
  const tmp = mkdtempSync(join(tmpdir(), 'tallyboard-web-'));
  try {
    await build(tmp);
    const dist = join(here, 'dist');
    const differ = FILES.filter((f) => !existsSync(join(dist, f)) || !readFileSync(join(dist, f)).equals(readFileSync(join(tmp, f))));
    const extra = existsSync(dist) ? readdirSync(dist).filter((f) => !FILES.includes(f)) : [];
    if (differ.length || extra.length) {
      console.error(`dist/ is out of date (${[...differ, ...extra.map((f) => `extra ${f}`)].join(', ')}): run \`npm run build\` and commit dist/`);
      process.exit(1);
    }
    console.log('dist/ is up to date');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  const out = args[0] === '--out' ? args[1] : join(here, 'dist');
  await build(out);
  console.log(`built ${FILES.map((f) => join(out, f)).join(', ')}`);
}
