#!/usr/bin/env python3
"""cnirun.py — a minimal CNI runtime that follows the spec (SPEC.md, 1.1.0), for the tests.

Usage: cnirun.py ADD|CHECK|DEL CONFLIST CONTAINERID NETNS IFNAME
       cnirun.py STATUS|GC|VERSION CONFLIST

Environment:
  CNI_PATH             where plugins are found (':'-separated), as for any runtime
  CNIRUN_CACHE         directory of cached ADD results (required for ADD/CHECK/DEL)
  CNIRUN_ARGS          CNI_ARGS for ADD/CHECK/DEL
  CNIRUN_CAPS          JSON object of runtime capability values (runtimeConfig source)
  CNIRUN_VERSION       force this cniVersion instead of negotiating
  CNIRUN_DOWNGRADE=1   call a plugin that lacks the version at its highest one and convert its
                       result up (the reference plugins stop at 1.0.0)
  CNIRUN_LIBCNI_COMPAT=1  leave "capabilities" in each request, as libcni does
  CNIRUN_VALID         GC: JSON list of {"containerID","ifname"} still valid
  CNIRUN_LOG           file: one JSON line per plugin call (plugin, command, stdin, stdout,
                       stderr, rc, elapsed_ms)

ADD prints the final result; VERSION prints the negotiated version; on a plugin failure the
plugin's stdout (the spec's error object) is printed and the exit status is 1 (2: bad use).

Negotiation (spec 1.1.0): the highest version of cniVersion + cniVersions that this runtime
and every plugin of the list (asked with VERSION) support. ADD runs the plugins in order with
prevResult chained; CHECK in order, DEL in reverse order, both with the cached result as
prevResult (DEL without one when nothing is cached). STATUS and GC go only to plugins that
support 1.1.0, as libcni does. Plugins get a clean environment: PATH and the CNI_ variables.
"""
import json
import os
import subprocess
import sys
import time

RUNTIME_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def vkey(v):
    return tuple(int(x) for x in v.split("."))


