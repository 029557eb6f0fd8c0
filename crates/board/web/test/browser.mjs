#!/usr/bin/env node
// Drives the board explorer in headless Chromium for tests.
//
//   node test/browser.mjs --url http://127.0.0.1:PORT/ [--screenshots DIR] [--width 1280 --height 900]
//
// One browser context for the whole run (so localStorage persists across
// reloads). Reads one JSON command per line on stdin and answers one JSON
// line on stdout per command: {"ok":true,...} or {"ok":false,"error":"..."}.
// Everything else (page console errors, exceptions, logs) goes to stderr.
//
// Commands:
//   {"cmd":"load"}                          -> {"ok":true,"size":N,"title":"..."}
//   {"cmd":"goto","path":"?key=..."}         -> the page at URL+path (relative), once loaded or warned: like state
//   {"cmd":"wait_connection","contains":"..."} -> once the connection line contains the text: like state
//   {"cmd":"reload"}                        -> {"ok":true,"size":N,"title":"...","fork":bool,"warning":"..."}
//   {"cmd":"wait_size","size":N,"timeout_ms":T} -> {"ok":true,"size":N,"ballots":{"district":count,...}}
//   {"cmd":"lookup","tracker":"<hex>"}      -> {"ok":true,"status":"verified"|"not-found"|"invalid"|"error","index":N|null,"message":"..."}
//   {"cmd":"receipt","path":"FILE"}         -> like lookup, for a receipt file
//   {"cmd":"wait_fork","timeout_ms":T}      -> {"ok":true,"warning":"..."}
//   {"cmd":"cosigners"}                     -> {"ok":true,"witnesses":["name",...]}
//   {"cmd":"entries"}                       -> {"ok":true,"entries":[{"index":N,"type":"ballot","tracker":"<hex>"},...]} (the page's current list)
//   {"cmd":"state"}                         -> the page's checkpoint status, size, title, warning, connection
//   {"cmd":"viewport","width":W,"height":H} -> {"ok":true}
//   {"cmd":"screenshot","name":"x","full_page":true} -> {"ok":true,"path":"DIR/x.png"}
//   {"cmd":"quit"}                          -> {"ok":true}, then exits

import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const url = arg('url');
const shots = resolve(arg('screenshots', 'test-output/screenshots'));
const width = Number(arg('width', 1280));
const height = Number(arg('height', 900));
const DEFAULT_TIMEOUT = Number(arg('timeout-ms', 30000));
if (!url) {
  console.error('usage: node test/browser.mjs --url URL [--screenshots DIR]');
  process.exit(2);
}

const log = (...a) => console.error('[browser]', ...a);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width, height } });
const page = await context.newPage();
let pageErrors = [];
page.on('console', (m) => {
  if (m.type() === 'error' || m.type() === 'warning') log(`console.${m.type()}:`, m.text());
});
page.on('pageerror', (e) => {
  pageErrors.push(String(e && e.stack ? e.stack : e));
  log('page error:', e && e.stack ? e.stack : e);
});
page.on('requestfailed', (r) => log('request failed:', r.method(), r.url(), r.failure() && r.failure().errorText));

async function pageState() {
  return page.evaluate(() => {
    const cp = document.getElementById('checkpoint');
    const fw = document.getElementById('fork-warning');
    const kw = document.getElementById('key-warning');
    const warn = [];
    if (!fw.hidden) warn.push(fw.querySelector('h2').textContent + ': ' + document.getElementById('fork-warning-text').textContent);
    if (!kw.hidden) warn.push(document.getElementById('key-warning-title').textContent + ': ' + document.getElementById('key-warning-text').textContent);
    return {
      status: cp.dataset.status,
      size: cp.dataset.size === '' ? null : Number(cp.dataset.size),
      title: document.getElementById('election-title').textContent,
      loaded: document.getElementById('election').dataset.loaded === 'true',
      fork: !fw.hidden,
      warning: warn.join('\n'),
      connection: document.getElementById('connection-text').textContent,
      count: Number(document.getElementById('entries').dataset.count),
      fatal: document.body.dataset.fatal || '',
    };
  });
}

