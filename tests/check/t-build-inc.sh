#!/bin/sh
# The incremental build equals the full one. On a generated cluster (1,500 pods, 30 namespaces,
# 150 policies, a few admin-tier policies, 3 nodes), a seeded random walk of the changes policyd
# sees: pods added, removed, relabelled, moved to another node, readdressed (sometimes to
# another pod's address), given other named ports; namespaces relabelled; policies edited (types, rules, ports), removed and brought
# back; a selector's whole population removed and restored; several changes in one sync; a
# change too big to analyse. After each, build_inc_check rebuilds with the cache (reusing every
# fragment the change did not touch, patching the last table) and from scratch, and the two must
# be the same ruleset, byte for byte, and the same kernel state (the incremental one patched from
# the last); the diff from the last state that the pipeline sends (only what the patch names)
# must be the diff comparing everything, message for message. Two policies open egress named ports to every pod
# and to an ipBlock, so every pod change reaches them. Also asserts the walk exercised reuse
# (most syncs rebuilt a small part) and the fallback (some rebuilt everything). No kernel
# needed.
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NETPOL_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
TOOL=$BUILD/tests/build_inc_check GEN=$BUILD/tests/gen_cluster
for x in "$TOOL" "$GEN"; do
	[ -x "$x" ] || { echo "t-build-inc: missing $x (make tests-built)" >&2; exit 2; }
