#!/usr/bin/env python3
"""Writes tests/data/admin-cases/ from the network-policy-api conformance suite.

Usage: gen.py NETWORK_POLICY_API_CHECKOUT   (a development tool; its output is committed)

Every ConformanceTest of conformance/tests/*.go becomes a case directory, every t.Run() one or
more steps (a new step wherever the test patches an object between probes), in the test's own
order: subtests are stateful upstream (each patch persists into the later subtests), and so are
the steps here. The probes (client pod, protocol, server pod, port, expected verdict) are read
from the Go source; the patches are the MUTATIONS table below, transcribed by hand from the same
source, in the order each test makes them. Manifests come from conformance/base/, with the
HostNetworkPorts template filled in (34345..34352, the suite's default).
"""
import copy, glob, os, re, shutil, sys
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)
NS = "network-policy-conformance-"
HOST_PORTS = list(range(34345, 34353))

# name -> (short id, IPv4, IPv6)
PODS = {
    "gryffindor/harry-potter-0": ("g0", 11), "gryffindor/harry-potter-1": ("g1", 12),
    "slytherin/draco-malfoy-0": ("s0", 21), "slytherin/draco-malfoy-1": ("s1", 22),
    "hufflepuff/cedric-diggory-0": ("h0", 31), "hufflepuff/cedric-diggory-1": ("h1", 32),
    "ravenclaw/luna-lovegood-0": ("r0", 41), "ravenclaw/luna-lovegood-1": ("r1", 42),
}
CENTAUR = "forbidden-forrest/centaur-1"  # hostNetwork, on node-2 (10.200.0.2)

def v4(n): return "10.200.0.%d" % n
def v6(n): return "fd00:200::%d" % n

def dump(objs):
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)

def base():
    d = os.path.join(OUT, "_base")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    houses = ["gryffindor", "slytherin", "hufflepuff", "ravenclaw", "forbidden-forrest"]
    for h in houses:
        open(os.path.join(d, "ns-%s.yaml" % h), "w").write(dump([ns_obj(h, {"conformance-house": h})]))
    ports = [(80, "TCP", "web"), (8080, "TCP", None), (5353, "UDP", None), (53, "UDP", "dns"),
             (9003, "SCTP", None), (9005, "SCTP", None)]
    for name, (short, n) in PODS.items():
        house, pod = name.split("/")
        ctrs = [{"name": "c-%d" % p, "ports": [dict({"containerPort": p, "protocol": pr},
                                                    **({"name": nm} if nm else {}))]}
                for p, pr, nm in ports]
        obj = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod, "namespace": NS + house,
                            "labels": {"conformance-house": house},
                            "annotations": {"netpol.io/host-interface": "veth-" + short}},
               "spec": {"nodeName": "node-1", "containers": ctrs},
               "status": {"podIPs": [{"ip": v4(n)}, {"ip": v6(n)}]}}
        open(os.path.join(d, "pod-%s.yaml" % short), "w").write(dump([obj]))
    hp = HOST_PORTS
    cports = [(hp[0], "TCP", "web-%d" % hp[0]), (hp[1], "TCP", "web-%d" % hp[1]),
              (hp[2], "UDP", "dns-%d" % hp[2]), (hp[4], "UDP", "dns-%d" % hp[4])]
    centaur = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "centaur-1", "namespace": NS + "forbidden-forrest",
                            "labels": {"conformance-house": "forbidden-forrest"}},
               "spec": {"nodeName": "node-2", "hostNetwork": True,
                        "containers": [{"name": "c-%d" % p, "ports": [{"containerPort": p, "protocol": pr, "name": nm}]}
                                       for p, pr, nm in cports]},
               "status": {"podIPs": [{"ip": v4(2)}, {"ip": v6(2)}]}}
    open(os.path.join(d, "pod-c1.yaml"), "w").write(dump([centaur]))
    nodes = [{"apiVersion": "v1", "kind": "Node",
              "metadata": {"name": "node-%d" % i, "labels": {"kubernetes.io/os": "linux"}},
              "status": {"addresses": [{"type": "InternalIP", "address": v4(i)},
                                       {"type": "InternalIP", "address": v6(i)}]}}
             for i in (1, 2)]
    open(os.path.join(d, "nodes.yaml"), "w").write(dump(nodes))
    # the kernel harness's topology: NS/POD SHORT V4 V6
    with open(os.path.join(d, "topology"), "w") as f:
        f.write("# NS/POD SHORT IPV4 IPV6 (read by tests/kernel/t-admin-conformance.sh)\n")
        for name, (short, n) in PODS.items():
            f.write("%s %s %s %s\n" % (NS + name, short, v4(n), v6(n)))
        f.write("%s c1 %s %s\n" % (NS + CENTAUR, v4(2), v6(2)))

def ns_obj(house, labels):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NS + house, "labels": labels}}

# ---- patches, per test, in the order the test makes them ----

def swap(pol, d, i, j):
    def f(st):
        r = st["pol"][pol]["spec"][d]
        r[i], r[j] = r[j], r[i]
    return f

def gswap(pol, i, j):
    def f(st):
        swap(pol, "egress", i, j)(st)
        swap(pol, "ingress", i, j)(st)
    return f

def action(pol, d, i, a):
    def f(st):
        st["pol"][pol]["spec"][d][i]["action"] = a
    return f

def priority(pol, p):
    def f(st):
        st["pol"][pol]["spec"]["priority"] = p
    return f

def relabel(house, labels):
    def f(st):
        st["ns"][house] = ns_obj(house, labels)
    return f

def delete(pol):
    def f(st):
        del st["pol"][pol]
    return f

def named(pol, d, i, name):
    def f(st):
        st["pol"][pol]["spec"][d][i]["protocols"] = [{"destinationNamedPort": name}]
    return f

def insert_cidr_rule(pol):
    # upstream builds /32 (or /128) networks from the pods' primary IPs at run time; run over
    # both families here, the rule names both addresses of each pod
    def f(st):
        nets = [v4(41) + "/32", v4(31) + "/32", v6(41) + "/128", v6(31) + "/128"]
        rule = {"name": "allow-egress-to-specific-podIPs", "action": "Accept",
                "to": [{"networks": nets}]}
        st["pol"][pol]["spec"]["egress"].insert(0, rule)
    return f

def ladder(pol, d):
    return [swap(pol, d, 0, 1), swap(pol, d, 0, 2), swap(pol, d, 3, 4)]

def bladder(pol, d):
    return [swap(pol, d, 0, 1)]

MUTATIONS = {
    "CNPAdminTierEgressNamedPort": [named("egress-tcp", "egress", 5, "web")],
    "CNPAdminTierIngressNamedPort": [named("ingress-udp", "ingress", 5, "dns")],
    "CNPAdminTierEgressNodePeers": [],
    "CNPAdminTierEgressInlineCIDRPeers": [
        relabel("slytherin", {"conformance-house": "denied-namespace-label"}),
        relabel("slytherin", {"conformance-house": "slytherin"}),
        insert_cidr_rule("inline-cidr-as-peers-example")],
    "CNPAdminTierEgressSCTP": ladder("egress-sctp", "egress"),
    "CNPAdminTierEgressTCP": ladder("egress-tcp", "egress"),
    "CNPAdminTierEgressUDP": ladder("egress-udp", "egress"),
    "CNPAdminTierIngressSCTP": ladder("ingress-sctp", "ingress"),
    "CNPAdminTierIngressTCP": ladder("ingress-tcp", "ingress"),
    "CNPAdminTierIngressUDP": ladder("ingress-udp", "ingress"),
    "CNPAdminTierGress": [gswap("gress-rules", 0, 1), gswap("gress-rules", 0, 2),
                          gswap("gress-rules", 3, 4)],
    "CNPAdminTierIntegration": [action("pass-example", "ingress", 0, "Pass"),
                                action("pass-example", "egress", 0, "Pass"),
                                delete("allow-gress-from-to-slytherin-to-gryffindor")],
    "CNPAdminTierPriorityField": [priority("old-priority-60-new-priority-40-example", 40)],
    "CNPBaselineTierEgressNamedPort": [named("default", "egress", 3, "dns")],
    "CNPBaselineTierIngressNamedPort": [named("default", "ingress", 3, "web")],
    "CNPBaselineTierEgressNodePeers": [],
    "CNPBaselineTierEgressInlineCIDRPeers": [
        relabel("slytherin", {"conformance-house": "denied-namespace-label"}),
        relabel("slytherin", {"conformance-house": "slytherin"}),
        insert_cidr_rule("default")],
    "CNPBaselineTierEgressSCTP": bladder("default", "egress"),
    "CNPBaselineTierEgressTCP": bladder("default", "egress"),
    "CNPBaselineTierEgressUDP": bladder("default", "egress"),
    "CNPBaselineTierIngressSCTP": bladder("default", "ingress"),
    "CNPBaselineTierIngressTCP": bladder("default", "ingress"),
    "CNPBaselineTierIngressUDP": bladder("default", "ingress"),
    "CNPBaselineTierGress": [gswap("default", 0, 1)],
}

GETPOD = re.compile(r'(\w+)\s*:?=\s*kubernetes\.GetPod\(t, s\.Client, "([^"]+)", "([^"]+)"')
POKE = re.compile(r'PokeServer\(t, s\.ClientSet, &s\.KubeConfig, "([^"]+)", "([^"]+)", "(\w+)",\s*'
                  r'(\w+)\.Status\.PodIP, int32\(([^)]+)\), s\.TimeoutConfig, (true|false)\)', re.S)