// Waits until the manifest and a verified checkpoint are shown, or a warning.
async function waitLoaded(timeout) {
  await page.waitForFunction(
    () => {
      const cp = document.getElementById('checkpoint');
      const loaded = document.getElementById('election').dataset.loaded === 'true';
      const warned = !document.getElementById('fork-warning').hidden || !document.getElementById('key-warning').hidden;
      return (loaded && cp.dataset.status === 'verified') || (loaded && warned) || cp.dataset.status === 'untrusted' || !!document.body.dataset.fatal;
    },
    null,
    { timeout, polling: 100 },
  );
  const s = await pageState();
  if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join(' | ')}`);
  if (s.fatal) throw new Error(`the page failed: ${s.fatal}`);
  return s;
}

const commands = {
  async load(c) {
    pageErrors = [];
    await page.goto(url, { waitUntil: 'load' });
    const s = await waitLoaded(c.timeout_ms || DEFAULT_TIMEOUT);
    if (s.status !== 'verified' && !s.warning) throw new Error(`checkpoint not verified (${s.status}); ${s.connection}`);
    return { size: s.size, title: s.title, status: s.status, fork: s.fork, warning: s.warning };
  },
  async goto(c) {
    pageErrors = [];
    await page.goto(new URL(c.path || '', url).href, { waitUntil: 'load' });
    await waitLoaded(c.timeout_ms || DEFAULT_TIMEOUT);
    return pageState();
  },
  async wait_connection(c) {
    const want = c.contains;
    await page.waitForFunction((w) => document.getElementById('connection-text').textContent.includes(w), want, { timeout: c.timeout_ms || DEFAULT_TIMEOUT, polling: 100 });
    return pageState();
  },
  async reload(c) {
    pageErrors = [];
    await page.reload({ waitUntil: 'load' });
    const s = await waitLoaded(c.timeout_ms || DEFAULT_TIMEOUT);
    // A fork shows up once the consistency proof is checked: give it a moment.
    if (!s.fork) {
      await page.waitForFunction(() => !document.getElementById('fork-warning').hidden, null, { timeout: c.settle_ms ?? 1500 }).catch(() => {});
    }
    const t = await pageState();
    return { size: t.size, title: t.title, status: t.status, fork: t.fork, warning: t.warning };
  },
  async wait_size(c) {
    const n = c.size;
    await page.waitForFunction(
      (n) => {
        const cp = document.getElementById('checkpoint');
        return cp.dataset.status === 'verified' && Number(cp.dataset.size) >= n && Number(document.getElementById('entries').dataset.count) >= n;
      },
      n,
      { timeout: c.timeout_ms || DEFAULT_TIMEOUT, polling: 100 },
    );
    // Counts render on the next animation frame after the entries.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const ballots = await page.evaluate(() => {
      const o = {};
      for (const tr of document.querySelectorAll('#counts tbody tr[data-district]')) o[tr.dataset.district] = Number(tr.dataset.ballots);
      return o;
    });
    const challenged = await page.evaluate(() => {
      const o = {};
      for (const tr of document.querySelectorAll('#counts tbody tr[data-district]')) o[tr.dataset.district] = Number(tr.dataset.challenged);
      return o;
    });
    const s = await pageState();
    return { size: s.size, count: s.count, ballots, challenged };
  },
  async lookup(c) {
    const input = page.locator('#tracker-input');
    await input.click();
    await input.fill('');
    if (c.tracker.length > 200) await input.fill(c.tracker);
    else await input.pressSequentially(c.tracker, { delay: 0 });
    await page.evaluate(() => {
      const r = document.getElementById('tracker-result');
      r.dataset.status = '';
    });
    await input.press('Enter');
    return trackerResult(c);
  },
  async receipt(c) {
    await page.evaluate(() => {
      document.getElementById('tracker-result').dataset.status = '';
    });
    await page.locator('#receipt-file').setInputFiles(c.path);
    return trackerResult(c);
  },
  async wait_fork(c) {
    await page.waitForFunction(() => !document.getElementById('fork-warning').hidden, null, { timeout: c.timeout_ms || DEFAULT_TIMEOUT, polling: 100 });
    const s = await pageState();
    return { warning: s.warning, kind: await page.getAttribute('#fork-warning', 'data-kind') };
  },
  async cosigners() {
    const witnesses = await page.evaluate(() => [...document.querySelectorAll('#cosigners li[data-status="verified"]')].map((li) => li.dataset.witness));
    const all = await page.evaluate(() => [...document.querySelectorAll('#cosigners li[data-witness]')].map((li) => ({ name: li.dataset.witness, status: li.dataset.status })));
    return { witnesses, all };
  },
  async viewport(c) {
    await page.setViewportSize({ width: c.width, height: c.height || 844 });
    return {};
  },
  async screenshot(c) {
    if (!/^[A-Za-z0-9._-]+$/.test(c.name || '')) throw new Error('screenshot name must be [A-Za-z0-9._-]+');
    mkdirSync(shots, { recursive: true });
    const path = join(shots, `${c.name}.png`);
    await page.screenshot({ path, fullPage: c.full_page !== false });
    return { path };
  },
  async entries() {
    const entries = await page.evaluate(() => [...document.querySelectorAll('#entries tbody tr[data-index]')].map((tr) => ({ index: Number(tr.dataset.index), type: tr.dataset.type, tracker: tr.dataset.tracker })));
    return { entries };
  },
  async state() {
    return pageState();
  },
};

async function trackerResult(c) {
  await page.waitForFunction(
    () => {
      const s = document.getElementById('tracker-result').dataset.status;
      return s && s !== 'checking';
    },
    null,
    { timeout: c.timeout_ms || DEFAULT_TIMEOUT, polling: 50 },
  );
  return page.evaluate(() => {
    const r = document.getElementById('tracker-result');
    return {
      status: r.dataset.status,
      index: r.dataset.index === '' ? null : Number(r.dataset.index),
      message: r.querySelector('.status') ? r.querySelector('.status').textContent.trim() : '',
    };
  });
}

const rl = createInterface({ input: process.stdin });
let queue = Promise.resolve();
let quitting = false;

async function quit(code = 0) {
  if (quitting) return;
  quitting = true;
  await browser.close().catch(() => {});
  process.exit(code);
}

rl.on('line', (line) => {
  queue = queue.then(async () => {
    if (!line.trim()) return;
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      out({ ok: false, error: `not JSON: ${e.message}` });
      return;
    }
    if (c.cmd === 'quit') {
      out({ ok: true });
      await quit(0);
      return;
    }
    const fn = commands[c.cmd];
    if (!fn) {
      out({ ok: false, error: `unknown command "${c.cmd}"` });
      return;
    }
    try {
      out({ ok: true, ...(await fn(c)) });
    } catch (e) {
      let state = null;
      try {
        state = await pageState();
      } catch {
        /* the page may be gone */
      }
      log(`${c.cmd} failed:`, e && e.message ? e.message : e, state ? JSON.stringify(state) : '');
      out({ ok: false, error: `${e && e.message ? e.message.split('\n')[0] : e}${state ? ` (page: ${state.status}, size ${state.size}, ${state.connection})` : ''}` });
    }
  });
});
rl.on('close', () => {
  queue.then(() => quit(0));
});
process.on('SIGTERM', () => quit(0));