def log(entry):
    path = os.environ.get("CNIRUN_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def find_plugin(ptype):
    for d in os.environ.get("CNI_PATH", "").split(":"):
        p = os.path.join(d, ptype)
        if d and os.access(p, os.X_OK):
            return p
    sys.stderr.write("cnirun: plugin %s not found in CNI_PATH\n" % ptype)
    sys.exit(2)


def call(ptype, command, request, cid="", netns="", ifname="", args=""):
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
           "CNI_IFNAME": ifname, "CNI_ARGS": args, "CNI_PATH": os.environ.get("CNI_PATH", "")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    stdin = json.dumps(request)
    t0 = time.monotonic()
    p = subprocess.run([find_plugin(ptype)], input=stdin.encode(), env=env,
                       capture_output=True)
    ms = (time.monotonic() - t0) * 1000
    out, err = p.stdout.decode(), p.stderr.decode()
    log({"plugin": ptype, "command": command, "containerID": cid, "stdin": request,
         "stdout": out, "stderr": err, "rc": p.returncode, "elapsed_ms": round(ms, 2)})
    return p.returncode, out, err


def versions_of(ptype):
    rc, out, _ = call(ptype, "VERSION", {"cniVersion": "1.0.0"}, netns="dummy",
                      ifname="dummy")
    if rc != 0:
        return []
    return json.loads(out).get("supportedVersions", [])


def convert(result, to):
    """Converts a result between the 0.3.x/0.4.0 and 1.x shapes (ips[].version)."""
    r = json.loads(json.dumps(result))
    r["cniVersion"] = to
    for ip in r.get("ips", []):
        if vkey(to) >= (1, 0, 0):
            ip.pop("version", None)
        elif "version" not in ip:
            ip["version"] = "6" if ":" in ip.get("address", "") else "4"
    return r


def fail(plugin, command, out, err):
    sys.stderr.write("cnirun: plugin type=%s failed (%s): %s%s\n" %
                     (plugin, command.lower(), out.strip(), (" " + err.strip()) if err.strip() else ""))
    sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
    sys.exit(1)


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    command, conflist = sys.argv[1], sys.argv[2]
    with open(conflist) as f:
        conf = json.load(f)
    plugins = conf["plugins"]
    forced = os.environ.get("CNIRUN_VERSION")
    if forced and os.environ.get("CNIRUN_DOWNGRADE") != "1" and command not in ("STATUS", "GC"):
        supported = {p["type"]: [forced] for p in plugins}  # told, not asked
    else:
        supported = {p["type"]: versions_of(p["type"]) for p in plugins}
    if forced:
        version = os.environ["CNIRUN_VERSION"]
    else:
        cands = set([conf.get("cniVersion", "0.4.0")] + conf.get("cniVersions", []))
        ok = [v for v in cands if v in RUNTIME_VERSIONS and
              all(v in s for s in supported.values())]
        if not ok:
            sys.stderr.write("cnirun: no version supported by every plugin\n")
            sys.exit(1)
        version = max(ok, key=vkey)
    if command == "VERSION":
        print(version)
        return
    downgrade = os.environ.get("CNIRUN_DOWNGRADE") == "1"
    compat = os.environ.get("CNIRUN_LIBCNI_COMPAT") == "1"
    caps = json.loads(os.environ.get("CNIRUN_CAPS") or "{}")

    def request(p, prev, ver):
        r = json.loads(json.dumps(p))
        r["name"] = conf["name"]
        r["cniVersion"] = ver
        declared = r.get("capabilities", {}) or {}
        if not compat:
            r.pop("capabilities", None)
        rc = {k: caps[k] for k, on in declared.items() if on and k in caps}
        if rc:
            r["runtimeConfig"] = rc
        if prev is not None:
            r["prevResult"] = convert(prev, ver)
        return r

    def plugin_version(p):
        if version in supported[p["type"]] or not downgrade:
            return version
        return max(supported[p["type"]], key=vkey)

    if command in ("STATUS", "GC"):
        for p in plugins:
            if "1.1.0" not in supported[p["type"]]:
                continue  # libcni skips plugins older than 1.1.0
            r = request(p, None, version)
            r.pop("runtimeConfig", None)
            if command == "GC":
                valid = json.loads(os.environ.get("CNIRUN_VALID") or "[]")
                r["cni.dev/valid-attachments"] = valid
                r["cni.dev/attachments"] = valid
            rc, out, err = call(p["type"], command, r)
            if rc != 0:
                fail(p["type"], command, out, err)
        return
    if len(sys.argv) != 6:
        sys.stderr.write("cnirun: %s needs CONTAINERID NETNS IFNAME\n" % command)
        sys.exit(2)
    cid, netns, ifname = sys.argv[3:6]
    args = os.environ.get("CNIRUN_ARGS", "")
    cache_dir = os.environ["CNIRUN_CACHE"]
    os.makedirs(cache_dir, exist_ok=True)
    cache = os.path.join(cache_dir, "%s-%s-%s.json" % (conf["name"], cid, ifname))
    if command == "ADD":
        prev = None
        for p in plugins:
            ver = plugin_version(p)
            rc, out, err = call(p["type"], "ADD", request(p, prev, ver), cid, netns, ifname, args)
            if rc != 0:
                # the spec: the runtime runs DEL after a failed ADD
                for q in reversed(plugins):
                    call(q["type"], "DEL", request(q, None, plugin_version(q)), cid, netns,
                         ifname, args)
                fail(p["type"], "ADD", out, err)
            res = json.loads(out)
            if res.get("cniVersion") != ver:
                sys.stderr.write("cnirun: plugin %s answered cniVersion %s to a %s request\n" %
                                 (p["type"], res.get("cniVersion"), ver))
                sys.exit(1)
            prev = convert(res, version)
        with open(cache, "w") as f:
            json.dump(prev, f)
        print(json.dumps(prev))
        return
    cached = None
    if os.path.exists(cache):
        with open(cache) as f:
            cached = json.load(f)
    if command == "CHECK":
        if vkey(version) < (0, 4, 0):
            sys.stderr.write("cnirun: CHECK needs 0.4.0 or later\n")
            sys.exit(2)
        if cached is None:
            sys.stderr.write("cnirun: CHECK: no cached result\n")
            sys.exit(1)
        for p in plugins:
            rc, out, err = call(p["type"], "CHECK", request(p, cached, plugin_version(p)), cid,
                                netns, ifname, args)
            if rc != 0:
                fail(p["type"], "CHECK", out, err)
        return
    if command == "DEL":
        for p in reversed(plugins):
            rc, out, err = call(p["type"], "DEL", request(p, cached, plugin_version(p)), cid,
                                netns, ifname, args)
            if rc != 0:
                fail(p["type"], "DEL", out, err)
        if os.path.exists(cache):
            os.unlink(cache)
        return
    sys.stderr.write("cnirun: unknown command %s\n" % command)
    sys.exit(2)


if __name__ == "__main__":
    main()
