#!/usr/bin/env bash
# End to end on a throw-away cluster, for people with Docker and a network:
#   kind cluster → a loop device as the OSD → Rook (operator, single-node CephCluster, toolbox,
#   HEALTH_OK, pool replicapool, filesystem myfs) → Sepia's images built and loaded → the rook-ceph overlay →
#   `cargo test -p sepia-e2e` with KUBECONFIG pointing at the cluster.
#
#   tests/e2e/kind-rook-ceph.sh            # create (or reuse) the cluster and run the suite
#   tests/e2e/kind-rook-ceph.sh --delete   # tear it all down (cluster and loop device)
#
# Needs: docker, kind, kubectl, losetup (root or sudo), cargo; buildah (images/build.sh) or
# else `docker build` with registry base images. Settings: CLUSTER (sepia), ROOK_VERSION
# (v1.15.9), CEPH_IMAGE, OSD_SIZE (10G), WORK (/var/tmp/sepia-kind).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLUSTER=${CLUSTER:-sepia}
ROOK_VERSION=${ROOK_VERSION:-v1.15.9}
CEPH_IMAGE=${CEPH_IMAGE:-quay.io/ceph/ceph:v18.2.4}
OSD_SIZE=${OSD_SIZE:-10G}
WORK=${WORK:-/var/tmp/sepia-kind}
ROOK_URL=https://raw.githubusercontent.com/rook/rook/$ROOK_VERSION/deploy/examples
KUBECONFIG_FILE=$WORK/kubeconfig
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { printf '\n== %s\n' "$*"; }
k() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
# Waits (up to $2 seconds) for command $1 to succeed.
retry() {
  local cmd=$1 limit=$2 waited=0
  until eval "$cmd" >/dev/null 2>&1; do
    if [ "$waited" -ge "$limit" ]; then echo "timed out after ${limit}s: $cmd" >&2; return 1; fi
    sleep 5; waited=$((waited + 5))
  done
}

loop_device() { $SUDO losetup -j "$WORK/osd.img" | cut -d: -f1; }

if [ "${1:-}" = "--delete" ]; then
  kind delete cluster --name "$CLUSTER" || true
  dev=$(loop_device || true)
  [ -z "$dev" ] || $SUDO losetup -d "$dev"
  rm -rf "$WORK"
  exit 0
fi

for tool in docker kind kubectl losetup cargo; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
mkdir -p "$WORK"

log "loop device for the OSD ($OSD_SIZE)"
if [ -z "$(loop_device)" ]; then
  truncate -s "$OSD_SIZE" "$WORK/osd.img"
  $SUDO losetup -f "$WORK/osd.img"
fi
DEVICE=$(loop_device)
echo "OSD device: $DEVICE"

log "kind cluster $CLUSTER"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  # The node container sees the host's /dev (privileged), so the loop device is there; kubelet's
  # directories must be shared mounts for Bidirectional propagation, which kind's nodes are.
  kind create cluster --name "$CLUSTER" --wait 120s
fi
kind get kubeconfig --name "$CLUSTER" > "$KUBECONFIG_FILE"

log "Rook $ROOK_VERSION"
for manifest in crds common operator; do
  curl -fsSL "$ROOK_URL/$manifest.yaml" -o "$WORK/$manifest.yaml"
done
k apply --server-side -f "$WORK/crds.yaml" -f "$WORK/common.yaml"
# Loop devices are refused by default. Rook's own CephFS CSI driver is not needed (Sepia's
# cephfs.csi.sepia.io serves the filesystem; Rook still writes its rook-csi-cephfs-* secrets).
sed -e 's/ROOK_CEPH_ALLOW_LOOP_DEVICES: "false"/ROOK_CEPH_ALLOW_LOOP_DEVICES: "true"/' \
    -e 's/ROOK_CSI_ENABLE_CEPHFS: "true"/ROOK_CSI_ENABLE_CEPHFS: "false"/' \
    "$WORK/operator.yaml" | k apply -f -
k -n rook-ceph rollout status deploy/rook-ceph-operator --timeout=300s

k apply -f - <<YAML
apiVersion: ceph.rook.io/v1
kind: CephCluster
metadata:
  name: rook-ceph
  namespace: rook-ceph
