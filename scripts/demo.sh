#!/usr/bin/env bash
# The README's first command. On a fresh Debian machine (after `apt-get update`, with a Rust
# toolchain) it starts the local Ceph bed (installing its packages when missing), builds the
# controller, the node plugin and the demo, starts `sepia-controller` and `sepia-node` on
# sockets of their own with a config.json naming a fresh RBD namespace, and runs `sepia-demo`,
# which walks both through a user's story over CSI — volumes mounted, written, snapshotted,
# restored, grown, unmounted and deleted — and shows what Ceph holds and what the node mounts
# at each step. Then the same for CephFS with `sepia-cephfs-controller` and `sepia-cephfs-node`:
# one ReadWriteMany volume mounted with ceph-fuse into two pods that read each other's files,
# a snapshot, a restore while the mgr clones, a clone, an expansion, and nothing left. Run it
# as root: the node plugins map images (rbd-fuse + loop devices here) and mount file systems.
#
#   scripts/demo.sh            exit status: the demo's (0 = every step succeeded)
#
# Both daemons are stopped on exit whatever happens; their logs are kept (and named) when the
# demo fails. Everything local lives in one private work directory (sockets, kubelet-style
# mount paths, the node plugins' state, credentials); the demo creates the RBD namespace and
# the CephFS subvolume group itself and removes them at the end, so it never touches other
# data in the pool or the file system.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[demo.sh] %s\n' "$*" >&2; }

BED_DIR=${SEPIA_BED_DIR:-/tmp/sepia-bed}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
CLUSTER_ID=demo
DRIVER_NAME=rbd.csi.sepia.io
CEPHFS_DRIVER_NAME=cephfs.csi.sepia.io

say "starting the local Ceph bed (scripts/bed.sh up)"
scripts/bed.sh up
# shellcheck disable=SC1091
source "$BED_DIR/env"
# bed.sh installs ceph-fuse with the bed; the CephFS node plugin mounts with it.
command -v ceph-fuse >/dev/null || { say "ceph-fuse is missing (apt-get install ceph-fuse)"; exit 1; }

say "building sepia-controller, sepia-node, sepia-cephfs-controller, sepia-cephfs-node and sepia-demo"
cargo build --locked -p sepia-controller -p sepia-node -p sepia-cephfs-controller \
  -p sepia-cephfs-node -p sepia-demo

WORK=$(mktemp -d /tmp/sepia-demo.XXXXXX)
NAMESPACE="demo-$(date +%s)-$$"
SOCKET=$WORK/csi.sock
LOG=$WORK/controller.log
NODE_SOCKET=$WORK/node/csi.sock
NODE_LOG=$WORK/node.log
NODE_ID=demo-node
KUBELET_DIR=$WORK/kubelet
CEPHFS_SOCKET=$WORK/cephfs/csi.sock
CEPHFS_LOG=$WORK/cephfs-controller.log
CEPHFS_NODE_SOCKET=$WORK/cephfs-node/csi.sock
CEPHFS_NODE_LOG=$WORK/cephfs-node.log
CONTROLLER_PID=
NODE_PID=
CEPHFS_PID=
CEPHFS_NODE_PID=

