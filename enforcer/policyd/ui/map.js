// map.js — the service map: pods boxed by namespace, one edge per (source, destination,
// port/protocol) aggregated from the flows the ring holds, coloured by verdict with its counts
// in text (red: any drop; dashed: allowed and dropped; plain: allowed only). Hand-written SVG in
// a fixed column layout (namespaces side by side, pods stacked): deterministic, no library.
import { el, svg, api, activate, setStatus, mayRedraw } from './dom.js';
import { view, explainQuery } from './records.js';
import { openWhy } from './why.js';

const BOX_W = 150, POD_H = 30, GAP = 14, COL_GAP = 240, TOP = 10;

function isNoise(v, hideDns) {
  if (!v.src.pod || !v.dst.pod) return true; // host and the world: hidden
  return hideDns && (v.port === 53 && (v.proto === 'UDP' || v.proto === 'TCP'));
}

function aggregate(flows, hideDns) {
  const edges = new Map();
  for (const v of flows) {
    if (v.lost !== null || v.event === 'close' || isNoise(v, hideDns)) continue;
    const k = v.src.pod + ' ' + v.dst.pod + ' ' + v.port + '/' + v.proto;
    const e = edges.get(k) || { src: v.src.pod, dst: v.dst.pod, port: v.port + '/' + v.proto, ok: 0, drop: 0, audit: 0, q: explainQuery(v) };
    if (v.verdict === 'DROPPED') e.drop += v.folded; else if (v.verdict === 'AUDIT') e.audit += v.folded; else e.ok += v.folded;
    edges.set(k, e);
  }
  return [...edges.values()];
}

function kind(e) {
  return e.drop && (e.ok || e.audit) ? 'mixed' : e.drop ? 'drop' : e.audit ? 'audit' : 'ok';
}

function edgeText(e) {
  return e.port + ': ' + [e.ok ? e.ok + ' allowed' : '', e.drop ? e.drop + ' dropped' : '', e.audit ? e.audit + ' audit' : ''].filter(Boolean).join(', ');
}

function layout(edges) {
  const byNs = new Map();
  for (const e of edges) for (const p of [e.src, e.dst]) {
    const ns = p.split('/')[0];
    if (!byNs.has(ns)) byNs.set(ns, new Set());
    byNs.get(ns).add(p);
  }
  const nss = [...byNs.keys()].sort();
  const pos = new Map();
  let height = 0;
  nss.forEach((ns, c) => {
    const pods = [...byNs.get(ns)].sort();
    pods.forEach((p, i) => pos.set(p, { x: 20 + c * (BOX_W + COL_GAP) + 10, y: TOP + 30 + i * (POD_H + GAP), col: c }));
    height = Math.max(height, TOP + 40 + pods.length * (POD_H + GAP));
  });
  return { nss, byNs, pos, width: 20 + nss.length * (BOX_W + COL_GAP), height: height + 10 };
}

