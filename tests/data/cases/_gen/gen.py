#!/usr/bin/env python3
"""gen.py — writes tests/data/cases/ (the _base cluster and one directory per case).

This is a development tool, not run by the test suite: its output is committed. It exists so
that every expected truth table is written the way upstream writes it — as a sequence of
reachability.Expect* calls over the 9-pod model — instead of as 81 hand-typed digits, and so a
reviewer can compare each case line by line with
kubernetes/test/e2e/network/netpol/network_policy.go (the 9-pod revision, where
initializeResources() creates x/a ... z/c; later revisions run each It() on a subset of these
pods with the same Expect* calls, plus "x/c" and "z/a" rows that only the 9-pod revision
spells out).

Expected tables are NEVER computed by netpol's evaluator: they come only from the calls below.

Loopback: upstream sets ignoreLoopback = true (reachability.go Summary) because a pod reaching
itself is undefined across CNIs. netpol's semantics (and a real packet, which never leaves the
pod's netns) make it always allowed, which is upstream's AllowLoopback(); every table here has
1 on the diagonal.

Usage: python3 tests/data/cases/_gen/gen.py   (rewrites tests/data/cases/*, keeps _gen/)
"""
import os
import shutil
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.dirname(HERE)

NAMESPACES = ["x", "y", "z"]
PODS = ["a", "b", "c"]
ALL = [f"{ns}/{p}" for ns in NAMESPACES for p in PODS]
HOSTNUM = {"x": 1, "y": 2, "z": 3}
PORTS = [80, 81]
PROTOS = ["TCP", "UDP", "SCTP"]


def pod_ip4(ns, pod):
    return f"10.200.0.{HOSTNUM[ns]}{PODS.index(pod) + 1}"


def pod_ip6(ns, pod):
    return f"fd00:200::{HOSTNUM[ns]}{PODS.index(pod) + 1}"


# ---- the cluster objects ---------------------------------------------------------------------

def namespace(ns, extra_labels=None):
    labels = {"ns": ns, "kubernetes.io/metadata.name": ns}
    labels.update(extra_labels or {})
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels}}


def pod(ns, name, extra_labels=None, rename_ports=None):
    """The upstream model pod: one agnhost container per (port, protocol), container port
    named serve-<port>-<proto> (model.go Container.PortName). rename_ports maps a standard
    port name to a replacement, for the named-port extra cases."""
    labels = {"pod": name}
    labels.update(extra_labels or {})
    containers = []
    for port in PORTS:
        for proto in PROTOS:
            pname = f"serve-{port}-{proto.lower()}"
            pname = (rename_ports or {}).get(pname, pname)
            containers.append({
                "name": f"cont-{port}-{proto.lower()}",
                "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                "ports": [{"containerPort": port, "name": pname, "protocol": proto}],
            })
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "annotations": {"netpol.io/host-interface": f"veth-{ns}{name}"}},
        "spec": {"nodeName": "node-1", "containers": containers},
        "status": {"phase": "Running", "podIP": pod_ip4(ns, name),
                   "podIPs": [{"ip": pod_ip4(ns, name)}, {"ip": pod_ip6(ns, name)}]},
    }


def policy(name, ns, pod_selector, ingress=None, egress=None, types="auto"):
    """Mirrors upstream GenNetworkPolicyWithNameAndPodSelector + SetSpecIngressRules /
    SetSpecEgressRules: each Set* call adds its policyType. ingress/egress = None means the
    Set* call was not made; [] means SetSpec*Rules() with no rules. types=None writes no
    policyTypes (inference), or pass an explicit list."""
    spec = {"podSelector": pod_selector}
    if types == "auto":
        types = []
        if ingress is not None:
            types.append("Ingress")
        if egress is not None:
            types.append("Egress")
    if types is not None:
        spec["policyTypes"] = types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def ml(**labels):
    return {"matchLabels": dict(labels)}


def mx(*exprs):
    return {"matchExpressions": [
        {"key": k, "operator": op, **({"values": list(v)} if v is not None else {})}
        for k, op, v in exprs]}


NSKEY = "kubernetes.io/metadata.name"


# ---- upstream's reachability DSL (reachability.go) ---------------------------------------------

class Reach:
    def __init__(self, default=True):
        self.t = {f: {t: default for t in ALL} for f in ALL}

    @staticmethod
    def _match(peer, podstr):
        ns, name = podstr.split("/")
        pns, ppod = peer
        return (pns is None or pns == ns) and (ppod is None or ppod == name)

    def expect(self, frm, to, val):
        self.t[frm][to] = val
        return self

    def all_ingress(self, pod_, val):   # ExpectAllIngress: SetAllTo(pod) = every row, column pod
        for f in ALL:
            self.t[f][pod_] = val
        return self

    def all_egress(self, pod_, val):    # ExpectAllEgress: SetAllFrom(pod) = row pod
        for t in ALL:
            self.t[pod_][t] = val
        return self

    def peer(self, frm, to, val):        # ExpectPeer(&Peer{ns, pod}, &Peer{ns, pod}, val)
        for f in ALL:
            if self._match(frm, f):
                for t in ALL:
                    if self._match(to, t):
                        self.t[f][t] = val
        return self

    def loopback(self):                  # AllowLoopback
        for p in ALL:
            self.t[p][p] = True
        return self


