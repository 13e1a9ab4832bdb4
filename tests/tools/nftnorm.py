#!/usr/bin/env python3
"""nftnorm.py IN OUT [IN OUT ...] — normalizes `nft -j list table ...` output for comparison:
tags every rule with its position in its chain ("pos": the objects are sorted below, so
without it a table whose rules sit in another order, the final drop first say, would normalize
identically), drops metainfo, handles, table flags (apply adds owner/persist, a text load
cannot), counter values; sorts set elements (hash sets dump in a random order) and the object
list. Writes canonical JSON lines to OUT, for each pair: one start serves every listing of a
comparison. An IN that is not JSON (a listing that failed) gives an empty OUT and exit 1, and the
other pairs are still written."""
import json
import sys


def scrub(v):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("handle", "packets", "bytes"):
                continue
            out[k] = scrub(x)
        return out
    if isinstance(v, list):
        return [scrub(x) for x in v]
    return v


def normalize(doc):
    seen = {}
    for o in doc.get("nftables", []):
        r = o.get("rule")
        if r:
            k = (r["family"], r["table"], r["chain"])
            r["pos"] = seen.get(k, 0)
            seen[k] = r["pos"] + 1
    objs = []
    for o in doc.get("nftables", []):
        if "metainfo" in o:
            continue
        o = scrub(o)
        if "table" in o:
            o["table"].pop("flags", None)
        for kind in ("set", "map"):
            if kind in o and "elem" in o[kind]:
                o[kind]["elem"] = sorted(o[kind]["elem"], key=lambda e: json.dumps(e, sort_keys=True))
        objs.append(o)
    objs.sort(key=lambda o: json.dumps(o, sort_keys=True))
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in objs)


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: nftnorm.py IN OUT [IN OUT ...]")
    rc = 0
    for src, dst in zip(args[0::2], args[1::2]):
        try:
            with open(src) as f:
                text = normalize(json.load(f))
        except (OSError, ValueError) as e:
            print("nftnorm.py: %s: %s" % (src, e), file=sys.stderr)
            text, rc = "", 1
        with open(dst, "w") as f:
            f.write(text)
    sys.exit(rc)


main()
