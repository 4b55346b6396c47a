#!/usr/bin/env bash
# The test command: starts (or reuses) the local Ceph + NATS bed, then runs every test of the
# workspace against it. Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p sepia-journal`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bed.sh up
# shellcheck disable=SC1091
source "${SEPIA_BED_DIR:-/tmp/sepia-bed}/env"
# The e2e scenarios on the API stand-in render the manifests with the pinned kubectl that
# scripts/validate-manifests.sh installs (once; it also validates them).
if [ -z "${SEPIA_KUBECTL:-}" ] && [ ! -x "${SEPIA_TOOLS_DIR:-/var/tmp/sepia-tools}/validate-venv/bin/kubectl" ]; then
  scripts/validate-manifests.sh
fi
if [ $# -gt 0 ]; then exec cargo test --locked "$@"; fi
# The e2e scenarios drive the real binaries: build them first so none is reported missing.
cargo build --locked -p sepia-controller -p sepia-cephfs-controller -p sepia-node -p sepia-cephfs-node -p sepia-provisioner -p sepia-snapshotter \
  -p sepia-resizer -p sepia-attacher
exec cargo test --locked --workspace
