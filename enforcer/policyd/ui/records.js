// records.js — what the page reads from a flow record (a Hubble flow with netpol's fields, as
// /api/v1/flows and `netpol flows -o json` give it).

function end(e, ip) {
  const pod = e && e.pod_name ? e.namespace + '/' + e.pod_name : null;
  return { pod, ns: e && e.namespace ? e.namespace : null, ip: ip || '', name: pod || ip || '?' };
}

function names(list) {
  return (list || []).map((p) => (p.namespace ? p.namespace + '/' : p.kind + '/') + p.name);
}

export function view(r) {
  const l4 = r.l4 || {};
  const proto = Object.keys(l4)[0] || '';
  const ports = l4[proto] || {};
  const n = r.netpol || {};
  const allowed = names(r.egress_allowed_by).concat(names(r.ingress_allowed_by));
  const denied = names(r.egress_denied_by).concat(names(r.ingress_denied_by));
  const isolated = names(n.egress_isolated_by).concat(names(n.ingress_isolated_by));
  return {
    seq: n.seq,
    time: r.time || '',
    event: n.event || '',
    verdict: r.verdict || '',
    dir: (r.traffic_direction || '').replace('TRAFFIC_DIRECTION_UNKNOWN', '?'),
    src: end(r.source, r.IP && r.IP.source),
    dst: end(r.destination, r.IP && r.IP.destination),
    family: r.IP && r.IP.ipVersion === 'IPv6' ? 6 : 4,
    proto,
    port: ports.destination_port,
    allowed: [...new Set(allowed)],
    denied: [...new Set(denied)],
    isolated: [...new Set(isolated)],
    folded: n.folded || 1,
    lost: r.lost_events ? r.lost_events.num_events_lost || 0 : null,
  };
}

// The policy column: what dropped it, else what allowed it, else "no policy".
export function policyText(v) {
  if (v.denied.length) return v.denied.join(', ');
  if (v.allowed.length) return v.allowed.join(', ');
  return '';
}

// The explain query for a record (null when it is not a pod or address flow with a port).
export function explainQuery(v) {
  if (!v.port || !['TCP', 'UDP', 'SCTP'].includes(v.proto)) return null;
  return {
    from: v.src.pod || v.src.ip,
    to: v.dst.pod || v.dst.ip,
    port: v.port + '/' + v.proto,
    family: String(v.family),
  };
}

export function shortTime(t) {
  const m = /T(\d\d:\d\d:\d\d)(\.\d{3})?/.exec(t);
  return m ? m[1] + (m[2] || '') : t;
}
