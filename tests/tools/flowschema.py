#!/usr/bin/python3
"""flowschema — checks JSON lines against a JSON Schema, with the standard library only (no
jsonschema package on a Debian test machine): the keywords the flow schema uses, type (one or
a list), enum, const, pattern, minimum, maximum, properties, required, additionalProperties
(false or a schema), items, minItems, anyOf, $ref to #/definitions/NAME.

  flowschema.py SCHEMA FILE     prints "N records valid", or each error (line, path, what);
                                exits 1 on any error, 2 when a line is no JSON
"""
import json
import re
import sys

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def check(root, schema, v, path, errors):
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        for alt in schema["anyOf"]:
            sub = []
            check(root, alt, v, path, sub)
            if not sub:
                break
        else:
            errors.append("%s: matches none of anyOf" % path)
            return
    t = schema.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(TYPES[x](v) for x in ts):
            errors.append("%s: %r is not %s" % (path, v, "/".join(ts)))
            return
    if "enum" in schema and v not in schema["enum"]:
        errors.append("%s: %r not in %r" % (path, v, schema["enum"]))
    if "const" in schema and v != schema["const"]:
        errors.append("%s: %r is not %r" % (path, v, schema["const"]))
    if isinstance(v, str) and "pattern" in schema and not re.search(schema["pattern"], v):
        errors.append("%s: %r does not match %s" % (path, v, schema["pattern"]))
    if TYPES["number"](v):
        if "minimum" in schema and v < schema["minimum"]:
            errors.append("%s: %r < %r" % (path, v, schema["minimum"]))
        if "maximum" in schema and v > schema["maximum"]:
            errors.append("%s: %r > %r" % (path, v, schema["maximum"]))
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errors.append("%s: required %s missing" % (path, k))
        for k, sub in v.items():
            if k in props:
                check(root, props[k], sub, path + "/" + k, errors)
            elif schema.get("additionalProperties") is False:
                errors.append("%s: unexpected field %s" % (path, k))
            elif isinstance(schema.get("additionalProperties"), dict):
                check(root, schema["additionalProperties"], sub, path + "/" + k, errors)
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0):
            errors.append("%s: fewer than %d items" % (path, schema["minItems"]))
        if "items" in schema:
            for i, sub in enumerate(v):
                check(root, schema["items"], sub, "%s/%d" % (path, i), errors)


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    n = bad = 0
    with open(sys.argv[2]) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                v = json.loads(line)
            except ValueError as e:
                print("line %d: no JSON: %s" % (lineno, e))
                sys.exit(2)
            n += 1
            errors = []
            check(schema, schema, v, "", errors)
            for e in errors:
                print("line %d: %s" % (lineno, e))
            bad += bool(errors)
    if bad:
        print("%d of %d records invalid" % (bad, n))
        sys.exit(1)
    print("%d records valid" % n)


if __name__ == "__main__":
    main()