ANY = (None, None)


def NS(ns):
    return (ns, None)


def P(ns, pod_):
    return (ns, pod_)


def table_text(reach):
    w = max(len(p) for p in ALL)
    lines = [" " * w + "".join(" " + p.ljust(w) for p in ALL).rstrip()]
    for f in ALL:
        lines.append(f.ljust(w) + "".join(" " + ("1" if reach.t[f][t] else "0").rjust(w)
                                          for t in ALL))
    return "\n".join(lines) + "\n"


# ---- writing cases ---------------------------------------------------------------------------

class Dumper(yaml.SafeDumper):
    """Quotes every string YAML 1.1 reads as a boolean — including "y" and "n", which PyYAML
    leaves bare but Kubernetes' YAML decoder (go-yaml v2 rules) turns into true/false: namespace
    y must be written 'y'."""


Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    __import__("re").compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
                             r"|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"))


def dump(obj):
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=100)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def base_files():
    files = {}
    for ns in NAMESPACES:
        files[f"ns-{ns}.yaml"] = dump(namespace(ns))
        for p in PODS:
            files[f"pod-{ns}-{p}.yaml"] = dump(pod(ns, p))
    return files


class Case:
    def __init__(self, name, upstream, families=(4, 6), note=None):
        self.name, self.upstream, self.families, self.note = name, upstream, families, note
        self.steps = []

    def step(self, objects, probes, comment=None):
        """objects: {filename: object}; probes: [(proto, port, Reach)]."""
        self.steps.append((objects, probes, comment))
        return self


CASES_LIST = []
SKIPPED = []


def case(name, upstream, **kw):
    c = Case(name, upstream, **kw)
    CASES_LIST.append(c)
    return c


def emit():
    for entry in os.listdir(CASES):
        if entry.startswith("_") and entry != "_base":
            continue
        p = os.path.join(CASES, entry)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif entry != "README.md":
            os.unlink(p)
    for fname, text in base_files().items():
        write(os.path.join(CASES, "_base", fname), text)
    names = set()
    for c in CASES_LIST:
        assert c.name not in names, c.name
        names.add(c.name)
        for i, (objects, probes, comment) in enumerate(c.steps, 1):
            d = os.path.join(CASES, c.name, str(i))
            os.makedirs(d, exist_ok=True)
            for fname, obj in objects.items():
                write(os.path.join(d, fname), dump(obj))
            head = []
            if c.upstream:
                head.append(f'# upstream: "{c.upstream}"')
            if c.note:
                head += ["# " + l for l in c.note.splitlines()]
            if comment:
                head.append(f"# step {i}: {comment}")
            text = "\n".join(head) + "\n" + "families: " + " ".join(map(str, c.families)) + "\n"
            for proto, port, reach in probes:
                reach.loopback()
                text += f"probe {proto} {port}\n" + table_text(reach)
            write(os.path.join(d, "expect"), text)
    for name, upstream, why in SKIPPED:
        write(os.path.join(CASES, name, "README"),
              f'upstream: "{upstream}"\nskipped: {why}\n')


# ---- upstream: "NetworkPolicy between server and client" -------------------------------------

def np_file(pol):
    return {f"np-{pol['metadata']['namespace']}-{pol['metadata']['name']}.yaml": pol}


def objs(*pols, **extra):
    out = {}
    for p in pols:
        out.update(np_file(p))
    out.update(extra)
    return out


UP = "NetworkPolicy between server and client: "
UP_UDP = "NetworkPolicy between server and client using UDP: "
UP_SCTP = "NetworkPolicy between server and client using SCTP: "


def deny_ingress_ns_x(name="deny-ingress"):
    return policy(name, "x", {}, ingress=[])


