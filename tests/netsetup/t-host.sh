#!/bin/sh
# host driver: the endpoint shares the node's netns; it is recorded and reported by inspect, and
# no interface is created anywhere.
. "$(dirname "$0")/../lib/netns.sh"
NODE=${T}node
mkns $NODE
check "host network refuses subnets" fails np $NODE create h --driver host --subnet 10.99.50.0/24
check "create host network" np $NODE create hostnet --driver host
LINKS=$(ip -n $NODE -o link | wc -l)
check "attach by id" np $NODE attach hostnet --id agent --pod kube-system/agent --labels app=agent
check "attach needs an id or netns" fails np $NODE attach hostnet
check "no interface created" [ "$(ip -n $NODE -o link | wc -l)" = "$LINKS" ]
inspect_ok() {
	np $NODE inspect hostnet | jq -e '.[0].Driver == "host" and
		(.[0].Containers.agent | .Driver == "host" and .Pod.namespace == "kube-system" and
		 .Labels.app == "agent" and .IPv4Address == "")' >/dev/null
}
check "inspect shows the endpoint" inspect_ok
check "record kept on disk" [ -s "$STATE/endpoints/hostnet/agent.json" ]
# a process of the node netns, never this shell (whose netns is the machine's own)
ip netns exec $NODE sleep 60 &
SPID=$!
pid_id() { np $NODE attach hostnet --netns /proc/$SPID/ns/net | jq -e ".id == \"pid$SPID\"" >/dev/null; }
check "a /proc/PID/ns/net path names the endpoint pidPID" pid_id
check "detach" np $NODE detach hostnet --id agent
check "detach pid$SPID" np $NODE detach hostnet --id pid$SPID
kill $SPID
check "rm" np $NODE rm hostnet
check "inspect of a removed network fails" fails np $NODE inspect hostnet
finish