# TERM, up to 10 s to finish, then KILL.
# shellcheck disable=SC2317  # invoked from the EXIT trap
stop_pid() {
  local pid=$1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
stop_daemons() {
  local rc=$?
  stop_pid "$CEPHFS_NODE_PID"
  stop_pid "$CEPHFS_PID"
  stop_pid "$NODE_PID"
  stop_pid "$CONTROLLER_PID"
  if [ "$rc" -eq 0 ]; then
    # --one-file-system: never descend into a mount, should one have been left behind.
    rm -rf --one-file-system "$WORK"
  else
    say "logs kept: $LOG (controller), $NODE_LOG (node plugin), $CEPHFS_LOG (CephFS controller), $CEPHFS_NODE_LOG (CephFS node plugin)"
  fi
  exit "$rc"
}
trap stop_daemons EXIT

# Waits for daemon $1 (pid $2, log $3) to create socket $4.
wait_for_socket() {
  local name=$1 pid=$2 log=$3 socket=$4
  for _ in $(seq 300); do
    [ -S "$socket" ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited before creating its socket; last lines of its log:"
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  say "$name created no socket within 30 s; last lines of its log:"
  tail -n 20 "$log" >&2 || true
  exit 1
}

# ceph-csi's config.json: one cluster, its monitors, the demo's RBD namespace, and its CephFS
# subvolume group (also the CephFS journal's RADOS namespace; same name). No secrets: they
# travel in each CSI request, as under the Kubernetes sidecars.
python3 - "$WORK/config.json" "$CLUSTER_ID" "$SEPIA_CEPH_MONITORS" "$NAMESPACE" <<'PY'
import json, sys
path, cluster_id, monitors, namespace = sys.argv[1:]
config = [{
    "clusterID": cluster_id,
    "monitors": [m for m in monitors.split(",") if m],
    "rbd": {"radosNamespace": namespace},
    "cephFS": {"subvolumeGroup": namespace, "radosNamespace": namespace},
}]
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY

say "starting sepia-controller on $SOCKET (log: $LOG)"
"$TARGET_DIR/debug/sepia-controller" \
  --endpoint "unix://$SOCKET" \
  --driver-name "$DRIVER_NAME" \
  --cluster-config "$WORK/config.json" \
  >"$LOG" 2>&1 &
CONTROLLER_PID=$!
wait_for_socket sepia-controller "$CONTROLLER_PID" "$LOG" "$SOCKET"

# The node plugin registers itself in RADOS (ControllerPublish refuses unregistered nodes)
# with standing credentials from a mounted Secret: here two 0600 files in the private work
# directory, written by shell builtins so the key never shows in a process list. The record
# lands in the demo's namespace, which the demo removes at the end: one registration at start
# (an interval longer than the demo) keeps a refresh from recreating it afterwards.
CREDENTIALS=$WORK/node-credentials
(
  umask 077
  mkdir "$CREDENTIALS"
  printf '%s' "$SEPIA_CEPH_USER" >"$CREDENTIALS/userID"
  printf '%s' "$SEPIA_CEPH_KEY" >"$CREDENTIALS/userKey"
)

say "starting sepia-node on $NODE_SOCKET as node $NODE_ID (log: $NODE_LOG)"
"$TARGET_DIR/debug/sepia-node" \
  --endpoint "unix://$NODE_SOCKET" \
  --driver-name "$DRIVER_NAME" \
  --node-id "$NODE_ID" \
  --cluster-config "$WORK/config.json" \
  --registration-dir "$WORK/registry" \
  --state-dir "$WORK/node-state" \
  --kubelet-root "$KUBELET_DIR" \
  --node-credentials-dir "$CREDENTIALS" \
  --registration-interval 24h \
  >"$NODE_LOG" 2>&1 &
NODE_PID=$!
wait_for_socket sepia-node "$NODE_PID" "$NODE_LOG" "$NODE_SOCKET"

say "starting sepia-cephfs-controller on $CEPHFS_SOCKET (log: $CEPHFS_LOG)"
mkdir -p "$WORK/cephfs" "$WORK/cephfs-node"
"$TARGET_DIR/debug/sepia-cephfs-controller" \
  --endpoint "unix://$CEPHFS_SOCKET" \
  --driver-name "$CEPHFS_DRIVER_NAME" \
  --cluster-config "$WORK/config.json" \
  >"$CEPHFS_LOG" 2>&1 &
CEPHFS_PID=$!
wait_for_socket sepia-cephfs-controller "$CEPHFS_PID" "$CEPHFS_LOG" "$CEPHFS_SOCKET"

say "starting sepia-cephfs-node on $CEPHFS_NODE_SOCKET (ceph-fuse; log: $CEPHFS_NODE_LOG)"
"$TARGET_DIR/debug/sepia-cephfs-node" \
  --endpoint "unix://$CEPHFS_NODE_SOCKET" \
  --driver-name "$CEPHFS_DRIVER_NAME" \
  --node-id "$NODE_ID" \
  --cluster-config "$WORK/config.json" \
  --no-kubelet-registration \
  --state-dir "$WORK/cephfs-node-state" \
  --kubelet-root "$KUBELET_DIR" \
  --mounter fuse \
  >"$CEPHFS_NODE_LOG" 2>&1 &
CEPHFS_NODE_PID=$!
wait_for_socket sepia-cephfs-node "$CEPHFS_NODE_PID" "$CEPHFS_NODE_LOG" "$CEPHFS_NODE_SOCKET"

say "running sepia-demo"
set +e
"$TARGET_DIR/debug/sepia-demo" \
  --endpoint "unix://$SOCKET" \
  --node-endpoint "unix://$NODE_SOCKET" \
  --node-id "$NODE_ID" \
  --kubelet-dir "$KUBELET_DIR" \
  --cluster-id "$CLUSTER_ID" \
  --pool "$SEPIA_CEPH_POOL" \
  --namespace "$NAMESPACE" \
  --cephfs-endpoint "unix://$CEPHFS_SOCKET" \
  --cephfs-node-endpoint "unix://$CEPHFS_NODE_SOCKET" \
  --fs-name "$SEPIA_CEPH_FS" \
  --subvolume-group "$NAMESPACE" \
  --bed-env "$BED_DIR/env"
RC=$?
set -e
exit "$RC"