def upstream_cases():
    case("default-deny-ingress", UP + "should support a 'default-deny-ingress' policy").step(
        objs(deny_ingress_ns_x()),
        [("TCP", 80, Reach().peer(ANY, NS("x"), False))])

    case("default-deny-all", UP + "should support a 'default-deny-all' policy").step(
        objs(policy("deny-all", "x", {}, ingress=[], egress=[])),
        [("TCP", 80, Reach().peer(ANY, NS("x"), False).peer(NS("x"), ANY, False))])

    case("podselector-in-server-ns", UP + "should enforce policy to allow traffic from pods "
         "within server namespace based on PodSelector").step(
        objs(policy("x-a-allows-x-b", "x", ml(pod="a"),
                    ingress=[{"from": [{"podSelector": ml(pod="b")}]}])),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("x/b", "x/a", True))])

    case("ingress-for-target", UP + "should enforce policy to allow ingress traffic for a "
         "target").step(
        objs(policy("deny-all", "x", {}, ingress=[]),
             policy("allow-all-to-a", "x", ml(pod="a"),
                    ingress=[{"from": [{"podSelector": {}, "namespaceSelector": {}}]}])),
        [("TCP", 80, Reach().all_ingress("x/a", True).all_ingress("x/b", False)
          .all_ingress("x/c", False))])

    case("ingress-from-all-namespaces", UP + "should enforce policy to allow ingress traffic "
         "from pods in all namespaces").step(
        objs(policy("allow-from-another-ns", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": {"matchLabels": {}}}]}])),
        [("TCP", 80, Reach())])

    case("nsselector-other-ns", UP + "should enforce policy to allow traffic only from a "
         "different namespace, based on NamespaceSelector").step(
        objs(policy("allow-client-a-via-ns-selector", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": ml(**{NSKEY: "y"})}]}])),
        [("TCP", 80, Reach().peer(NS("x"), P("x", "a"), False).peer(NS("z"), P("x", "a"), False))])

    case("podselector-matchexpressions", UP + "should enforce policy based on PodSelector with "
         "MatchExpressions").step(
        objs(policy("x-a-allows-x-b", "x", ml(pod="a"),
                    ingress=[{"from": [{"podSelector": mx(("pod", "In", ["b"]))}]}])),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("x/b", "x/a", True))])

    case("nsselector-matchexpressions", UP + "should enforce policy based on NamespaceSelector "
         "with MatchExpressions").step(
        objs(policy("allow-ns-y-match-selector", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": mx((NSKEY, "In", ["y"]))}]}])),
        [("TCP", 80, Reach().peer(NS("x"), P("x", "a"), False).peer(NS("z"), P("x", "a"), False))])

    case("podselector-or-nsselector", UP + "should enforce policy based on PodSelector or "
         "NamespaceSelector").step(
        objs(policy("allow-ns-y-match-selector", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": mx((NSKEY, "NotIn", ["x"]))},
                                       {"podSelector": ml(pod="b")}]}])),
        [("TCP", 80, Reach().expect("x/a", "x/a", False).expect("x/c", "x/a", False))])

    case("podselector-and-nsselector", UP + "should enforce policy based on PodSelector and "
         "NamespaceSelector").step(
        objs(policy("allow-ns-y-podselector-and-nsselector", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": mx((NSKEY, "NotIn", ["x"])),
                                        "podSelector": ml(pod="b")}]}])),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("y/b", "x/a", True)
          .expect("z/b", "x/a", True))])

    case("multiple-podselectors-and-nsselectors", UP + "should enforce policy based on Multiple "
         "PodSelectors and NamespaceSelectors").step(
        objs(policy("allow-ns-y-z-pod-b-c", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": mx((NSKEY, "NotIn", ["x"])),
                                        "podSelector": mx(("pod", "In", ["b", "c"]))}]}])),
        [("TCP", 80, Reach().peer(NS("x"), P("x", "a"), False).expect("y/a", "x/a", False)
          .expect("z/a", "x/a", False))])

    case("any-podselectors", UP + "should enforce policy based on any PodSelectors").step(
        objs(policy("allow-ns-x-pod-b-c", "x", ml(pod="a"),
                    ingress=[{"from": [{"podSelector": ml(pod="b")},
                                       {"podSelector": ml(pod="c")}]}])),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("x/b", "x/a", True)
          .expect("x/c", "x/a", True))])

    pod_a_in_y = [{"from": [{"namespaceSelector": ml(**{NSKEY: "y"}), "podSelector": ml(pod="a")}]}]
    case("pod-in-other-ns-by-pod-and-ns-selector", UP + "should enforce policy to allow traffic "
         "only from a pod in a different namespace based on PodSelector and NamespaceSelector").step(
        objs(policy("allow-ns-y-pod-a-via-namespace-pod-selector", "x", ml(pod="a"),
                    ingress=pod_a_in_y)),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("y/a", "x/a", True))])

    def port81_from_y(name, proto):
        return policy(name, "x", ml(pod="a"), ingress=[{
            "from": [{"namespaceSelector": ml(**{NSKEY: "y"})}],
            "ports": [{"port": 81, "protocol": proto}]}])

    def allow_81():
        return (Reach().peer(NS("x"), P("x", "a"), False).peer(NS("y"), P("x", "a"), True)
                .peer(NS("z"), P("x", "a"), False))

    case("ports", UP + "should enforce policy based on Ports").step(
        objs(port81_from_y("allow-client-a-via-ns-selector", "TCP")),
        [("TCP", 81, allow_81())])

    p81 = port81_from_y("allow-client-a-via-ns-selector", "TCP")
    p80 = policy("allow-client-a-via-ns-selector-80", "x", ml(pod="a"), ingress=[{
        "from": [{"namespaceSelector": ml(**{NSKEY: "y"})}],
        "ports": [{"port": 80, "protocol": "TCP"}]}])
    case("stacked-policies", UP + "should enforce multiple, stacked policies with overlapping "
         "podSelectors").step(
        objs(p81), [("TCP", 81, allow_81()), ("TCP", 80, Reach().all_ingress("x/a", False))],
        "only the port-81 policy").step(
        objs(p81, p80), [("TCP", 80, allow_81())], "the port-80 policy added")

    case("allow-all", UP + "should support allow-all policy").step(
        objs(policy("allow-all", "x", {"matchLabels": {}}, ingress=[{}])),
        [("TCP", 80, Reach()), ("TCP", 81, Reach())])

    case("ingress-named-port", UP + "should allow ingress access on one named port").step(
        objs(policy("allow-all", "x", {"matchLabels": {}},
                    ingress=[{"ports": [{"port": "serve-81-tcp"}]}])),
        [("TCP", 81, Reach()), ("TCP", 80, Reach().peer(ANY, NS("x"), False))])

    case("ingress-from-ns-named-port", UP + "should allow ingress access from namespace on one "
         "named port").step(
        objs(policy("allow-client-a-via-ns-selector-80", "x", ml(pod="a"), ingress=[{
            "from": [{"namespaceSelector": ml(**{NSKEY: "y"})}],
            "ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}])),
        [("TCP", 80, Reach().peer(NS("x"), P("x", "a"), False).peer(NS("z"), P("x", "a"), False)),
         ("TCP", 81, Reach().all_ingress("x/a", False))])

    case("egress-named-port", UP + "should allow egress access on one named port").step(
        objs(policy("allow-egress", "x", {"matchLabels": {}},
                    egress=[{"ports": [{"port": "serve-80-tcp"}]}])),
        [("TCP", 80, Reach()), ("TCP", 81, Reach().peer(NS("x"), ANY, False))])

    case("updated-policy", UP + "should enforce updated policy").step(
        objs(policy("allow-all-mutate-to-deny-all", "x", {"matchLabels": {}}, ingress=[{}])),
        [("TCP", 81, Reach())], "allow all").step(
        objs(policy("allow-all-mutate-to-deny-all", "x", {"matchLabels": {}}, ingress=[])),
        [("TCP", 81, Reach().peer(ANY, NS("x"), False))], "the same policy updated to deny all")

    ns2 = policy("allow-client-a-via-ns-selector", "x", ml(pod="a"),
                 ingress=[{"from": [{"namespaceSelector": ml(ns2="updated")}]}])
    case("ingress-from-updated-namespace", UP + "should allow ingress access from updated "
         "namespace").step(
        objs(ns2), [("TCP", 80, Reach().all_ingress("x/a", False))]).step(
        objs(ns2, **{"ns-y.yaml": namespace("y", {"ns2": "updated"})}),
        [("TCP", 80, Reach().all_ingress("x/a", False).peer(NS("y"), ANY, True))],
        "namespace y labelled ns2=updated")

    pod2 = policy("allow-client-a-via-pod-selector", "x", ml(pod="a"),
                  ingress=[{"from": [{"podSelector": ml(pod="b", pod2="updated")}]}])
    case("ingress-from-updated-pod", UP + "should allow ingress access from updated pod").step(
        objs(pod2), [("TCP", 80, Reach().all_ingress("x/a", False))]).step(
        objs(pod2, **{"pod-x-b.yaml": pod("x", "b", {"pod2": "updated"})}),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("x/b", "x/a", True))],
        "pod x/b labelled pod2=updated")

    case("deny-ingress-from-other-namespaces", UP + "should deny ingress from pods on other "
         "namespaces").step(
        objs(policy("deny-empty-policy", "x", {},
                    ingress=[{"from": [{"podSelector": {"matchLabels": {}}}]}])),
        [("TCP", 80, Reach().peer(NS("y"), NS("x"), False).peer(NS("z"), NS("x"), False))])

    iso = policy("deny-ingress-via-label-selector", "x", ml(target="isolated"), ingress=[])
    case("deny-ingress-to-updated-pod", UP + "should deny ingress access to updated pod").step(
        objs(iso), [("TCP", 80, Reach())]).step(
        objs(iso, **{"pod-x-a.yaml": pod("x", "a", {"target": "isolated"})}),
        [("TCP", 80, Reach().all_ingress("x/a", False))], "pod x/a labelled target=isolated")

    case("deny-egress-by-podselector", UP + "should deny egress from pods based on "
         "PodSelector").step(
        objs(policy("deny-egress-pod-a", "x", ml(pod="a"), egress=[])),
        [("TCP", 80, Reach().all_egress("x/a", False))])

    case("deny-egress-all-pods-in-ns", UP + "should deny egress from all pods in a "
         "namespace").step(
        objs(policy("deny-egress-ns-x", "x", {}, egress=[])),
        [("TCP", 80, Reach().peer(NS("x"), ANY, False))])

    case("ingress-and-egress-together", UP + "should work with Ingress, Egress specified "
         "together").step(
        objs(policy("allow-client-a-via-pod-selector", "x", ml(pod="a"),
                    ingress=[{"from": [{"podSelector": ml(pod="b")}]}],
                    egress=[{"ports": [{"port": 80}]}], types=["Egress", "Ingress"])),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("x/b", "x/a", True)),
         ("TCP", 81, Reach().all_ingress("x/a", False).all_egress("x/a", False)
          .expect("x/b", "x/a", True))])

    xa_from = [{"from": [{"namespaceSelector": ml(**{NSKEY: "x"}), "podSelector": ml(pod="a")}]}]
    case("deny-egress-client-side", UP + "should support denying of egress traffic on the "
         "client side (even if the server explicitly allows this traffic)").step(
        objs(policy("allow-to-ns-y-pod-a", "x", ml(pod="a"),
                    egress=[{"to": [{"namespaceSelector": ml(**{NSKEY: "y"}),
                                     "podSelector": ml(pod="a")}]}]),
             policy("allow-from-xa-on-ya-match-selector", "y", ml(pod="a"), ingress=xa_from),
             policy("allow-from-xa-on-yb-match-selector", "y", ml(pod="b"), ingress=xa_from)),
        [("TCP", 80, Reach().peer(P("x", "a"), ANY, False).peer(ANY, P("y", "a"), False)
          .peer(P("x", "a"), P("y", "a"), True).peer(ANY, P("y", "b"), False))])

    case("egress-to-other-ns-by-pod-and-ns-selector", UP + "should enforce egress policy "
         "allowing traffic to a server in a different namespace based on PodSelector and "
         "NamespaceSelector").step(
        objs(policy("allow-to-ns-y-pod-a", "x", ml(pod="a"),
                    egress=[{"to": [{"namespaceSelector": ml(**{NSKEY: "y"}),
                                     "podSelector": ml(pod="a")}]}])),
        [("TCP", 80, Reach().all_egress("x/a", False).expect("x/a", "y/a", True))])

    case("ingress-any-port-on-protocol", UP + "should enforce ingress policy allowing any port "
         "traffic to a server on a specific protocol").step(
        objs(policy("allow-ingress-by-proto", "x", ml(pod="a"),
                    ingress=[{"ports": [{"protocol": "TCP"}]}])),
        [("TCP", 80, Reach()), ("UDP", 80, Reach().peer(ANY, P("x", "a"), False))])

    only80_in = policy("allow-ingress-port-80", "x", {"matchLabels": {}},
                       ingress=[{"ports": [{"port": 80}]}])
    case("multiple-ingress-allow-all-precedence", UP + "should enforce multiple ingress policies "
         "with ingress allow-all policy taking precedence").step(
        objs(only80_in), [("TCP", 81, Reach().peer(ANY, NS("x"), False))]).step(
        objs(only80_in, policy("allow-ingress", "x", {"matchLabels": {}}, ingress=[{}])),
        [("TCP", 81, Reach())], "allow-all ingress policy added")

    only80_out = policy("allow-egress-port-80", "x", {"matchLabels": {}},
                        egress=[{"ports": [{"port": 80}]}])
    case("multiple-egress-allow-all-precedence", UP + "should enforce multiple egress policies "
         "with egress allow-all policy taking precedence").step(
        objs(only80_out), [("TCP", 81, Reach().peer(NS("x"), ANY, False))]).step(
        objs(only80_out, policy("allow-egress", "x", {"matchLabels": {}}, egress=[{}])),
        [("TCP", 81, Reach())], "allow-all egress policy added")

    case("stop-enforcing-after-delete", UP + "should stop enforcing policies after they are "
         "deleted").step(
        objs(policy("deny-all", "x", {}, ingress=[], egress=[])),
        [("TCP", 80, Reach().peer(NS("x"), ANY, False).peer(ANY, NS("x"), False))]).step(
        {}, [("TCP", 80, Reach())], "every policy deleted")

    v4 = "IPv4 only: upstream builds the ipBlock from pod.Status.PodIP (the primary family);\n" \
         "the addresses here are fixed, so the CIDRs are written literally."
    case("egress-cidr", UP + "should allow egress access to server in CIDR block",
         families=(4,), note=v4).step(
        objs(policy("allow-client-a-via-cidr-egress-rule", "x", ml(pod="a"),
                    egress=[{"to": [{"ipBlock": {"cidr": pod_ip4("y", "b") + "/32"}}]}])),
        [("TCP", 80, Reach().all_egress("x/a", False).expect("x/a", "y/b", True))])

    # The 9-pod revision writes "<x/a IP>/4" (host bits set); later revisions mask it with
    # makeLargeCIDRForIP. 10.200.0.11/4 masks to 0.0.0.0/4.
    big_except = policy("allow-client-a-via-cidr-egress-rule", "x", ml(pod="a"), egress=[{
        "to": [{"ipBlock": {"cidr": "0.0.0.0/4", "except": [pod_ip4("x", "b") + "/32"]}}]}])
    case("egress-cidr-except", UP + "should enforce except clause while egress access to server "
         "in CIDR block", families=(4,), note=v4).step(
        objs(big_except), [("TCP", 80, Reach().expect("x/a", "x/b", False))])

    case("ipblock-cidr-and-except-overlap", UP + "should ensure an IP overlapping both "
         "IPBlock.CIDR and IPBlock.Except is allowed", families=(4,), note=v4).step(
        objs(big_except), [("TCP", 80, Reach().expect("x/a", "x/b", False))]).step(
        objs(policy("allow-client-a-via-cidr-egress-rule", "x", ml(pod="a"),
                    egress=[{"to": [{"ipBlock": {"cidr": pod_ip4("x", "b") + "/32"}}]}])),
        [("TCP", 80, Reach().all_egress("x/a", False).expect("x/a", "x/b", True))],
        "the policy updated (same name) to allow exactly x/b's address")

    eg = policy("allow-egress-for-target", "x", ml(pod="a"), egress=[{}])
    case("ingress-egress-independent", UP + "should enforce policies to check ingress and egress "
         "policies can be controlled independently based on PodSelector").step(
        objs(eg), [("TCP", 80, Reach())]).step(
        objs(eg, policy("deny-ingress-via-label-selector", "x", ml(pod="a"), ingress=[])),
        [("TCP", 80, Reach().all_ingress("x/a", False))], "deny-ingress policy for x/a added")

    case("sctp-not-treated-as-tcp", UP + "should not mistakenly treat 'protocol: SCTP' as "
         "'protocol: TCP', even if the plugin doesn't support SCTP").step(
        objs(deny_ingress_ns_x(),
             policy("allow-only-sctp-ingress-on-port-81", "x", ml(pod="a"),
                    ingress=[{"ports": [{"port": 81, "protocol": "SCTP"}]}])),
        [("TCP", 81, Reach().peer(ANY, NS("x"), False))])

    case("sctp-policy-isolates", UP + "should properly isolate pods that are selected by a policy "
         "allowing SCTP, even if the plugin doesn't support SCTP").step(
        objs(policy("allow-only-sctp-ingress-on-port-80", "x", ml(pod="a"),
                    ingress=[{"ports": [{"port": 80, "protocol": "SCTP"}]}])),
        [("TCP", 81, Reach().all_ingress("x/a", False))])

    case("udp-only-policy-blocks-tcp", UP + "should not allow access by TCP when a policy "
         "specifies only UDP").step(
        objs(policy("allow-only-udp-ingress-on-port-81", "x", ml(pod="a"),
                    ingress=[{"ports": [{"port": 81, "protocol": "UDP"}]}])),
        [("TCP", 81, Reach().all_ingress("x/a", False))])

    case("nsselector-matchlabels-default-ns-label", UP + "should enforce policy to allow traffic "
         "based on NamespaceSelector with MatchLabels using default ns label").step(
        objs(policy("allow-client-a-via-ns-selector-for-immutable-ns-label", "x", ml(pod="a"),
                    ingress=[{"from": [{"namespaceSelector": ml(**{NSKEY: "y"})}]}])),
        [("TCP", 80, Reach().peer(NS("x"), P("x", "a"), False).peer(NS("z"), P("x", "a"), False))])

    case("nsselector-matchexpressions-default-ns-label", UP + "should enforce policy based on "
         "NamespaceSelector with MatchExpressions using default ns label").step(
        objs(policy("allow-ns-y-match-selector-for-immutable-ns-label", "x", ml(pod="a"),
                    egress=[{"to": [{"namespaceSelector": mx((NSKEY, "NotIn", ["y"]))}]}])),
        [("TCP", 80, Reach().peer(P("x", "a"), NS("y"), False))])

    # ---- "NetworkPolicy between server and client using UDP" / "... using SCTP" ----
    for proto, up in (("UDP", UP_UDP), ("SCTP", UP_SCTP)):
        lp = proto.lower()
        case(f"{lp}-default-deny-ingress", up + "should support a 'default-deny-ingress' "
             "policy").step(
            objs(policy("deny-all", "x", {}, ingress=[])),
            [(proto, 80, Reach().peer(ANY, NS("x"), False))])
        case(f"{lp}-ports", up + "should enforce policy based on Ports").step(
            objs(port81_from_y("allow-ingress-on-port-81-ns-x", proto)),
            [(proto, 81, Reach().peer(NS("x"), P("x", "a"), False)
              .peer(NS("z"), P("x", "a"), False))])
        case(f"{lp}-pod-in-other-ns-by-pod-and-ns-selector", up + "should enforce policy to allow "
             "traffic only from a pod in a different namespace based on PodSelector and "
             "NamespaceSelector").step(
            objs(policy("allow-ns-y-pod-a-via-namespace-pod-selector", "x", ml(pod="a"),
                        ingress=pod_a_in_y)),
            [(proto, 80, Reach().all_ingress("x/a", False).expect("y/a", "x/a", True))])


