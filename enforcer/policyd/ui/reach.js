// reach.js — the reach heatmap of one namespace: the evaluator's verdict for every pod pair (the
// axes of `netpol reach`: rows are sources, columns destinations), each cell overlaid with what
// the flow ring observed since the last policy change; a cell where the kernel did otherwise
// than the evaluator says is flagged as a mismatch (an enforcement bug).
import { el, api, activate, setStatus, mayRedraw } from './dom.js';
import { openWhy } from './why.js';

function observedText(o) {
  const parts = [];
  if (o.forwarded) parts.push('allowed ×' + o.forwarded);
  if (o.dropped) parts.push('dropped ×' + o.dropped);
  if (o.audit) parts.push('audit ×' + o.audit);
  return parts.length ? 'observed ' + parts.join(', ') : 'unseen';
}

const WORD = ['dropped', 'allowed', 'audit'];

function cell(r, i, j, mism) {
  const m = r.matrix[i][j], o = r.observed[i][j];
  const seen = o.forwarded + o.dropped + o.audit > 0;
  const bad = mism.has(i + ' ' + j);
  const label = r.pods[i] + ' to ' + r.pods[j] + ': evaluator ' + WORD[m] + '; ' + observedText(o) +
    (bad ? '; MISMATCH between kernel and evaluator' : '');
  const b = el('button', { type: 'button', class: 'cell c-' + WORD[m] + (seen ? ' seen' : '') + (bad ? ' mismatch' : ''),
    'aria-label': label, title: label, 'data-from': r.pods[i], 'data-to': r.pods[j] },
    el('span', { class: 'word' }, WORD[m]), el('span', { class: 'obs' }, observedText(o)),
    bad ? el('strong', { class: 'flag' }, 'MISMATCH') : null);
  activate(b, () => openWhy({ from: r.pods[i], to: r.pods[j], port: r.probe.port + '/' + r.probe.protocol, family: String(r.probe.family) }));
  return el('td', {}, b);
}

export function reachView(root, params, go) {
  let gone = false, timer = null;
  // the probe's form; from the answer, or from an error that lists the namespaces
  function probeForm(namespaces) {
    const ns = el('select', { name: 'namespace' }, el('option', { value: '' }, 'all namespaces'),
      namespaces.map((n) => el('option', { value: n, selected: n === (params.get('namespace') || '') }, n)));
    const port = el('input', { name: 'port', value: params.get('port') || '80', size: '5', inputmode: 'numeric' });
    const proto = el('select', { name: 'protocol' }, ['TCP', 'UDP', 'SCTP'].map((p) =>
      el('option', { value: p, selected: p === (params.get('protocol') || 'TCP').toUpperCase() }, p)));
    const form = el('form', { class: 'filters', 'aria-label': 'Probe' },
      el('label', {}, 'Namespace', ns), el('label', {}, 'Port', port), el('label', {}, 'Protocol', proto),
      el('button', { type: 'submit' }, 'Show'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const p = new URLSearchParams({ view: 'reach' });
      for (const [k, v] of new FormData(form)) if (v !== '') p.set(k, v);
      go(p);
    });
    return form;
  }

  async function load() {
    if (root.dataset.ready && !mayRedraw(root)) {
      timer = setTimeout(load, 10000);
      return;
    }
    let r;
    try {
      r = await api('reach', { namespace: params.get('namespace') || '', port: params.get('port') || '80',
        protocol: params.get('protocol') || 'TCP', family: params.get('family') || '4' });
    } catch (e) {
      root.replaceChildren(el('h2', {}, 'Reach'), probeForm((e.body && e.body.namespaces) || []),
        el('p', { class: 'error' }, e.message));
      root.dataset.ready = '1';
      return;
    }
    if (gone) return;
    const form = probeForm(r.namespaces);
    const mism = new Set(r.mismatches.map((x) => r.pods.indexOf(x.from) + ' ' + r.pods.indexOf(x.to)));
    const alert = r.mismatches.length
      ? el('div', { class: 'alert', role: 'alert' }, el('strong', {}, 'Kernel and evaluator disagree on ' + r.mismatches.length + ' pair(s): '),
        r.mismatches.map((x) => el('span', { class: 'chip' }, x.from + ' → ' + x.to + ': evaluator ' + x.evaluator + ', observed allowed ' + x.forwarded + ', dropped ' + x.dropped)))
      : el('p', { class: 'muted' }, 'No mismatch: every observed flow did what the evaluator says.');
    const table = el('table', { class: 'heat' },
      el('caption', {}, 'Can the row pod open ' + r.probe.port + '/' + r.probe.protocol + ' to the column pod? (IPv' + r.probe.family + ', policy generation ' + r.generation + ')'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'from \\ to'), r.pods.map((p) => el('th', { scope: 'col' }, p)))),
      el('tbody', {}, r.pods.map((p, i) => el('tr', {}, el('th', { scope: 'row' }, p), r.pods.map((_, j) => cell(r, i, j, mism))))));
    root.replaceChildren(el('h2', {}, 'Reach'), form, alert,
      el('p', { class: 'legend' }, el('span', { class: 'cell c-allowed' }, 'allowed'), ' ', el('span', { class: 'cell c-dropped' }, 'dropped'), ' ',
        el('span', { class: 'cell c-audit' }, 'audit'), ' — the evaluator; below it what was observed since the last policy change; ',
        el('strong', { class: 'flag' }, 'MISMATCH'), ' where the kernel did otherwise'),
      el('div', { class: 'scroll' }, table));
    root.dataset.ready = '1';
    setStatus('reach of ' + (r.namespace || 'all namespaces') + ' at ' + new Date().toLocaleTimeString());
    timer = setTimeout(load, 10000); // what is observed moves on
  }
  load();
  return () => { gone = true; clearTimeout(timer); };
}
