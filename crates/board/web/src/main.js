// The board explorer: entry point of app.js.

import { loadSchema } from './protos.js';
import { BoardApi } from './app/api.js';
import { Memory } from './app/memory.js';
import { Explorer } from './app/explorer.js';
import { View } from './app/view.js';
import { NoteVerifier } from './lib/note.js';
import { parseTracker, MAX_RECEIPT_FILE } from './lib/tracker.js';

const $ = (id) => document.getElementById(id);

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function showFatal(message) {
  document.body.dataset.fatal = message;
  const p = $('connection');
  if (p) {
    p.dataset.state = 'error';
    $('connection-text').textContent = message;
  }
}

window.addEventListener('error', (e) => showFatal(`The page failed: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showFatal(`The page failed: ${e.reason && e.reason.message ? e.reason.message : e.reason}`));

function main() {
  const memory = new Memory(storage());
  // A key pinned through ?key= is remembered like one typed in.
  const params = new URLSearchParams(location.search);
  const pinMsg = $('pin-message');
  if (params.has('key')) {
    try {
      memory.pinKey(NoteVerifier.fromVkey(params.get('key')).vkey);
    } catch (e) {
      pinMsg.textContent = `The key in the address (?key=) is not a verifier key: ${e.message}. It was not pinned.`;
    }
  }
  const pinned = memory.pinnedKey();
  if (pinned) $('pin-input').value = pinned;

  let schema;
  try {
    schema = loadSchema();
  } catch (e) {
    showFatal(`The page could not load the board's API description: ${e.message}`);
    return;
  }
  const view = new View();
  const explorer = new Explorer({ api: new BoardApi(schema), schema, memory, view, pinnedKey: pinned });
  view.attach(explorer);

  $('pin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    try {
      const v = NoteVerifier.fromVkey($('pin-input').value);
      memory.pinKey(v.vkey);
      pinMsg.textContent = `Pinned ${v.vkey}. Reloading to check the board against it…`;
      setTimeout(() => location.reload(), 300);
    } catch (err) {
      pinMsg.textContent = `Not a verifier key: ${err.message}`;
    }
  });
  $('pin-current').addEventListener('click', () => {
    if (!explorer.verifier) {
      pinMsg.textContent = 'The manifest has not been read yet.';
      return;
    }
    memory.pinKey(explorer.verifier.vkey);
    $('pin-input').value = explorer.verifier.vkey;
    $('board-key-pinned').textContent = '(pinned)';
    pinMsg.textContent = 'Pinned. This browser will warn you if this board ever shows another key.';
  });
  $('unpin').addEventListener('click', () => {
    memory.pinKey(null);
    memory.set('pinned-key', null);
    $('pin-input').value = '';
    pinMsg.textContent = 'No key is pinned now.';
  });

  let lookupSeq = 0;
  const run = async (promise) => {
    const seq = ++lookupSeq;
    view.trackerResult({ status: 'checking', index: null, message: '' });
    let r;
    try {
      r = await promise();
    } catch (e) {
      r = { status: 'error', index: null, message: e.message };
    }
    if (seq === lookupSeq) view.trackerResult(r);
  };
  $('tracker-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = parseTracker($('tracker-input').value);
    if (!t.ok) {
      view.trackerResult({ status: 'invalid', index: null, message: t.message });
      return;
    }
    run(() => explorer.lookup(t.hash));
  });
  $('receipt-file').addEventListener('change', (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    if (file.size > MAX_RECEIPT_FILE) {
      view.trackerResult({ status: 'invalid', index: null, message: 'This file is too large to be a receipt.' });
      return;
    }
    run(async () => explorer.checkReceipt(new Uint8Array(await file.arrayBuffer())));
  });
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('button[data-check-tracker]');
    if (b) {
      $('tracker-input').value = b.dataset.checkTracker;
      $('tracker-form').requestSubmit();
    }
  });

  $('entry-filter').addEventListener('change', (e) => view.setFilter(e.target.value));
  $('page-newest').addEventListener('click', () => view.pageBy(0));
  $('page-newer').addEventListener('click', () => view.pageBy(-1));
  $('page-older').addEventListener('click', () => view.pageBy(1));

  explorer.run();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
