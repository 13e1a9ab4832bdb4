// app.js — the page: one view at a time, chosen and parameterised by the URL (?view=flows&...),
// so a link reproduces what was on screen. Read-only: every request is a GET of /api/v1/.
import { flowsView } from './flows.js';
import { reachView } from './reach.js';
import { mapView } from './map.js';
import { policiesView } from './policies.js';
import { closeWhy } from './why.js';

const VIEWS = { flows: flowsView, reach: reachView, map: mapView, policies: policiesView };
let stop = null;

function render() {
  const params = new URLSearchParams(location.search);
  const name = VIEWS[params.get('view')] ? params.get('view') : 'flows';
  if (stop) stop();
  const root = document.getElementById('view');
  root.replaceChildren();
  delete root.dataset.ready;
  root.dataset.view = name;
  if (!document.getElementById('why').hidden) closeWhy();
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = 'netpol — ' + name;
  stop = VIEWS[name](root, params, go);
}

function go(params) {
  history.pushState(null, '', '?' + params.toString());
  render();
}

window.addEventListener('popstate', render);
render();