MUTATE = re.compile(r'kubernetes\.Patch\w+\(|s\.Client\.Delete\(')

def events(body):
    """The subtests of one test: [(title, [event])], event = ('probe', ...) | ('mut',).
    Pods fetched before a t.Run (or in an earlier one) stay in scope, as in the Go code."""
    subs, var = [], {}
    runs = list(re.finditer(r't\.Run\("([^"]+)", func\(t \*testing\.T\) \{', body))
    toks = sorted([(m.start(), "pod", m) for m in GETPOD.finditer(body)] +
                  [(m.start(), "poke", m) for m in POKE.finditer(body)] +
                  [(m.start(), "mut", m) for m in MUTATE.finditer(body)] +
                  [(m.start(), "run", m) for m in runs], key=lambda t: t[0])
    for _, kind, m in toks:
        if kind == "run":
            subs.append((m.group(1), []))
        elif kind == "pod":
            var[m.group(1)] = m.group(2)[len(NS):] + "/" + m.group(3)
        elif kind == "mut":
            subs[-1][1].append(("mut",))
        else:
            port = m.group(5)
            hp = re.match(r's\.HostNetworkPorts\[(\d)\]', port)
            port = HOST_PORTS[int(hp.group(1))] if hp else int(port)
            subs[-1][1].append(("probe", m.group(1)[len(NS):] + "/" + m.group(2), m.group(3).upper(),
                                var[m.group(4)], port, m.group(6) == "true"))
    return subs

def load_manifest(path):
    text = open(path).read()
    for i, p in enumerate(HOST_PORTS):
        text = text.replace("{{ index .HostNetworkPorts %d }}" % i, str(p))
    objs = [o for o in yaml.safe_load_all(text) if o]
    for o in objs:  # `podSelector:` (null) is what the API server reads as {}
        if o["kind"] == "NetworkPolicy" and o["spec"].get("podSelector") is None:
            o["spec"]["podSelector"] = {}
    return objs

def write_step(case_dir, n, st, title, probes, test):
    d = os.path.join(case_dir, str(n))
    os.makedirs(d)
    for name, o in sorted(st["pol"].items()):
        prefix = "np" if o["kind"] == "NetworkPolicy" else "cnp"
        open(os.path.join(d, "%s-%s.yaml" % (prefix, name)), "w").write(dump([o]))
    for house, o in sorted(st["ns"].items()):
        open(os.path.join(d, "ns-%s.yaml" % house), "w").write(dump([o]))
    with open(os.path.join(d, "expect"), "w") as f:
        f.write("# upstream: %s: \"%s\"\nfamilies: 4 6\n" % (test, title))
        for frm, proto, to, port, want in probes:
            f.write("probe %s%s %s%s %s %d %d\n" % (NS, frm, NS, to, proto, port, 1 if want else 0))

def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    base()
    total = [0, 0, 0, 0]
    for f in sorted(glob.glob(os.path.join(src, "conformance/tests/*.go"))):
        code = open(f).read()
        for m in re.finditer(r'var (\w+) = suite\.ConformanceTest\{(.*?)\n\}\n', code, re.S):
            test, body = m.group(1), m.group(2)
            manifest = re.search(r'Manifests:\s*\[\]string\{"([^"]+)"', body).group(1)
            case_dir = os.path.join(OUT, test)
            shutil.rmtree(case_dir, ignore_errors=True)
            os.makedirs(case_dir)
            st = {"pol": {o["metadata"]["name"]: o for o in load_manifest(os.path.join(src, "conformance", manifest))},
                  "ns": {}}
            muts = list(MUTATIONS[test])
            step = 0
            feats = re.findall(r'suite\.Support(\w+)', body)
            for title, evs in events(body):
                total[1] += 1
                probes = []
                for ev in evs:
                    if ev[0] == "mut":
                        if probes:
                            step += 1
                            write_step(case_dir, step, st, title, probes, test)
                            probes = []
                        muts.pop(0)(st)
                    else:
                        probes.append(ev[1:])
                        total[2] += 1
                        total[3] += ev[2] == "SCTP"
                if probes:
                    step += 1
                    write_step(case_dir, step, st, title, probes, test)
            assert not muts, "%s: %d patches not used" % (test, len(muts))
            open(os.path.join(case_dir, "README"), "w").write(
                "upstream: conformance/tests/%s (%s)\nmanifest: conformance/%s\nfeatures: %s\n"
                % (os.path.basename(f), test, manifest, " ".join(feats)))
            total[0] += 1
    print("%d tests, %d subtests, %d probes (%d SCTP)" % tuple(total))

main()
