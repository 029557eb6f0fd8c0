// The page: renders what the explorer reports. Elements are built with the
// DOM API (never from HTML strings), so text from the board stays text.

import { toHex, toBase64 } from '../lib/bytes.js';

const $ = (id) => document.getElementById(id);

/** h('p', {class: 'x'}, 'text', child…) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A column header with a short form for narrow screens (the long one stays for screen readers). */
function th(long, short, cls) {
  if (!short) return h('th', { scope: 'col', class: cls }, long);
  return h('th', { scope: 'col', class: cls }, h('span', { class: 'long' }, long), h('span', { class: 'short', 'aria-hidden': 'true' }, short));
}

/** A horizontally scrollable box, reachable by keyboard. */
function scroller(label, child) {
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': label }, child);
}

export function abbrev(hex) {
  return hex.length > 20 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}

/** A hash shown abbreviated, the full value one click (or Enter) away. */
function hashCell(hex) {
  return h('details', { class: 'hash' }, h('summary', null, h('code', null, abbrev(hex)), h('span', { class: 'sr-only' }, ' (show the full tracker)')), h('code', { class: 'wrapcode full' }, hex));
}

const TYPE_LABELS = {
  manifest: 'Manifest',
  phase_change: 'Phase change',
  dkg: 'Key ceremony',
  election_key: 'Election key',
  issuance: 'Credential issued',
  ballot: 'Ballot',
  challenged_ballot: 'Challenged ballot',
  encrypted_tally: 'Encrypted tally',
  partial_decryption: 'Partial decryption',
  result: 'Result',
  caucus_viability: 'Caucus viability',
  caucus_apportionment: 'Caucus apportionment',
  notice: 'Notice',
  undecodable: 'Undecodable entry',
  empty: 'Entry without payload',
};

export function typeLabel(t) {
  return TYPE_LABELS[t] || t;
}

const PHASE_LABELS = {
  PHASE_UNSPECIFIED: 'not started',
  KEY_CEREMONY: 'key ceremony',
  VOTING_OPEN: 'voting open',
  VOTING_CLOSED: 'voting closed',
  REALIGNMENT_OPEN: 'realignment open',
  REALIGNMENT_CLOSED: 'realignment closed',
  FINISHED: 'finished',
};

const PAGE = 50;

export class View {
  constructor() {
    this.explorer = null;
    this.dirty = new Set();
    this.frame = 0;
    this.page = { newestFirstOffset: 0, filter: 'all' };
    this.lastSummary = 0;
    this.vkey = '';
  }

  attach(explorer) {
    this.explorer = explorer;
  }

