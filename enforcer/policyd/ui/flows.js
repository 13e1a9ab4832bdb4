// flows.js — the flow table: newest first, polled from /api/v1/flows?since=, filtered by the
// page's URL (the same keys `netpol flows` takes), paused and resumed, capped.
import { el, api, activate, verdictBadge, setStatus } from './dom.js';
import { view, policyText, explainQuery, shortTime } from './records.js';
import { openWhy } from './why.js';

const FILTERS = [
  ['namespace', 'Namespace', 'any'],
  ['pod', 'Pod (either end)', 'ns/name prefix'],
  ['from-pod', 'From pod', 'ns/name prefix'],
  ['to-pod', 'To pod', 'ns/name prefix'],
  ['ip', 'IP or CIDR (either end)', 'any'],
  ['port', 'Port', 'any'],
  ['policy', 'Policy', 'ns/name'],
];
const COLS = ['Time', 'Source', 'Destination', 'Port', 'Direction', 'Verdict', 'Policy'];
const POLL_MS = 2000;

function filterForm(params, go) {
  const inputs = FILTERS.map(([k, label, ph]) =>
    el('label', {}, label, el('input', { name: k, value: params.get(k) || '', placeholder: ph, autocomplete: 'off' })));
  const verdict = el('select', { name: 'verdict' },
    ['', 'FORWARDED', 'DROPPED', 'AUDIT'].map((v) =>
      el('option', { value: v, selected: params.get('verdict') === v }, v || 'any')));
  const nopol = el('input', { type: 'checkbox', name: 'no-policy', checked: params.has('no-policy') });
  const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter flows' },
    inputs, el('label', {}, 'Verdict', verdict), el('label', { class: 'check' }, nopol, 'no policy'),
    el('button', { type: 'submit' }, 'Apply'),
    el('button', { type: 'button', onclick: () => go(new URLSearchParams({ view: 'flows' })) }, 'Clear'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams({ view: 'flows' });
    for (const [k, v] of new FormData(form)) if (v !== '') p.append(k, k === 'no-policy' ? '1' : v);
    if (params.get('cap')) p.set('cap', params.get('cap'));
    go(p);
  });
  return form;
}

// The filters in force, as chips (text only).
function chips(params) {
  const list = [...params].filter(([k]) => k !== 'view' && k !== 'cap');
  if (!list.length) return el('p', { class: 'chips muted' }, 'all flows');
  return el('p', { class: 'chips' }, 'filtered by ',
    list.map(([k, v]) => el('span', { class: 'chip' }, k === 'no-policy' ? 'no policy' : k + ': ' + v)));
}

function row(v) {
  const q = explainQuery(v);
  const pol = policyText(v);
  const tr = el('tr', { tabindex: q ? '0' : null, class: 'flow v-' + v.verdict.toLowerCase(), 'data-seq': v.seq },
    ...[
      el('td', { class: 'time' }, shortTime(v.time)),
      el('td', {}, el('span', { class: 'pod' }, v.src.pod || 'world'), el('br'), el('span', { class: 'ip' }, v.src.ip)),
      el('td', {}, el('span', { class: 'pod' }, v.dst.pod || 'world'), el('br'), el('span', { class: 'ip' }, v.dst.ip)),
      el('td', {}, v.port ? v.port + '/' + v.proto : v.proto),
      el('td', {}, v.dir.toLowerCase()),
      el('td', {}, verdictBadge(v.verdict), v.folded > 1 ? ' ×' + v.folded : '', el('br'), el('span', { class: 'muted' }, v.event)),
      el('td', { class: 'policy' }, pol || el('span', { class: 'badge nopol' }, 'no policy')),
    ].map((td, i) => { td.dataset.label = COLS[i]; return td; }));
  if (q) {
    tr.setAttribute('aria-label', v.verdict + ' ' + v.src.name + ' to ' + v.dst.name + ' ' + v.port + '/' + v.proto + ': open why');
    activate(tr, () => {
      for (const o of tr.parentNode.querySelectorAll('tr.selected')) o.classList.remove('selected');
      tr.classList.add('selected');
      openWhy(q);
    });
  }
  return tr;
}

export function flowsView(root, params, go) {
  const cap = Math.max(10, Math.min(5000, parseInt(params.get('cap') || '500', 10) || 500));
  let since = null, paused = false, timer = null, gone = false, lost = 0, dropped = 0;
  let maxSeq = 0, jumped = false;
  const tbody = el('tbody');
  const count = el('span', { class: 'muted' });
  const pause = el('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) poll();
  });
  const empty = el('tr', { class: 'empty' }, el('td', { colspan: '7' }, 'no flow matches yet'));
  tbody.append(empty);
  root.replaceChildren(
    el('h2', {}, 'Flows'), filterForm(params, go), chips(params),
    el('p', { class: 'controls' }, pause, ' ', count),
    el('div', { class: 'scroll' }, el('table', { class: 'flows' },
      el('caption', { class: 'sr' }, 'Flows, newest first; Enter on a row explains it'),
      el('thead', {}, el('tr', {}, COLS.map((h) => el('th', { scope: 'col' }, h)))),
      tbody)));

  async function poll() {
    clearTimeout(timer);
    if (gone || paused) return;
    let full = false;
    const q = new URLSearchParams(params);
    q.delete('view');
    q.delete('cap');
    if (since !== null) q.set('since', since);
    q.set('limit', String(cap));
    try {
      const r = await api('flows', q);
      if (gone) return;
      if (!r.collecting) setStatus('flow collection is off (policyd --flows none)');
      // a full answer from the cursor: more than the cap came at once; the table jumps to the
      // newest (the next poll has no cursor) rather than replay them all
      full = since !== null && r.flows.length >= cap;
      since = full ? null : r.next_seq;
      if (full) jumped = true;
      lost += r.lost || 0;
      const all = r.flows.map(view);
      const rows = all.filter((v) => v.lost === null);
      dropped += all.reduce((n, v) => n + (v.lost || 0), 0);
      if (rows.length && empty.parentNode) empty.remove();
      for (const v of rows) {
        if (v.seq <= maxSeq) continue; // already shown (after a jump)
        tbody.prepend(row(v));
        maxSeq = v.seq;
      }
      while (tbody.rows.length > cap) tbody.lastElementChild.remove();
      count.textContent = tbody.querySelectorAll('tr.flow').length + ' rows shown (cap ' + cap + ')' +
        (lost ? '; ' + lost + ' records were overtaken by the ring' : '') +
        (dropped ? '; ' + dropped + ' events lost before they became records (see netpol flows)' : '') +
        (jumped ? '; more than the cap came at once: the table jumped to the newest' : '');
      root.dataset.ready = '1';
      setStatus('updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      setStatus('flows: ' + e.message);
      root.dataset.ready = '1';
      root.dataset.error = e.message;
    }
    timer = setTimeout(poll, full ? 0 : POLL_MS);
  }
  poll();
  return () => { gone = true; clearTimeout(timer); };
}
