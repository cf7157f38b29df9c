#!/usr/bin/env bash
# Build a docker-archive image tarball offline from Debian's busybox-static:
#   hack/build-busybox-image.sh OUT.tar [REPO:TAG]   (default busybox:latest)
# Import it with `skiff image import OUT.tar`. Used by the e2e tests; no registry needed.
set -euo pipefail
out=$1
ref=${2:-busybox:latest}
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q static || bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is required (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/root" "$work/img"
cp "$bb" "$work/rootfs/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"
done
chmod 1777 "$work/rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime='2024-01-01' -C "$work/rootfs" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/img/$diff_id"
mv "$work/layer.tar" "$work/img/$diff_id/layer.tar"
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
cat >"$work/img/config.json" <<JSON
{"architecture":"$arch","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created_by":"hack/build-busybox-image.sh"}]}
JSON
cfg=$(sha256sum "$work/img/config.json" | cut -d' ' -f1)
mv "$work/img/config.json" "$work/img/$cfg.json"
cat >"$work/img/manifest.json" <<JSON
[{"Config":"$cfg.json","RepoTags":["$ref"],"Layers":["$diff_id/layer.tar"]}]
JSON
tar -C "$work/img" -cf "$out" .
echo "$out: $ref (sha256:$cfg)"