# ---- extra cases (not upstream): the expected tables follow the NetworkPolicy v1 API
# reference, written with the same Expect* calls ------------------------------------------------

def extra_cases():
    case("extra-policytypes-inferred", None, note=(
        "extra: policyTypes absent. x/a's policy has ingress and egress sections, so both\n"
        "types are inferred. z/c's policy has only an egress section: Ingress is always\n"
        "inferred, so z/c is isolated for ingress with no ingress rule (nothing reaches it),\n"
        "while its egress stays open (one empty egress rule).")).step(
        objs(policy("a-in-from-b-out-to-y", "x", ml(pod="a"),
                    ingress=[{"from": [{"podSelector": ml(pod="b")}]}],
                    egress=[{"to": [{"namespaceSelector": ml(ns="y")}]}], types=None),
             policy("c-egress-only-section", "z", ml(pod="c"), egress=[{}], types=None)),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("x/b", "x/a", True)
          .all_egress("x/a", False).peer(P("x", "a"), NS("y"), True)
          .all_ingress("z/c", False))])

    case("extra-endport", None, note=(
        "extra: endPort ranges (inclusive). x/a admits TCP 81-85 only; y/b admits UDP 70-80\n"
        "only.")).step(
        objs(policy("tcp-81-85", "x", ml(pod="a"),
                    ingress=[{"ports": [{"protocol": "TCP", "port": 81, "endPort": 85}]}]),
             policy("udp-70-80", "y", ml(pod="b"),
                    ingress=[{"ports": [{"protocol": "UDP", "port": 70, "endPort": 80}]}])),
        [("TCP", 80, Reach().all_ingress("x/a", False).all_ingress("y/b", False)),
         ("TCP", 81, Reach().all_ingress("y/b", False)),
         ("UDP", 80, Reach().all_ingress("x/a", False)),
         ("UDP", 81, Reach().all_ingress("x/a", False).all_ingress("y/b", False))])

    case("extra-matchexpressions", None, note=(
        "extra: every matchExpressions operator. y/c is labelled tier=db and z/a tier=web.\n"
        "x/a admits pods with a tier label in namespaces that have an ns label (Exists);\n"
        "x/b admits pods without tier (DoesNotExist) in namespaces NotIn [x, y];\n"
        "x/c admits pods of its own namespace whose pod label is In [a, b].")).step(
        objs(policy("tier-exists", "x", ml(pod="a"), ingress=[{"from": [{
                 "namespaceSelector": mx(("ns", "Exists", None)),
                 "podSelector": mx(("tier", "Exists", None))}]}]),
             policy("no-tier-not-x-y", "x", ml(pod="b"), ingress=[{"from": [{
                 "namespaceSelector": mx(("ns", "NotIn", ["x", "y"])),
                 "podSelector": mx(("tier", "DoesNotExist", None))}]}]),
             policy("pod-in-a-b", "x", ml(pod="c"), ingress=[{"from": [{
                 "podSelector": mx(("pod", "In", ["a", "b"]))}]}]),
             **{"pod-y-c.yaml": pod("y", "c", {"tier": "db"}),
                "pod-z-a.yaml": pod("z", "a", {"tier": "web"})}),
        [("TCP", 80, Reach().all_ingress("x/a", False).expect("y/c", "x/a", True)
          .expect("z/a", "x/a", True)
          .all_ingress("x/b", False).expect("z/b", "x/b", True).expect("z/c", "x/b", True)
          .all_ingress("x/c", False).expect("x/a", "x/c", True).expect("x/b", "x/c", True))])

    case("extra-named-port-egress", None, note=(
        "extra: a named port in an egress rule resolves on each destination pod, by name and\n"
        "protocol. y/a calls its TCP 80 port \"http\", y/b calls its TCP 81 port \"http\".\n"
        "x/a may send to \"http\" (TCP) and to \"serve-80-udp\" with protocol TCP, which no pod\n"
        "has (the name exists only for UDP), so that entry matches nothing.")).step(
        objs(policy("egress-http", "x", ml(pod="a"), egress=[{"ports": [
                {"port": "http"}, {"port": "serve-80-udp", "protocol": "TCP"}]}]),
             **{"pod-y-a.yaml": pod("y", "a", rename_ports={"serve-80-tcp": "http"}),
                "pod-y-b.yaml": pod("y", "b", rename_ports={"serve-81-tcp": "http"})}),
        [("TCP", 80, Reach().all_egress("x/a", False).expect("x/a", "y/a", True)),
         ("TCP", 81, Reach().all_egress("x/a", False).expect("x/a", "y/b", True)),
         ("UDP", 80, Reach().all_egress("x/a", False))])

    case("extra-ipblock-except", None, families=(4,), note=(
        "extra: ingress ipBlock with except. x/a admits 10.200.0.0/24 except 10.200.0.16/28\n"
        "(.16-.31: y/a .21, y/b .22, y/c .23, z/a .31); pod sources are matched by address.")).step(
        objs(policy("from-24-except-28", "x", ml(pod="a"), ingress=[{"from": [{"ipBlock": {
            "cidr": "10.200.0.0/24", "except": ["10.200.0.16/28"]}}]}])),
        [("TCP", 80, Reach().peer(NS("y"), P("x", "a"), False).expect("z/a", "x/a", False))])

    case("extra-ipv6-ipblock", None, families=(6,), note=(
        "extra: IPv6 ipBlock. x/b admits fd00:200::20/124 (y/a ::21, y/b ::22, y/c ::23) and\n"
        "nothing else; probed over IPv6.")).step(
        objs(policy("from-y-v6", "x", ml(pod="b"), ingress=[{"from": [{"ipBlock": {
            "cidr": "fd00:200::20/124"}}]}])),
        [("TCP", 80, Reach().all_ingress("x/b", False).peer(NS("y"), P("x", "b"), True))])

    dual = policy("from-z-v4-only", "y", ml(pod="c"), ingress=[{"from": [{"ipBlock": {
        "cidr": "10.200.0.28/30"}}]}])
    dual_note = ("extra: dual-stack pods, a policy with only an IPv4 ipBlock (10.200.0.28/30 =\n"
                 ".28-.31: z/a only). y/c is isolated for ingress in both families; over IPv6 no\n"
                 "peer matches, so that side stays closed.")
    case("extra-dualstack-ipv4-only-ipblock-v4", None, families=(4,), note=dual_note).step(
        objs(dual), [("TCP", 80, Reach().all_ingress("y/c", False).expect("z/a", "y/c", True))])
    case("extra-dualstack-ipv4-only-ipblock-v6", None, families=(6,), note=dual_note).step(
        objs(dual), [("TCP", 80, Reach().all_ingress("y/c", False))])

    db = policy("db-from-team-blue", "y", ml(role="db"),
                ingress=[{"from": [{"namespaceSelector": ml(team="blue")}]}])
    case("extra-label-change-between-steps", None, note=(
        "extra: labels change between steps. The policy selects role=db pods of y and admits\n"
        "namespaces labelled team=blue.")).step(
        objs(db), [("TCP", 80, Reach())], "no pod has role=db: nothing is isolated").step(
        objs(db, **{"pod-y-b.yaml": pod("y", "b", {"role": "db"})}),
        [("TCP", 80, Reach().all_ingress("y/b", False))],
        "y/b labelled role=db: isolated, no namespace is team=blue").step(
        objs(db, **{"pod-y-b.yaml": pod("y", "b", {"role": "db"}),
                    "ns-z.yaml": namespace("z", {"team": "blue"})}),
        [("TCP", 80, Reach().all_ingress("y/b", False).peer(NS("z"), P("y", "b"), True))],
        "namespace z labelled team=blue").step(
        objs(db, **{"ns-z.yaml": namespace("z", {"team": "blue"})}),
        [("TCP", 80, Reach())], "role=db removed from y/b again")


if __name__ == "__main__":
    upstream_cases()
    extra_cases()
    emit()
    n_up = sum(1 for c in CASES_LIST if c.upstream)
    n_ex = len(CASES_LIST) - n_up
    steps = sum(len(c.steps) for c in CASES_LIST)
    probes = sum(len(s[1]) for c in CASES_LIST for s in c.steps)
    print(f"{n_up} upstream cases, {n_ex} extra, {len(SKIPPED)} skipped; "
          f"{steps} steps, {probes} probes", file=sys.stderr)