spec:
  cephVersion:
    image: $CEPH_IMAGE
    allowUnsupported: true
  dataDirHostPath: /var/lib/rook
  mon:
    count: 1
    allowMultiplePerNode: true
  mgr:
    count: 1
    allowMultiplePerNode: true
    modules:
      - name: rbd_support
        enabled: true
  dashboard:
    enabled: false
  crashCollector:
    disable: true
  healthCheck:
    daemonHealth:
      mon:
        interval: 45s
  cephConfig:
    global:
      osd_pool_default_size: "1"
      mon_warn_on_pool_no_redundancy: "false"
      mon_data_avail_warn: "5"
      bdev_flock_retry: "20"
      bluefs_buffered_io: "false"
  storage:
    useAllNodes: true
    useAllDevices: false
    devices:
      - name: "$DEVICE"
---
apiVersion: ceph.rook.io/v1
kind: CephBlockPool
metadata:
  name: replicapool
  namespace: rook-ceph
spec:
  failureDomain: osd
  replicated:
    size: 1
    requireSafeReplicaSize: false
---
# The filesystem of Rook's examples, which the overlay's sepia-cephfs StorageClass names.
apiVersion: ceph.rook.io/v1
kind: CephFilesystem
metadata:
  name: myfs
  namespace: rook-ceph
spec:
  metadataPool:
    replicated:
      size: 1
      requireSafeReplicaSize: false
  dataPools:
    - name: replicated
      replicated:
        size: 1
        requireSafeReplicaSize: false
  preserveFilesystemOnDelete: false
  metadataServer:
    activeCount: 1
    activeStandby: false
YAML
curl -fsSL "$ROOK_URL/toolbox.yaml" | k apply -f -
k -n rook-ceph rollout status deploy/rook-ceph-tools --timeout=600s

log "waiting for HEALTH_OK and the pool"
retry "k -n rook-ceph exec deploy/rook-ceph-tools -- ceph health | grep -q HEALTH_OK" 1200
retry "k -n rook-ceph exec deploy/rook-ceph-tools -- rbd pool stats replicapool" 600
retry "k -n rook-ceph exec deploy/rook-ceph-tools -- ceph fs status myfs | grep -q active" 600
retry "k -n rook-ceph get secret rook-csi-rbd-provisioner rook-csi-rbd-node" 300
retry "k -n rook-ceph get secret rook-csi-cephfs-provisioner rook-csi-cephfs-node" 300
retry "k -n rook-ceph get configmap rook-ceph-csi-config -o jsonpath='{.data.csi-cluster-config-json}' | grep -q monitors" 300

log "Sepia images"
ARCHIVES=$WORK/images
if command -v buildah >/dev/null; then
  $SUDO "$ROOT/images/build.sh" --archive "$ARCHIVES"
  for archive in "$ARCHIVES"/*.tar; do kind load image-archive --name "$CLUSTER" "$archive"; done
else
  # No buildah: docker with registry base images (this machine has a network).
  for image in controller cephfs-controller node cephfs-node provisioner snapshotter resizer attacher nats; do
    docker build -f "$ROOT/images/Containerfile" --target "sepia-$image" \
      --build-arg BUILDER_IMAGE=rust:1-bookworm --build-arg BASE_IMAGE=debian:bookworm-slim \
      --build-arg PACKAGES="-p sepia-controller -p sepia-cephfs-controller -p sepia-node -p sepia-cephfs-node -p sepia-provisioner -p sepia-snapshotter -p sepia-resizer -p sepia-attacher" \
      -t "localhost/sepia-$image:0.1.0" "$ROOT"
    kind load docker-image --name "$CLUSTER" "localhost/sepia-$image:0.1.0"
  done
fi

log "Sepia (rook-ceph overlay)"
k apply -k "$ROOT/deploy/kustomize/base/crds"
k wait --for condition=Established --timeout=60s \
  crd/volumesnapshots.snapshot.storage.k8s.io crd/volumesnapshotcontents.snapshot.storage.k8s.io \
  crd/volumesnapshotclasses.snapshot.storage.k8s.io
k apply -k "$ROOT/deploy/kustomize/overlays/rook-ceph"
for deployment in sepia-provisioner sepia-snapshotter sepia-resizer sepia-attacher \
  sepia-cephfs-provisioner sepia-cephfs-snapshotter sepia-cephfs-resizer; do
  k -n rook-ceph rollout status "deploy/$deployment" --timeout=300s
done
k -n rook-ceph rollout status ds/sepia-node --timeout=300s

log "e2e suite"
cd "$ROOT"
KUBECONFIG=$KUBECONFIG_FILE \
  cargo test --locked -p sepia-e2e --test scenarios -- real_cluster