  schedule(what) {
    this.dirty.add(what);
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        const d = this.dirty;
        this.dirty = new Set();
        try {
          if (d.has('election')) this.renderElection();
          if (d.has('entries')) {
            this.renderEntries();
            this.renderCounts();
          }
          this.renderSummary();
        } catch (e) {
          console.error('rendering failed', e);
          this.connection('error', `The page could not show what the board sent: ${e.message}`);
        }
      });
    }
  }

  // ---- reports from the explorer ---------------------------------------

  connection(state, text, retry) {
    const p = $('connection');
    p.dataset.state = state;
    $('connection-text').textContent = text;
    const b = $('retry');
    b.hidden = !retry;
    b.onclick = retry || null;
  }

  boardClaims(cp) {
    $('cp-origin').textContent = cp.origin;
    $('cp-size').textContent = `${cp.size} (claimed, not verified yet)`;
  }

  boardKey(vkey, pinned) {
    this.vkey = vkey;
    $('board-key').textContent = vkey;
    $('board-key-pinned').textContent = pinned ? '(pinned: matches)' : '(from the manifest; not pinned)';
    $('verify-command').textContent = `tallyboard verify --board ${location.origin} --board-key '${vkey}'`;
  }

  checkpoint(cp, status) {
    const s = $('checkpoint');
    s.dataset.status = status;
    s.dataset.size = String(cp.size);
    $('cp-origin').textContent = cp.origin;
    $('cp-size').textContent = String(cp.size);
    $('cp-root-hex').textContent = cp.rootHex;
    $('cp-root-b64').textContent = cp.rootB64;
    $('cp-note').textContent = cp.noteText;
    $('checkpoint-status').textContent =
      status === 'verified'
        ? `Verified: signed by the board key, and the root of the ${cp.size} entries this page hashed itself.`
        : 'Signature and root verified, but see the warning at the top of the page.';
    $('checkpoint-status').className = `status ${status === 'verified' ? 'ok' : 'bad'}`;
    this.schedule('summary');
  }

  check(name, status, text) {
    const li = document.querySelector(`#checks-list li[data-check="${name}"]`);
    if (!li) return;
    if (li.dataset.status === 'fail' && status !== 'fail') return; // a failure stands
    li.dataset.status = status;
    li.querySelector('span').textContent = text;
  }

  alarm(a) {
    const s = $('fork-warning');
    s.dataset.kind = a.kind;
    const titles = {
      fork: 'The board forked: it showed this browser a different history',
      shrink: 'The board shrank: entries this browser saw are gone',
      mismatch: 'The board sent inconsistent data',
      'bad-signature': 'The board sent a checkpoint with a bad signature',
    };
    $('fork-warning-title').textContent = titles[a.kind] || 'The board misbehaved';
    $('fork-warning-text').textContent = a.message;
    $('fork-older').textContent = a.older ? describeCp(a.older) : '(none)';
    $('fork-newer').textContent = a.newer ? describeCp(a.newer) : '(none)';
    s.hidden = false;
    // Bring the warning into view and give it the focus, so that neither a
    // reader scrolled down nor a screen-reader user can miss it.
    s.setAttribute('tabindex', '-1');
    s.scrollIntoView({ block: 'start' });
    s.focus({ preventScroll: true });
    $('forget').onclick = () => {
      if (confirm('Forget the checkpoint this browser remembered for this board? The evidence above will be lost when you reload.')) {
        this.explorer.forget();
        location.reload();
      }
    };
  }

  halted(hd) {
    if (hd.kind === 'key-mismatch') {
      $('key-warning-text').textContent = hd.message;
      $('key-warning-pinned').textContent = hd.pinned;
      $('key-warning-manifest').textContent = hd.manifest;
      $('key-warning').hidden = false;
    } else {
      $('key-warning-title').textContent = 'This board cannot be checked';
      $('key-warning-text').textContent = hd.message;
      $('key-warning').querySelector('.evidence').hidden = true;
      $('key-warning').hidden = false;
    }
    $('checkpoint').dataset.status = 'untrusted';
    $('checkpoint-status').textContent = 'Not trusted: see the warning at the top.';
    $('checkpoint-status').className = 'status bad';
    this.connection('error', 'Stopped: nothing from this board is trusted.');
  }

  cosigners(info) {
    const box = $('cosigners');
    box.replaceChildren();
    if (info.error) {
      box.append(h('p', { class: 'status bad' }, `Could not get the cosigned checkpoint: ${info.error}`));
      return;
    }
    const { results, witnesses } = info;
    box.dataset.verified = results.filter((r) => r.status === 'verified').map((r) => r.name).join('\n');
    if (!witnesses.length) {
      box.append(h('p', { class: 'muted' }, 'The manifest names no witnesses, so no checkpoint is cosigned.'));
      return;
    }
    box.append(
      h('p', null, info.size === null ? 'No witness has cosigned a checkpoint yet.' : `Newest cosigned checkpoint: size ${info.size}.`),
      h(
        'ul',
        { class: 'cosigners' },
        results.map((r) =>
          h(
            'li',
            { 'data-witness': r.name, 'data-status': r.status },
            h('span', { class: `badge ${r.status}` }, { verified: 'cosigned ✓', invalid: 'INVALID', missing: 'not cosigned' }[r.status]),
            ' ',
            h('code', null, r.name),
            r.status === 'verified' ? h('span', { class: 'muted' }, ` at ${new Date(r.timestamp * 1000).toISOString().replace('.000Z', 'Z')}`) : null,
            r.reason ? h('span', { class: 'muted' }, ` (${r.reason})`) : null,
          ),
        ),
      ),
    );
    const missing = results.filter((r) => r.status === 'missing').map((r) => r.name);
    if (missing.length && info.size !== null) box.append(h('p', { class: 'hint' }, `Expected but not cosigned: ${missing.join(', ')}.`));
    if (info.extra && info.extra.length) box.append(h('p', { class: 'hint' }, `Ignored signatures by keys not in the manifest: ${info.extra.join(', ')}.`));
  }

  electionChanged() {
    this.schedule('election');
  }

  entriesChanged() {
    this.schedule('entries');
  }

  // ---- rendering -------------------------------------------------------

  renderSummary() {
    const ex = this.explorer;
    if (!ex) return;
    const now = Date.now();
    let ballots = 0;
    for (const c of ex.state.counts.values()) ballots += c.ballots + c.round1;
    const cp = ex.latest ? `; checkpoint verified at ${ex.latest.size}` : '';
    const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    const text = `${plural(ex.leaves.size, 'entry', 'entries')}, ${plural(ballots, 'ballot', 'ballots')}${cp}.`;
    // Screen readers hear the live counters at most every few seconds.
    if (now - this.lastSummary > 3000 || !$('live-summary').textContent) {
      $('live-summary').textContent = text;
      this.lastSummary = now;
    } else if (!this.summaryTimer) {
      this.summaryTimer = setTimeout(() => {
        this.summaryTimer = 0;
        this.schedule('summary');
      }, 3000);
    }
  }

  renderElection() {
    const ex = this.explorer;
    const m = ex.manifest;
    if (!m) return;
    const st = ex.state;
    document.title = `${m.title} — board explorer`;
    $('election-title').textContent = m.title;
    const phase = ex.schema.phaseName(st.phase);
    const districtName = (id) => (m.districts.find((d) => d.id === id) || { name: id }).name;
    const body = $('election-body');
    body.replaceChildren(
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'Election id'), h('dd', null, h('code', null, m.election_id)),
        h('dt', null, 'Phase'), h('dd', { id: 'phase', 'data-phase': phase }, PHASE_LABELS[phase] || phase, st.phaseIndex >= 0 ? h('span', { class: 'muted' }, ` (entry ${st.phaseIndex})`) : null),
        h('dt', null, 'Kind'), h('dd', null, m.caucus ? `caucus (${m.caucus.viability_rule || 'idp-2020'} rules)` : 'election'),
        h('dt', null, 'Trustees'), h('dd', null, m.trustees ? `${m.trustees.threshold} of ${m.trustees.trustees.length} must cooperate to decrypt: ${m.trustees.trustees.map((t) => t.name).join(', ')}` : '—'),
        h('dt', null, 'Witnesses'), h('dd', null, m.witnesses.length ? m.witnesses.map((w) => w.name).join(', ') : 'none'),
      ),
      h('h3', null, `Districts (${m.districts.length})`),
      h('ul', { class: 'inline-list' }, m.districts.map((d) => h('li', null, d.name, h('span', { class: 'muted' }, ` (${d.id}${m.caucus && d.delegates ? `, ${d.delegates} delegates` : ''})`)))),
      h('h3', null, `Contests (${m.contests.length})`),
      ...m.contests.map((c) =>
        h(
          'div',
          { class: 'contest' },
          h('h4', null, c.title, h('span', { class: 'muted' }, ` (${c.id}${c.districts.length ? `; in ${c.districts.map(districtName).join(', ')}` : ''}; ${ruleText(c.rule)})`)),
          h('ol', { class: 'inline-list' }, c.options.map((o) => h('li', null, o.title))),
        ),
      ),
    );
    $('election').dataset.loaded = 'true';
    this.renderResults();
    this.renderCaucus();
    this.renderNotices();
  }

  renderNotices() {
    const n = this.explorer.state.notices;
    $('notices-section').hidden = n.length === 0;
    $('notices').replaceChildren(...n.slice(-20).reverse().map((x) => h('li', null, h('span', { class: 'muted' }, `#${x.index} `), x.text)));
  }

  renderResults() {
    const ex = this.explorer;
    const m = ex.manifest;
    const results = ex.state.results;
    $('result').hidden = results.length === 0;
    if (!results.length) return;
    const body = $('result-body');
    body.replaceChildren();
    const districtName = (id) => (id ? (m.districts.find((d) => d.id === id) || { name: id }).name : 'all districts');
    for (const { index, result } of results) {
      const tally = ex.state.tallies.get(result.tally_entry);
      const round = tally ? tally.round : 0;
      const title = m.caucus ? (round === 0 ? 'First alignment' : 'Final alignment') : 'Result';
      body.append(h('h3', null, title, h('span', { class: 'muted' }, ` (entry ${index}, from the tally at entry ${result.tally_entry}; trustees ${result.trustees_used.join(', ')})`)));
      const byContest = new Map();
      for (const cr of result.contests) {
        if (!byContest.has(cr.contest)) byContest.set(cr.contest, []);
        byContest.get(cr.contest).push(cr);
      }
      for (const [cid, rows] of byContest) {
        const c = m.contests.find((x) => x.id === cid) || { title: cid, options: [] };
        const districts = rows.map((r) => r.district);
        const showDistricts = districts.length > 1 || districts[0] !== '';
        body.append(
          scroller(`${title}: ${c.title}`,
            h(
              'table',
              { class: 'result', 'data-contest': cid, 'data-entry': index },
              h('caption', null, c.title),
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Option'), showDistricts ? rows.map((r) => h('th', { scope: 'col', class: 'num' }, districtName(r.district))) : h('th', { scope: 'col', class: 'num' }, 'Votes'), showDistricts ? h('th', { scope: 'col', class: 'num' }, 'Total') : null)),
              h(
                'tbody',
                null,
                (c.options.length ? c.options : rows[0].counts.map((_, i) => ({ title: `option ${i + 1}` }))).map((o, i) =>
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'row' }, o.title),
                    rows.map((r) => h('td', { class: 'num' }, String(r.counts[i] ?? '—'))),
                    showDistricts ? h('td', { class: 'num total' }, String(rows.reduce((a, r) => a + (r.counts[i] || 0), 0))) : null,
                  ),
                ),
              ),
            ),
          ),
        );
      }
    }
  }

  renderCaucus() {
    const ex = this.explorer;
    const m = ex.manifest;
    if (!m.caucus) {
      $('caucus').hidden = true;
      return;
    }
    $('caucus').hidden = false;
    const st = ex.state;
    const contest = m.contests.find((c) => c.id === m.caucus.alignment_contest);
    const body = $('caucus-body');
    if (!contest) {
      body.replaceChildren(h('p', { class: 'status bad' }, `The manifest's alignment contest "${m.caucus.alignment_contest}" is not one of its contests.`));
      return;
    }
    const resultOfRound = (round) => {
      const r = st.results.find(({ result }) => (st.tallies.get(result.tally_entry) || {}).round === round);
      return r ? r.result : null;
    };
    const first = resultOfRound(0);
    const final = resultOfRound(1);
    const countsIn = (res, d) => {
      const cr = res && res.contests.find((x) => x.contest === contest.id && x.district === d);
      return cr ? cr.counts : null;
    };
    const districts = contest.districts.length ? m.districts.filter((d) => contest.districts.includes(d.id)) : m.districts;
    const viab = st.viability ? st.viability.value : null;
    const app = st.apportionment ? st.apportionment.value : null;
    const parts = [
      h('p', null, 'For each precinct, the numbers the Iowa Democratic Party publishes: the first alignment, the final alignment after realignment, and the delegates (with state delegate equivalents, SDEs) each group won. ', !first ? 'The first alignment is not decrypted yet.' : null),
    ];
    if (app) parts.push(h('p', null, 'Coin seed of the apportionment: ', h('code', { class: 'wrapcode', id: 'coin-seed' }, toHex(app.coin_seed))));
    for (const d of districts) {
      const f = countsIn(first, d.id);
      const fin = countsIn(final, d.id);
      const v = viab && viab.districts.find((x) => x.district === d.id);
      const a = app && app.districts.find((x) => x.district === d.id);
      parts.push(
        h(
          'div',
          { class: 'precinct', 'data-district': d.id },
          h('h3', null, d.name, h('span', { class: 'muted' }, ` (${d.id}; ${d.delegates} delegates, ${d.sde_weight || '0'} SDEs)`)),
          v ? h('p', null, `${v.participants} participants; viability threshold ${v.threshold}.`) : null,
          scroller(`Caucus results in ${d.name}`,
            h(
              'table',
              { class: 'caucus' },
              h('caption', { class: 'sr-only' }, `Caucus results in ${d.name}`),
              h('thead', null, h('tr', null, th('Group'), th('First alignment', '1st', 'num'), th('Viable', 'Via.'), th('Final alignment', 'Final', 'num'), th('Delegates', 'Del.', 'num'), th('SDEs', 'SDE', 'num'))),
              h(
                'tbody',
                null,
                contest.options.map((o, i) =>
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'row' }, o.title),
                    h('td', { class: 'num' }, f ? String(f[i]) : '—'),
                    h('td', null, v ? (v.viable[i] ? 'yes' : 'no') : '—'),
                    h('td', { class: 'num' }, fin ? String(fin[i]) : '—'),
                    h('td', { class: 'num' }, a ? String(a.delegates[i] ?? '—') : '—'),
                    h('td', { class: 'num' }, a ? a.sde[i] ?? '—' : '—'),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    }
    body.replaceChildren(...parts);
  }

  renderCounts() {
    const ex = this.explorer;
    const m = ex.manifest;
    const counts = ex.state.counts;
    const caucus = !!(m && m.caucus);
    const head = $('counts-head');
    if (!head.firstChild || head.dataset.caucus !== String(caucus)) {
      head.dataset.caucus = String(caucus);
      head.replaceChildren(h('tr', null, th('District'), caucus ? th('First-alignment ballots', '1st', 'num') : th('Ballots', null, 'num'), caucus ? th('Realignment ballots', 'Realign', 'num') : null, th('Challenged', 'Chal.', 'num')));
    }
    const ids = m ? m.districts.map((d) => d.id) : [];
    for (const id of counts.keys()) if (!ids.includes(id)) ids.push(id);
    const total = { ballots: 0, challenged: 0, round1: 0 };
    const rows = ids.map((id) => {
      const c = counts.get(id) || { ballots: 0, challenged: 0, round1: 0 };
      total.ballots += c.ballots;
      total.challenged += c.challenged;
      total.round1 += c.round1;
      const name = m ? (m.districts.find((d) => d.id === id) || { name: `${id} (not in the manifest)` }).name : id;
      return h('tr', { 'data-district': id, 'data-ballots': c.ballots + c.round1, 'data-challenged': c.challenged }, h('th', { scope: 'row' }, name), h('td', { class: 'num' }, String(c.ballots)), caucus ? h('td', { class: 'num' }, String(c.round1)) : null, h('td', { class: 'num' }, String(c.challenged)));
    });
    rows.push(h('tr', { class: 'total' }, h('th', { scope: 'row' }, 'Total'), h('td', { class: 'num' }, String(total.ballots)), caucus ? h('td', { class: 'num' }, String(total.round1)) : null, h('td', { class: 'num' }, String(total.challenged))));
    document.querySelector('#counts tbody').replaceChildren(...rows);
  }

  renderEntries() {
    const ex = this.explorer;
    const n = ex.leaves.size;
    const table = $('entries');
    table.dataset.count = String(n);
    const f = this.page.filter;
    const match = (s) => f === 'all' || s.type === f || (f === 'other' && s.type !== 'ballot' && s.type !== 'challenged_ballot');
    // Newest first; `offset` matching entries skipped from the newest.
    const picked = [];
    let skipped = 0;
    let total = 0;
    for (let i = n - 1; i >= 0; i--) {
      if (!match(ex.summaries[i])) continue;
      total++;
      if (skipped < this.page.newestFirstOffset) {
        skipped++;
        continue;
      }
      if (picked.length < PAGE) picked.push(i);
    }
    if (this.page.newestFirstOffset >= total && total > 0) {
      this.page.newestFirstOffset = Math.max(0, total - PAGE);
      return this.renderEntries();
    }
    const m = ex.manifest;
    const dname = (id) => (m && m.districts.find((d) => d.id === id)) || { name: id };
    const rows = picked.map((i) => {
      const s = ex.summaries[i];
      const hex = toHex(ex.leaves.get(i));
      let detail = s.type === 'phase_change' ? PHASE_LABELS[s.detail] || s.detail : s.detail;
      if (s.type === 'encrypted_tally' && !(m && m.caucus)) detail = detail.replace(/^round 0, /, '');
      if (s.district !== null && s.district !== undefined) detail = `${dname(s.district).name}${s.type === 'ballot' && m && m.caucus ? `, round ${s.round}` : ''}`;
      return h('tr', { 'data-index': i, 'data-type': s.type, 'data-tracker': hex }, h('td', { class: 'num' }, String(i)), h('td', null, typeLabel(s.type), detail ? h('span', { class: 'muted' }, ` · ${detail}`) : null), h('td', null, hashCell(hex)));
    });
    document.querySelector('#entries tbody').replaceChildren(...rows);
    const first = this.page.newestFirstOffset + 1;
    $('entries-range').textContent = total ? `Showing ${first}–${first + picked.length - 1} of ${total} (${f === 'all' ? 'all entries' : f.replace('_', ' ') + 's'}), newest first.` : 'Nothing to show yet.';
    $('page-newer').disabled = this.page.newestFirstOffset === 0;
    $('page-newest').disabled = this.page.newestFirstOffset === 0;
    $('page-older').disabled = this.page.newestFirstOffset + PAGE >= total;
  }

  pageBy(delta) {
    this.page.newestFirstOffset = delta === 0 ? 0 : Math.max(0, this.page.newestFirstOffset + delta * PAGE);
    this.renderEntries();
  }

  setFilter(f) {
    this.page.filter = f;
    this.page.newestFirstOffset = 0;
    this.renderEntries();
  }

  // ---- tracker results ---------------------------------------------------

  trackerResult(r) {
    const box = $('tracker-result');
    box.dataset.status = r.status;
    box.dataset.index = r.index === null || r.index === undefined ? '' : String(r.index);
    const head = {
      verified: 'Verified ✓',
      'not-found': 'Not on the board',
      invalid: 'Not a valid tracker',
      error: 'Could not verify',
      checking: 'Checking…',
    }[r.status];
    const kids = [h('p', { class: `status ${r.status === 'verified' ? 'ok' : r.status === 'checking' ? '' : 'bad'}` }, h('strong', null, head), r.message ? ` ${r.message}` : '')];
    if (r.status === 'verified') {
      kids.push(h('p', null, `Type: ${typeLabel(r.type)}${r.district ? ` (${r.district})` : ''}. The page checked that the entry hashes to this tracker and verified its inclusion proof against a checkpoint signed by the board key.`));
    }
    if (r.checks) kids.push(h('ul', { class: 'checklist' }, r.checks.map((c) => h('li', { 'data-ok': String(c.ok) }, h('span', { class: 'sr-only' }, c.ok ? 'passed: ' : 'failed: '), c.text))));
    box.replaceChildren(...kids);
    if (r.status === 'verified') this.check('tracker', 'ok', `Tracker at index ${r.index}: its inclusion proof verifies against the signed checkpoint.`);
  }
}

function ruleText(rule) {
  if (!rule) return 'one option';
  switch (rule.kindCase) {
    case 'one_of_n':
      return 'choose one';
    case 'k_of_n':
      return `choose ${rule.k_of_n.min}–${rule.k_of_n.max}`;
    case 'approval':
      return 'approve any';
    case 'points':
      return `up to ${rule.points.per_option_max} points each, ${rule.points.exact ? 'exactly' : 'at most'} ${rule.points.budget} in all`;
    default:
      return 'choose one';
  }
}

function describeCp(cp) {
  if (cp.noteText && cp.noteText.startsWith('(')) return `size ${cp.size}\nroot ${cp.rootB64}\n${cp.noteText}`;
  return cp.noteText || `size ${cp.size}\nroot ${cp.rootB64 || toBase64(cp.root)}`;
}
