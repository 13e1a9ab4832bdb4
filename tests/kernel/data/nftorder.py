#!/usr/bin/env python3
"""nftorder.py FILE — copies `nft -j list table ...` output to stdout with a "pos" key added to
every rule: its position in its chain. nftnorm.py sorts every object, so without this a table
whose rules sit in another order (the final drop first, say) would normalize identically."""
import json
import sys

doc = json.load(open(sys.argv[1]))
seen = {}
for o in doc.get("nftables", []):
    r = o.get("rule")
    if r:
        k = (r["family"], r["table"], r["chain"])
        r["pos"] = seen.get(k, 0)
        seen[k] = r["pos"] + 1
json.dump(doc, sys.stdout)
