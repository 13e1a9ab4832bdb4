// why.js — the "why" panel: the explain chain of one flow (tier, policy, rule path; or not
// isolated), per side, with the nft rule it maps to and that rule's live counter.
import { el, api, verdictBadge } from './dom.js';

function rulePath(dir, s) {
  let p = dir + '[' + s.rule + ']';
  if (s.peer !== null && s.peer !== undefined) p += (dir === 'ingress' ? '.from[' : '.to[') + s.peer + ']';
  if (s.port !== null && s.port !== undefined) p += '.ports[' + s.port + ']';
  return p;
}

function chain(dir, s) {
  const steps = [];
  for (const p of s.passes || []) steps.push(p.tier + ' tier: ' + p.kind + ' ' + p.policy + ' rule ' + p.rule + ' Pass');
  if (s.decided_by) {
    const d = s.decided_by;
    steps.push(d.tier + ' tier: ' + d.kind + ' ' + d.policy + ' ' + dir + '[' + d.rule + ']' +
      (d.name ? ' "' + d.name + '"' : '') + ' ' + d.action);
  } else if (!s.isolated) {
    steps.push(s.why === 'not isolated'
      ? 'not isolated: no policy selects ' + s.at + ' for ' + dir + ' (default allow)' : s.why);
  } else {
    steps.push('NetworkPolicy tier: isolated by ' + s.isolating.join(', '));
    if (s.policy) steps.push('allowed by ' + s.policy + ' ' + rulePath(dir, s));
    else steps.push('no rule of ' + s.isolating.join(', ') + ' allows it' + (s.audit ? ' (audit: would drop)' : ''));
  }
  return steps;
}

function nft(n) {
  if (!n) return el('p', { class: 'muted' }, 'no nft rule of ours decides this side');
  const c = n.counter;
  const what = n.kind === 'allow' ? 'chain ' + (n.chain || '?') + ', ' + n.rule + ' rule ' + n.index
    : n.kind === 'admin' ? 'admin tier rule ' + n.rule + '[' + n.index + ']' + (c ? ': ' + c.comment : '')
      : 'chain ' + (n.chain || '?') + ', drop point ' + n.log_prefix;
  const count = !c ? 'counter: not read'
    : n.kind === 'allow' || n.kind === 'admin' ? 'counter ' + c.name + ': ' + c.packets + ' packets, ' + c.bytes + ' bytes'
      : 'counter: ' + c.packets + ' packets ' + (n.kind === 'audit' ? 'let through (audit)' : 'dropped') + ', ' + c.logged + ' logged';
  return el('p', { class: 'nft' }, el('code', {}, what), el('br'), el('span', { class: 'counter' }, count));
}

function side(dir, s) {
  return el('section', { class: 'side' },
    el('h3', {}, dir + ' at ' + s.at + ': ', verdictBadge(s.audit ? 'AUDIT' : s.allowed ? 'ALLOWED' : 'DROPPED')),
    el('ol', { class: 'chain' }, chain(dir, s).map((t) => el('li', {}, t))),
    nft(s.nft));
}

let lastFocus = null;

export function closeWhy() {
  const aside = document.getElementById('why');
  aside.hidden = true;
  aside.replaceChildren();
  if (lastFocus) lastFocus.focus();
}

export async function openWhy(q) {
  const aside = document.getElementById('why');
  lastFocus = document.activeElement;
  aside.hidden = false;
  aside.replaceChildren(el('p', {}, 'explaining…'));
  let x;
  try {
    x = await api('explain', q);
  } catch (e) {
    aside.replaceChildren(el('h2', {}, 'Why'), el('p', { class: 'error' }, String(e.message)),
      el('button', { type: 'button', onclick: closeWhy }, 'Close'));
    aside.dataset.ready = '1';
    return;
  }
  const f = x.flow;
  const close = el('button', { type: 'button', class: 'close', onclick: closeWhy }, 'Close (Esc)');
  aside.replaceChildren(
    el('h2', { id: 'why-title', tabindex: '-1' }, 'Why: ', verdictBadge(x.verdict)),
    el('p', { class: 'flow' }, f.from + ' (' + f.from_addr + ') → ' + f.to + ' (' + f.to_addr + ') ' + f.port + '/' + f.protocol),
    side('egress', x.egress), side('ingress', x.ingress),
    el('p', { class: 'muted' }, 'evaluated now, policy generation ' + x.generation +
      (x.counters ? '; counters read live from the kernel' : '; counters unavailable')),
    close);
  aside.dataset.ready = '1';
  document.getElementById('why-title').focus();
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !document.getElementById('why').hidden) closeWhy();
});
