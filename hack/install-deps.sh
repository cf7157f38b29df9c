#!/usr/bin/env bash
# Install the runtime and test packages a fresh Debian 12 machine lacks. Idempotent.
set -euo pipefail
need=()
for pkg_cmd in runc:runc nftables:nft iproute2:ip curl:curl busybox-static:busybox file:file; do
  pkg=${pkg_cmd%%:*}; cmd=${pkg_cmd##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${SKIFF_BENCH_DEPS:-0}" = 1 ]; then
  command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
command -v kubectl >/dev/null 2>&1 || { echo "kubectl is required on PATH" >&2; exit 1; }
command -v cargo-nextest >/dev/null 2>&1 || cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked
