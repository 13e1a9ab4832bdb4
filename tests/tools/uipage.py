#!/usr/bin/python3
"""uipage — what tests/policyd/t-ui.sh asks of policyd's page in a real browser (cdp.py), after
x/c -> x/a:80 was dropped (x/a-from-b admits only x/b) and x/b -> x/a:80 connected:

  uipage.py NETNS BASE_URL SHOTS_DIR TMP_DIR BREAK_SCRIPT

BREAK_SCRIPT is run last: it takes x/a's isolation out of the kernel behind policyd's back and
connects x/c -> x/a, which the heatmap must then flag as a mismatch.

Prints "ok   WHAT" or "FAIL WHAT" per check (then what was seen); exits 1 on any failure. Writes
a screenshot of each view into SHOTS_DIR.
"""
import json
import os
import subprocess
import signal
import sys
import time
from html.parser import HTMLParser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402

FAILS = []


T0 = time.monotonic()


def check(what, cond, seen=""):
    print(("ok   " if cond else "FAIL ") + what + "  [%.1f s]" % (time.monotonic() - T0), flush=True)
    if not cond:
        FAILS.append(what)
        if seen:
            print("     seen: " + str(seen)[:1500], flush=True)


class Rows(HTMLParser):
    """The text of each <tr class="flow ..."> of a DOM dump, cell by cell."""

    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "flow" in (a.get("class") or "").split():
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(" " + data)


def flow_rows(b):
    p = Rows()
    p.feed(b.dom())
    return p.rows


def has_row(rows, src, dst, verdict, policy):
    return any(r[1].startswith(src) and r[2].startswith(dst) and verdict in r[5] and policy in r[6]
               for r in rows)


def ready(b, view, extra="true"):
    b.wait("(() => { const v = document.getElementById('view');"
           " return v && v.dataset.view === %s && v.dataset.ready === '1' && (%s); })()"
           % (json.dumps(view), extra))


def why_text(b):
    b.wait("document.getElementById('why').dataset.ready === '1'")
    return b.eval("document.getElementById('why').innerText")


