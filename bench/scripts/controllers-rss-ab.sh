#!/bin/bash
# Server RSS with and without the controllers: 1,000 simulated nodes, 10,000 bare pods.
# usage: bench/scripts/controllers-rss-ab.sh [--disable-controllers]
# Needs target/release/skiff (cargo build --release -p skiff) and kubectl; loopback only.
set -u
if [ ! -f /tmp/pods10k.json ]; then
  python3 -c 'import json; json.dump({"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":f"p-{i}","namespace":"default"},"spec":{"containers":[{"name":"app","image":"busybox:1.36","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}} for i in range(10000)]}, open("/tmp/pods10k.json","w"))'
fi
D=$(mktemp -d /tmp/rssab.XXXX); P=$((20000 + RANDOM % 10000))
${SKIFF:-target/release/skiff} server --port $P --data-dir $D/s --disable-agent ${1:-} > $D/server.log 2>&1 &
SP=$!
sleep 3
export KUBECONFIG=$D/s/kubeconfig.yaml
${SKIFF:-target/release/skiff} agent --kubeconfig $KUBECONFIG --simulated --count 1000 --node-name sim > $D/agent.log 2>&1 &
AP=$!
sleep 15
echo "idle+1000 nodes: $(grep VmRSS /proc/$SP/status)"
kubectl create -f /tmp/pods10k.json > /dev/null 2>&1
sleep 20
echo "bound: $(kubectl get pods --field-selector spec.nodeName!= -o name | wc -l) running: $(kubectl get pods --field-selector status.phase=Running -o name | wc -l)"
echo "after 10k pods: $(grep VmRSS /proc/$SP/status)"
kill $AP $SP; sleep 1; rm -rf $D
