#!/usr/bin/env bash
# The README's first command. On a fresh Debian machine (after `apt-get update`, with a Rust
# toolchain) it starts the local Ceph bed (installing its packages when missing), builds the
# controller and the demo, starts `sepia-controller` on a socket of its own with a config.json
# naming a fresh RBD namespace, and runs `sepia-demo`, which walks the controller through a
# user's story over CSI and shows what Ceph holds at each step.
#
#   scripts/demo.sh            exit status: the demo's (0 = every step succeeded)
#
# The controller is stopped on exit whatever happens; its log is kept (and named) when the demo
# fails. The demo creates the RBD namespace itself and removes it at the end, so it never
# touches other data in the pool.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[demo.sh] %s\n' "$*" >&2; }

BED_DIR=${SEPIA_BED_DIR:-/tmp/sepia-bed}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
CLUSTER_ID=demo
DRIVER_NAME=rbd.csi.sepia.io

say "starting the local Ceph bed (scripts/bed.sh up)"
scripts/bed.sh up
# shellcheck disable=SC1091
source "$BED_DIR/env"

say "building sepia-controller and sepia-demo"
cargo build --locked -p sepia-controller -p sepia-demo

WORK=$(mktemp -d /tmp/sepia-demo.XXXXXX)
NAMESPACE="demo-$(date +%s)-$$"
SOCKET=$WORK/csi.sock
LOG=$WORK/controller.log
CONTROLLER_PID=

# shellcheck disable=SC2317  # invoked by the EXIT trap
stop_controller() {
  local rc=$?
  if [ -n "$CONTROLLER_PID" ] && kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    kill -TERM "$CONTROLLER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$CONTROLLER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CONTROLLER_PID" 2>/dev/null || true
    wait "$CONTROLLER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -eq 0 ]; then
    rm -rf "$WORK"
  else
    say "controller log kept: $LOG"
  fi
  exit "$rc"
}
trap stop_controller EXIT

# ceph-csi's config.json: one cluster, its monitors, and the demo's RBD namespace. No secrets:
# they travel in each CSI request, as under the Kubernetes sidecars.
python3 - "$WORK/config.json" "$CLUSTER_ID" "$SEPIA_CEPH_MONITORS" "$NAMESPACE" <<'PY'
import json, sys
path, cluster_id, monitors, namespace = sys.argv[1:]
config = [{
    "clusterID": cluster_id,
    "monitors": [m for m in monitors.split(",") if m],
    "rbd": {"radosNamespace": namespace},
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

for _ in $(seq 300); do
  [ -S "$SOCKET" ] && break
  if ! kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    say "sepia-controller exited before creating its socket; last lines of its log:"
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  sleep 0.1
done
if [ ! -S "$SOCKET" ]; then
  say "sepia-controller created no socket within 30 s; last lines of its log:"
  tail -n 20 "$LOG" >&2 || true
  exit 1
fi

say "running sepia-demo"
set +e
"$TARGET_DIR/debug/sepia-demo" \
  --endpoint "unix://$SOCKET" \
  --cluster-id "$CLUSTER_ID" \
  --pool "$SEPIA_CEPH_POOL" \
  --namespace "$NAMESPACE" \
  --bed-env "$BED_DIR/env"
RC=$?
set -e
exit "$RC"
