#!/usr/bin/env bash
# Start a single-node Skiff cluster on this machine: install what it needs, build, run
# `skiff server` in the background, wait until it answers, and print how to use kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${SKIFF_DATA_DIR:-/var/lib/skiff}
hack/install-deps.sh
cargo build --release -p skiff
mkdir -p "$DATA_DIR"
if [ -f "$DATA_DIR/skiff.pid" ] && kill -0 "$(cat "$DATA_DIR/skiff.pid")" 2>/dev/null; then
  echo "skiff server already running (pid $(cat "$DATA_DIR/skiff.pid"))"
else
  nohup target/release/skiff server --data-dir "$DATA_DIR" "$@" >"$DATA_DIR/server.log" 2>&1 &
  echo $! >"$DATA_DIR/skiff.pid"
fi
for _ in $(seq 1 100); do
  if [ -f "$DATA_DIR/kubeconfig.yaml" ] && KUBECONFIG="$DATA_DIR/kubeconfig.yaml" kubectl get --raw /readyz >/dev/null 2>&1; then
    echo "skiff is up. Use it with:"
    echo "  export KUBECONFIG=$DATA_DIR/kubeconfig.yaml"
    echo "  kubectl get namespaces"
    echo "logs: $DATA_DIR/server.log; stop: kill \$(cat $DATA_DIR/skiff.pid)"
    exit 0
  fi
  sleep 0.2
done
echo "skiff did not become ready; see $DATA_DIR/server.log" >&2
exit 1
