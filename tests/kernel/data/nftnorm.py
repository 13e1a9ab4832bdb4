#!/usr/bin/env python3
"""nftnorm.py FILE — normalizes `nft -j list table ...` output for comparison: drops metainfo,
handles, table flags (apply adds owner/persist, a text load cannot), counter values; sorts set
elements (hash sets dump in a random order) and the object list. Prints canonical JSON."""
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


def main():
    doc = json.load(open(sys.argv[1]))
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
    for o in objs:
        print(json.dumps(o, sort_keys=True))


main()