function drawMap(edges) {
  const L = layout(edges);
  const w = Math.max(L.width, 300), h = Math.max(L.height, 100);
  const s = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, role: 'img',
    'aria-label': 'Service map: ' + edges.length + ' edges; the table below lists them' });
  s.append(svg('defs', {}, ['ok', 'drop', 'mixed', 'audit'].map((k) =>
    svg('marker', { id: 'arrow-' + k, viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '10', markerHeight: '10', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse', class: 'm-' + k },
      svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' })))));
  L.nss.forEach((ns, c) => {
    const n = L.byNs.get(ns).size;
    s.append(svg('g', { class: 'ns' },
      svg('rect', { x: 20 + c * (BOX_W + COL_GAP), y: TOP, width: BOX_W + 20, height: 36 + n * (POD_H + GAP), rx: 8 }),
      svg('text', { x: 30 + c * (BOX_W + COL_GAP), y: TOP + 20, class: 'ns-name' }, 'namespace ' + ns)));
  });
  for (const [p, q] of L.pos) {
    s.append(svg('g', { class: 'pod' }, svg('rect', { x: q.x, y: q.y, width: BOX_W, height: POD_H, rx: 5 }),
      svg('text', { x: q.x + 10, y: q.y + 20 }, p.split('/')[1])));
  }
  edges.forEach((e, i) => {
    const a = L.pos.get(e.src), b = L.pos.get(e.dst);
    const k = kind(e);
    let x1 = a.x + BOX_W, y1 = a.y + POD_H / 2, x2 = b.x, y2 = b.y + POD_H / 2, d, lx, ly;
    if (a.col === b.col) { // within a namespace: a loop out to the right, its label beside it
      x1 = a.x + BOX_W; x2 = b.x + BOX_W;
      const down = y1 < y2;
      y1 += down ? 5 : -5; y2 += down ? -5 : 5;
      const bulge = 30 + Math.abs(y2 - y1) / 3;
      d = `M ${x1} ${y1} C ${x1 + bulge} ${y1}, ${x2 + bulge} ${y2}, ${x2} ${y2}`;
      lx = x1 + bulge * 0.75 + 6; ly = (y1 + y2) / 2 + 4;
    } else {
      if (b.col < a.col) { x1 = a.x; x2 = b.x + BOX_W; }
      const mx = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
      lx = mx - 50; ly = (y1 + y2) / 2 - 4;
    }
    const label = e.src + ' to ' + e.dst + ' ' + edgeText(e);
    const g = svg('g', { class: 'edge e-' + k, tabindex: '0', role: 'button', 'aria-label': label },
      svg('title', {}, label), svg('path', { d, 'marker-end': 'url(#arrow-' + k + ')' }),
      svg('text', { x: lx, y: ly, class: 'edge-label' }, edgeText(e)));
    if (e.q) activate(g, () => openWhy(e.q));
    s.append(g);
  });
  return s;
}

export function mapView(root, params, go) {
  let gone = false, timer = null;
  const hideDns = params.get('dns') !== 'show';
  const ns = params.get('namespace') || '';
  async function load() {
    if (root.dataset.ready && !mayRedraw(root)) {
      timer = setTimeout(load, 5000);
      return;
    }
    const q = { limit: '2000' };
    if (ns) q.namespace = ns;
    let r;
    try {
      r = await api('flows', q);
    } catch (e) {
      root.replaceChildren(el('h2', {}, 'Service map'), el('p', { class: 'error' }, e.message));
      root.dataset.ready = '1';
      return;
    }
    if (gone) return;
    const edges = aggregate(r.flows.map(view), hideDns).sort((x, y) => (x.src + x.dst + x.port).localeCompare(y.src + y.dst + y.port));
    const form = el('form', { class: 'filters', 'aria-label': 'Map' },
      el('label', {}, 'Namespace', el('input', { name: 'namespace', value: ns, placeholder: 'all namespaces' })),
      el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'dns', value: 'show', checked: !hideDns }), 'show kube-dns (port 53)'),
      el('button', { type: 'submit' }, 'Show'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const p = new URLSearchParams({ view: 'map' });
      for (const [k, v] of new FormData(form)) if (v !== '') p.set(k, v);
      go(p);
    });
    const list = el('table', { class: 'edges' },
      el('caption', {}, 'Edges (host and world hidden' + (hideDns ? ', kube-dns hidden' : '') + ')'),
      el('thead', {}, el('tr', {}, ['From', 'To', 'Port', 'Allowed', 'Dropped', 'Audit', 'Kind'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, edges.map((e) => {
        const tr = el('tr', { tabindex: e.q ? '0' : null, class: 'edge-row e-' + kind(e) },
          el('td', {}, e.src), el('td', {}, e.dst), el('td', {}, e.port), el('td', {}, e.ok), el('td', {}, e.drop), el('td', {}, e.audit),
          el('td', {}, el('span', { class: 'badge ' + { ok: 'ok', drop: 'drop', mixed: 'mixed', audit: 'audit' }[kind(e)] },
            { ok: 'allowed only', drop: 'dropped', mixed: 'mixed', audit: 'audit' }[kind(e)])));
        if (e.q) activate(tr, () => openWhy(e.q));
        return tr;
      })));
    root.replaceChildren(el('h2', {}, 'Service map'), form,
      el('p', { class: 'legend' }, el('span', { class: 'key e-ok' }, '— allowed only'), ' ', el('span', { class: 'key e-drop' }, '— any drop'), ' ',
        el('span', { class: 'key e-mixed' }, '- - mixed'), ' — counts from the ' + r.flows.length + ' newest records'),
      edges.length ? el('div', { class: 'scroll map' }, drawMap(edges)) : el('p', { class: 'muted' }, 'no flow between pods yet'),
      list);
    root.dataset.ready = '1';
    setStatus('map at ' + new Date().toLocaleTimeString());
    timer = setTimeout(load, 5000);
  }
  load();
  return () => { gone = true; clearTimeout(timer); };
}