def main():
    netns, base, shots, tmp, breaker = sys.argv[1:6]
    os.makedirs(shots, exist_ok=True)
    ui = base + "/ui/"
    t0 = time.monotonic()
    with Browser(["ip", "netns", "exec", netns], tmp) as b:
        # ---- the flow table ----
        b.navigate(ui + "?view=flows")
        try:
            ready(b, "flows", "document.querySelectorAll('tr.flow').length >= 2")
        except CdpError as e:
            check("the flow table shows rows", False, e)
        rows = flow_rows(b)
        check("the rendered DOM holds a row x/c -> x/a DROPPED naming x/a-from-b",
              has_row(rows, "x/c", "x/a", "DROPPED", "x/a-from-b"), rows)
        check("the rendered DOM holds a row x/b -> x/a FORWARDED naming x/a-from-b",
              has_row(rows, "x/b", "x/a", "FORWARDED", "x/a-from-b"), rows)
        check("rows carry both pods' addresses",
              any("10.200." in r[1] and "10.200." in r[2] for r in rows), rows)
        b.screenshot(os.path.join(shots, "flows.png"))

        # ---- why, by a mouse click on the dropped row ----
        sel = 'tr.flow[aria-label^="DROPPED x/c to x/a 80/TCP"]'
        b.click(sel)
        text = why_text(b)
        check("clicking the dropped row explains it: no rule of x/a-from-b allows it",
              "no rule of x/a-from-b allows it" in text, text)
        check("  the nft side: the pod chain ing-x/a and its live drop counter",
              "chain ing-x/a" in text and "packets dropped" in text, text)
        b.screenshot(os.path.join(shots, "why.png"))

        # ---- by keyboard: Escape closes, Enter on the allowed row opens ----
        b.key("Escape")
        check("Escape closes the panel", b.eval("document.getElementById('why').hidden"))
        b.eval("document.querySelector('tr.flow[aria-label^=\"FORWARDED x/b to x/a 80/TCP\"]').focus()")
        b.eval("document.getElementById('why').dataset.ready = ''")
        b.key("Enter", text="\r")
        text = why_text(b)
        check("Enter on the allowed row: allowed by x/a-from-b ingress[0] and its counter",
              "allowed by x/a-from-b ingress[0]" in text and "counter cnt-" in text, text)
        b.key("Escape")

        # ---- filters in the URL ----
        b.navigate(ui + "?view=flows&verdict=DROPPED&namespace=x")
        ready(b, "flows", "document.querySelectorAll('tr.flow').length >= 1")
        rows = flow_rows(b)
        check("?verdict=DROPPED&namespace=x: only DROPPED rows, the dropped one among them",
              rows and all("DROPPED" in r[5] for r in rows) and has_row(rows, "x/c", "x/a", "DROPPED", "x/a-from-b"), rows)
        check("  the form shows the filter",
              b.eval("document.querySelector('select[name=verdict]').value") == "DROPPED")

        # ---- the reach heatmap ----
        b.navigate(ui + "?view=reach&namespace=x&port=80")
        ready(b, "reach")
        cell = b.eval("document.querySelector('button.cell[data-from=\"x/c\"][data-to=\"x/a\"]').innerText")
        check("heatmap x/c -> x/a: dropped, and observed dropped",
              cell and cell.split()[0] == "dropped" and "observed dropped" in cell, cell)
        cell = b.eval("document.querySelector('button.cell[data-from=\"x/b\"][data-to=\"x/a\"]').innerText")
        check("heatmap x/b -> x/a: allowed, and observed allowed",
              cell and cell.split()[0] == "allowed" and "observed allowed" in cell, cell)
        check("  no mismatch flagged", b.eval("document.querySelectorAll('.mismatch, .alert').length") == 0)
        b.screenshot(os.path.join(shots, "reach.png"))
        b.click('button.cell[data-from="x/c"][data-to="x/a"]')
        text = why_text(b)
        check("  clicking the cell explains it naming x/a-from-b", "x/a-from-b" in text, text)
        b.key("Escape")

        # ---- the service map ----
        b.navigate(ui + "?view=map")
        ready(b, "map", "document.querySelectorAll('g.edge').length >= 2")
        edges = b.eval("[...document.querySelectorAll('tr.edge-row')].map(r => r.innerText)")
        check("map: an edge x/c -> x/a 80/TCP, dropped, in text",
              any("x/c" in e and "x/a" in e and "80/TCP" in e and "dropped" in e for e in edges), edges)
        stroke = b.eval("getComputedStyle(document.querySelector('g.edge.e-drop path')).stroke")
        check("  drawn red", stroke == "rgb(197, 0, 0)", stroke)
        b.screenshot(os.path.join(shots, "map.png"))
        b.eval("document.querySelector('g.edge.e-drop').focus()")
        b.eval("document.getElementById('why').dataset.ready = ''")
        b.key("Enter", text="\r")
        text = why_text(b)
        check("  Enter on the focused red edge explains it naming x/a-from-b",
              "x/a-from-b" in text and "DROPPED" in text, text)
        b.key("Escape")

        # ---- the policies ----
        b.navigate(ui + "?view=policies")
        ready(b, "policies")
        row = b.eval("[...document.querySelectorAll('tr.policy')].map(r => r.innerText).join('\\n')")
        check("policies: x/a-from-b selects x/a, with ingress hits", "x/a-from-b" in row and
              "x/a" in row and "ingress:" in row and "ingress: 0" not in row, row)
        check("  y/c-no-egress (no traffic leaves y/c) says never hit",
              "y/c-no-egress" in row and "never hit" in row.split("y/c-no-egress")[1].split("\n")[0], row)
        nopol = b.eval("document.querySelector('.nopol-list') && document.querySelector('.nopol-list').innerText")
        check("  y/a has no policy (default allow)", nopol and "y/a" in nopol, nopol)
        b.screenshot(os.path.join(shots, "policies.png"))
        b.click("tr.policy a")
        ready(b, "flows", "document.querySelectorAll('tr.flow').length >= 1")
        rows = flow_rows(b)
        check("  its flows link: the flow table filtered by x/a-from-b",
              b.eval("new URLSearchParams(location.search).get('policy')") == "x/a-from-b" and
              rows and all("x/a-from-b" in r[6] for r in rows), rows)

        # ---- narrow ----
        b.resize(420, 800)
        b.navigate(ui + "?view=flows")
        ready(b, "flows", "document.querySelectorAll('tr.flow').length >= 2")
        b.click(sel)
        why_text(b)
        width = b.eval("document.documentElement.scrollWidth")
        check("narrow (420 px): the page does not scroll sideways", width <= 420, width)
        b.screenshot(os.path.join(shots, "narrow.png"))
        b.resize(1200, 800)
        errors = list(b.errors)

        # ---- hostile text in the URL shows as text ----
        evil = "<script>window.__pwned=1</script>"
        img = "<img src=x onerror=window.__pwned=2>"
        b.navigate(ui + "?view=flows&namespace=" + evil.replace("/", "%2F") + "&policy=" +
                   img.replace(" ", "%20"))
        ready(b, "flows")
        chips = b.eval("document.querySelector('.chips').innerText")
        check("<script> and <img onerror> in filters show as text",
              evil in chips and img in chips, chips)
        check("  and nothing ran or was injected",
              b.eval("window.__pwned === undefined && document.scripts.length === 1 &&"
                     " document.images.length === 0"))

        # ---- the kernel lets through what the evaluator drops: flagged ----
        b.navigate(ui + "?view=flows&from-pod=x/c")
        ready(b, "flows", "document.querySelectorAll('tr.flow').length >= 1")
        before = b.eval("document.querySelectorAll('tr.flow').length")
        r = subprocess.run(["sh", breaker], capture_output=True, text=True)
        check("x/a's isolation deleted behind policyd's back; x/c -> x/a then connects",
              r.returncode == 0 and r.stdout.split()[-1:] == ["1"], r.stdout + r.stderr)
        try:
            b.wait("document.querySelector('tbody tr.flow').getAttribute('aria-label')"
                   ".startsWith('FORWARDED x/c to x/a')", timeout=8)
            polled = True
        except CdpError:
            polled = False
        check("  the open flow table shows that connection on top, polled, no reload",
              polled and b.eval("document.querySelectorAll('tr.flow').length") > before,
              b.eval("[...document.querySelectorAll('tr.flow')].map(r => r.getAttribute('aria-label'))"))
        cell = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            b.navigate(ui + "?view=reach&namespace=x&port=80")
            ready(b, "reach")
            cell = b.eval("document.querySelector('button.cell[data-from=\"x/c\"][data-to=\"x/a\"]').innerText")
            if "MISMATCH" in cell:
                break
            b.pump(0.5)
        check("heatmap x/c -> x/a: dropped by the evaluator, observed allowed, MISMATCH",
              cell.split()[0] == "dropped" and "observed allowed" in cell and "MISMATCH" in cell, cell)
        alert = b.eval("(document.querySelector('[role=alert]') || {}).innerText")
        check("  and an alert above the table names the pair", alert and "x/c → x/a" in alert, alert)
        b.screenshot(os.path.join(shots, "mismatch.png"))
        check("the browser's log has no error (uncaught exception, console, CSP, network)",
              not errors and not b.errors, errors + b.errors)
        outside = [u for u in b.requests if not u.startswith(base + "/")]
        check("the page asked nothing of any other address", not outside, outside)
    print("browser part: %.1f s" % (time.monotonic() - t0))
    return 1 if FAILS else 0


if __name__ == "__main__":
    # stopped by the test's cleanup: unwind, so the browser is stopped too
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(2))
    try:
        sys.exit(main())
    except CdpError as e:
        print("FAIL the browser session: %s" % e)
        sys.exit(1)