done
STEPS=${STEPS:-250}
tmp=$(mktemp -d "/tmp/np-$$-buildinc.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$GEN" "$tmp/c" --pods 1500 --namespaces 30 --policies 150 --nodes 3 --admin 4 --seed 7 \
	>/dev/null || exit 2
node=$(grep -o '"nodeName": *"[^"]*"' "$tmp/c/pods-ns-000.json" | head -1 | cut -d'"' -f4)
/usr/bin/python3 - "$TOOL" "$tmp/c" "$node" "$STEPS" <<'PY'
import copy, json, os, random, subprocess, sys

tool, d, node, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(int(os.environ.get("SEED", "11")))
p = subprocess.Popen(os.environ.get("TOOL_WRAP", "").split() + [tool, d, "--node", node], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True)

def load(name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)

def save(name, obj):
    tmpname = os.path.join(d, "." + name + ".tmp")
    with open(tmpname, "w") as f:
        json.dump(obj, f)
    os.rename(tmpname, os.path.join(d, name))

def files(prefix):
    return sorted(f for f in os.listdir(d) if f.startswith(prefix) and f.endswith(".json"))

added = []          # files of added pods
parked = {}         # policies taken out: file -> list of items
population = []     # (file, items removed) of an emptied selector
n_ip = [0]

def new_ip():
    n_ip[0] += 1
    return "10.250.%d.%d" % (n_ip[0] // 250, n_ip[0] % 250 + 1)

def pod_file():
    return rng.choice(files("pods-"))

def m_pod_add():
    src = load(pod_file())
    pod = copy.deepcopy(rng.choice(src["items"]))
    n_ip[0] += 1
    name = "added-%d" % n_ip[0]
    pod["metadata"]["name"] = name
    ip = new_ip()
    pod["status"]["podIP"] = ip
    pod["status"]["podIPs"] = [{"ip": ip}]
    pod["spec"]["nodeName"] = node if rng.random() < 0.6 else pod["spec"].get("nodeName")
    fn = "zz-%s.json" % name
    save(fn, {"apiVersion": "v1", "kind": "List", "items": [pod]})
    added.append(fn)

def m_pod_remove():
    if added and rng.random() < 0.5:
        os.unlink(os.path.join(d, added.pop(rng.randrange(len(added)))))
        return
    fn = pod_file()
    o = load(fn)
    if o["items"]:
        o["items"].pop(rng.randrange(len(o["items"])))
        save(fn, o)

def edit_pod(fn_edit):
    fn = pod_file()
    o = load(fn)
    if not o["items"]:
        return
    fn_edit(rng.choice(o["items"]), o)
    save(fn, o)

def relabel(pod, o):
    apps = sorted({i["metadata"]["labels"].get("app", "x") for i in o["items"]} | {"api", "db"})
    pod["metadata"]["labels"]["app"] = rng.choice(apps)
    if rng.random() < 0.3:
        pod["metadata"]["labels"].pop("version", None)

def move(pod, o):
    pod["spec"]["nodeName"] = node if pod["spec"].get("nodeName") != node else "node-x"

def readdress(pod, o):
    # sometimes another pod's address (a reused IP): a set may then not drop it
    ip = new_ip() if rng.random() < 0.7 else rng.choice(o["items"])["status"]["podIP"]
    pod["status"]["podIP"] = ip
    pod["status"]["podIPs"] = [{"ip": ip}] + [a for a in pod["status"].get("podIPs", [])
                                              if ":" in a["ip"]]

def reports(pod, o):
    for c in pod["spec"]["containers"]:
        for port in c.get("ports", []):
            if port.get("name") and rng.random() < 0.5:
                port["name"] = rng.choice(["http", "metrics", "grpc", "admin"])
                port["containerPort"] = rng.choice([80, 8080, 9090, 50051])

def m_ns_relabel():
    o = load("namespaces.json")
    ns = rng.choice(o["items"])
    ns["metadata"]["labels"]["env"] = rng.choice(["prod", "staging", "dev", "qa"])
    save("namespaces.json", o)

def m_pol_edit():
    fn = rng.choice(files("netpol-"))
    o = load(fn)
    if not o["items"]:
        return
    spec = rng.choice(o["items"])["spec"]
    k = rng.randrange(3)
    if k == 0:
        t = spec.get("policyTypes", ["Ingress"])
        spec["policyTypes"] = ["Ingress", "Egress"] if len(t) == 1 else [t[0]]
    elif k == 1:
        for key in ("ingress", "egress"):
            if spec.get(key):
                spec[key].pop(rng.randrange(len(spec[key])))
                break
    else:
        for key in ("ingress", "egress"):
            for r in spec.get(key, []):
                for port in r.get("ports", []):
                    if isinstance(port.get("port"), int):
                        port["port"] = rng.choice([80, 443, 8080, 5432])
    save(fn, o)

def m_pol_park():
    if parked and rng.random() < 0.5:
        fn, items = parked.popitem()
        o = load(fn)
        o["items"].extend(items)
        save(fn, o)
        return
    fn = rng.choice(files("netpol-"))
    o = load(fn)
    if o["items"] and fn not in parked:
        parked[fn] = [o["items"].pop(rng.randrange(len(o["items"])))]
        save(fn, o)

def m_population():
    if population:
        fn, items = population.pop()
        o = load(fn)
        o["items"].extend(items)
        save(fn, o)
        return
    fn = pod_file()
    o = load(fn)
    if not o["items"]:
        return
    app = o["items"][0]["metadata"]["labels"].get("app")
    keep = [i for i in o["items"] if i["metadata"]["labels"].get("app") != app]
    gone = [i for i in o["items"] if i["metadata"]["labels"].get("app") == app]
    o["items"] = keep
    save(fn, o)
    population.append((fn, gone))

def m_big():
    fn = pod_file()
    o = load(fn)
    for pod in o["items"]:
        pod["metadata"]["labels"]["wave"] = str(rng.randrange(1000))
    save(fn, o)
    for fn in files("pods-")[:3]:
        o = load(fn)
        for pod in o["items"]:
            pod["metadata"]["labels"]["wave"] = str(rng.randrange(1000))
        save(fn, o)

mutations = [(m_pod_add, 6), (m_pod_remove, 4), (lambda: edit_pod(relabel), 5),
             (lambda: edit_pod(move), 2), (lambda: edit_pod(readdress), 2),
             (lambda: edit_pod(reports), 2), (m_ns_relabel, 3), (m_pol_edit, 4),
             (m_pol_park, 3), (m_population, 2), (m_big, 0.3)]
total = sum(w for _, w in mutations)

def pick():
    x = rng.random() * total
    for f, w in mutations:
        x -= w
        if x < 0:
            return f
    return mutations[0][0]

def sync():
    p.stdin.write("sync\n")
    p.stdin.flush()
    return p.stdout.readline().strip()

# egress named ports open to every pod and to an ipBlock: every pod's ports count, not a
# selector's peers' (the generated policies have none of these)
ns0 = load(files("pods-")[0])["items"][0]["metadata"]["namespace"]
save("zz-open-named.json", {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "open-named", "namespace": ns0},
     "spec": {"podSelector": {}, "policyTypes": ["Egress"],
              "egress": [{"ports": [{"port": "http"}]}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "cidr-named", "namespace": ns0},
     "spec": {"podSelector": {}, "policyTypes": ["Egress"],
              "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                          "ports": [{"port": "metrics"}]}]}}]})

first = sync()
print("initial:", first)
bad = partial = full = patched = 0
for step in range(steps):
    for _ in range(1 if rng.random() < 0.8 else rng.randrange(2, 6)):
        pick()()
    out = sync()
    if not out.startswith("ok"):
        bad += 1
        print("step %d: %s" % (step, out))
        break
    if "full=1" in out:
        full += 1
    else:
        partial += 1
    patched += "patched=1" in out
p.stdin.close()
sys.stdout.write(p.stdout.read())  # after a mismatch: the lines that differ
rc = p.wait()
print("%d steps: %d incremental (%d of them patching the last table), %d full, %d mismatches"
      % (steps, partial, patched, full, bad))
# the walk must have exercised both paths, or it proved nothing about reuse
sys.exit(1 if bad or rc or partial < steps // 2 or patched < partial // 2 or full == 0 else 0)
PY
