#!/usr/bin/env bash
# The test command: starts (or reuses) the local Ceph + NATS bed, then runs every test of the
# workspace against it. Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p sepia-journal`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bed.sh up
# shellcheck disable=SC1091
source "${SEPIA_BED_DIR:-/tmp/sepia-bed}/env"
if [ $# -eq 0 ]; then set -- --workspace; fi
exec cargo test --locked "$@"
