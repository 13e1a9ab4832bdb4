// dom.js — building the page from data: every text goes in as a text node (never as markup),
// so a name or label holding "<script>" shows as those characters and runs nothing.
const SVG = 'http://www.w3.org/2000/svg';

// el('tr', {class: 'x', tabindex: 0, onclick: f}, child, 'text', ...)
export function el(tag, attrs, ...kids) {
  return build(document.createElement(tag), attrs, kids);
}

export function svg(tag, attrs, ...kids) {
  return build(document.createElementNS(SVG, tag), attrs, kids);
}

function build(node, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
}

// Enter or Space on a focusable element acts as a click (rows, cells, edges).
export function activate(node, fn) {
  node.addEventListener('click', fn);
  node.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fn(e);
    }
  });
  return node;
}

export async function api(path, params) {
  const q = new URLSearchParams(params || {});
  const url = '/api/v1/' + path + (q.toString() ? '?' + q : '');
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({ error: 'not JSON: HTTP ' + r.status }));
  if (!r.ok) {
    const e = new Error(body.error || 'HTTP ' + r.status);
    e.body = body;
    throw e;
  }
  return body;
}

// The verdict as colour and word: FORWARDED, DROPPED, AUDIT (and the evaluator's words).
export function verdictBadge(v) {
  const cls = { FORWARDED: 'ok', ALLOWED: 'ok', DROPPED: 'drop', AUDIT: 'audit' }[v] || 'other';
  return el('span', { class: 'badge ' + cls }, v);
}

export function setStatus(text) {
  document.getElementById('status').textContent = text;
}

// Whether a view may redraw itself now: not while the keyboard is inside it or "why" is open
// (a redraw would take the focus away from under the user).
export function mayRedraw(root) {
  const a = document.activeElement;
  return document.getElementById('why').hidden && !(a && a !== root && root.contains(a));
}
