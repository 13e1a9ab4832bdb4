// policies.js — the per-policy panel: the pods each policy selects, its hits from the kernel's
// counters (connections its rules allowed), its last hit in the flow ring, and badges for a
// policy never hit and for pods no policy selects (default allow).
import { el, api, setStatus } from './dom.js';

export function policiesView(root) {
  let gone = false;
  (async () => {
    let r;
    try {
      r = await api('policies');
    } catch (e) {
      root.replaceChildren(el('h2', {}, 'Policies'), el('p', { class: 'error' }, e.message));
      root.dataset.ready = '1';
      return;
    }
    if (gone) return;
    const hits = (p) => Object.entries(p.hits).map(([d, n]) => d + ': ' + (n === null ? 'no allow rule' : n)).join(', ') || 'no rules';
    const table = el('table', { class: 'policies' },
      el('caption', {}, r.policies.length + ' NetworkPolicies; hits are connections their rules allowed (kernel counters' + (r.counters ? '' : ', unavailable now') + ')'),
      el('thead', {}, el('tr', {}, ['Policy', 'Directions', 'Pods selected', 'Hits', 'Last hit', 'Badges, flows'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, r.policies.map((p) => el('tr', { class: 'policy', tabindex: '0' },
        el('th', { scope: 'row' }, p.namespace + '/' + p.name),
        el('td', {}, p.directions.join(', ')),
        el('td', {}, p.pods.length ? p.pods.join(', ') : el('span', { class: 'muted' }, 'none')),
        el('td', {}, hits(p)),
        el('td', {}, p.last_hit || el('span', { class: 'muted' }, 'not in the ring')),
        el('td', {}, p.never_hit ? el('span', { class: 'badge never' }, 'never hit') : null,
          p.audit ? el('span', { class: 'badge audit' }, 'audit') : null, ' ',
          el('a', { href: '?' + new URLSearchParams({ view: 'flows', policy: p.namespace + '/' + p.name }) }, 'its flows'))))));
    root.replaceChildren(el('h2', {}, 'Policies'), el('div', { class: 'scroll' }, table),
      el('h3', {}, 'Pods with no policy'),
      r.no_policy.length
        ? el('ul', { class: 'nopol-list' }, r.no_policy.map((p) => el('li', {}, el('span', { class: 'badge nopol' }, 'no policy'), ' ' + p + ' — default allow')))
        : el('p', { class: 'muted' }, 'every pod is selected by some policy'));
    root.dataset.ready = '1';
    setStatus('policies at ' + new Date().toLocaleTimeString());
  })();
  return () => { gone = true; };
}
