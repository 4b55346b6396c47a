#!/usr/bin/env bash
# Sepia's local test bed: a throwaway single-node Ceph 16 (one mon, one mgr, one memstore OSD, one
# MDS with a CephFS; cephx on; everything on 127.0.0.1) plus nats-server with JetStream, all in one
# state directory. Tests and the demo find it through the env file it writes.
#
#   scripts/bed.sh up      install missing Debian packages, start (a second `up` while running is a no-op)
#   scripts/bed.sh down    stop only the processes this bed started, remove its directory
#   scripts/bed.sh status  exit 0 when the bed answers, 1 otherwise
#   scripts/bed.sh env     print the env file (source it: `eval "$(scripts/bed.sh env)"`)
#
# State lives in ${SEPIA_BED_DIR:-/tmp/sepia-bed}. Ports are picked free at start-up.
set -euo pipefail

DIR=${SEPIA_BED_DIR:-/tmp/sepia-bed}
ENV_FILE=$DIR/env
PACKAGES=(ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common librados-dev librbd-dev rbd-fuse rbd-nbd
          ceph-fuse nats-server e2fsprogs xfsprogs util-linux python3)

log() { printf '[bed] %s\n' "$*" >&2; }

# Binaries (and dev headers) that prove each package is present; dpkg is the authority.
missing_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  log "installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

is_up() {
  [ -f "$ENV_FILE" ] || return 1
  # shellcheck disable=SC1090
  ( source "$ENV_FILE"
    timeout 10 ceph --connect-timeout 5 health >/dev/null 2>&1 &&
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/${SEPIA_NATS_URL##*:}" 2>/dev/null )
}

stop() {
  if [ -f "$DIR/pids" ]; then
    # Only what this bed started: the pid list written at start-up.
    while read -r pid; do
      if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done < "$DIR/pids"
    for _ in $(seq 50); do
      alive=0
      while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$DIR/pids"
      [ $alive = 0 ] && break
      sleep 0.1
    done
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$DIR/pids"
  fi
  rm -rf "$DIR"
}

start() {
  local t0 port nats_port fsid osd_uuid osd_id
  t0=$(date +%s%N)
  install_packages
  stop
  mkdir -p "$DIR"/{log,mon,osd,mgr,mds,run,nats}
  port=$(free_port)
  nats_port=$(free_port)
  export CEPH_CONF=$DIR/ceph.conf
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CEPH_CONF" <<C
[global]
fsid = $fsid
mon host = 127.0.0.1:$port
public addr = 127.0.0.1
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool delete = true
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
[mon.a]
mon data = $DIR/mon
mon data avail crit = 0
[osd.0]
osd data = $DIR/osd
osd objectstore = memstore
memstore device bytes = 8589934592
osd class load list = *
osd class default list = *
[mgr.x]
mgr data = $DIR/mgr
[mds.z]
mds data = $DIR/mds
C
  chmod 600 "$CEPH_CONF"
  ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  chmod 600 "$DIR/keyring" "$DIR/mon.keyring"
  ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/keyring" >/dev/null
  monmaptool --create --add a "127.0.0.1:$port" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-mon --id a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
  ceph-mon --id a --public-addr "127.0.0.1:$port"

  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(ceph osd new "$osd_uuid")
  ceph auth get-or-create "osd.$osd_id" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
    -o "$DIR/osd/keyring" >/dev/null
  ceph-osd --id "$osd_id" --mkfs --osd-uuid "$osd_uuid" --keyring "$DIR/osd/keyring" >/dev/null 2>&1
  ceph-osd --id "$osd_id" --keyring "$DIR/osd/keyring" 2>/dev/null
  ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$DIR/mgr/keyring" >/dev/null
  ceph-mgr --id x --keyring "$DIR/mgr/keyring"

  ceph osd pool create rbd 16 >/dev/null 2>&1
  rbd pool init rbd
  ceph auth get-or-create mds.z mon 'allow profile mds' osd 'allow *' mds 'allow *' mgr 'allow profile mds' \
    -o "$DIR/mds/keyring" >/dev/null
  ceph osd pool create cephfs_data 8 >/dev/null 2>&1
  ceph osd pool create cephfs_metadata 8 >/dev/null 2>&1
  ceph fs new cephfs cephfs_metadata cephfs_data >/dev/null 2>&1
  ceph-mds -i z --keyring "$DIR/mds/keyring" >/dev/null

  nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$DIR/nats" -l "$DIR/log/nats.log" \
    -P "$DIR/run/nats.pid" >/dev/null 2>&1 &
  disown

  # Ready means: the mgr is available (rbd task commands need it), the MDS is active and all PGs
  # are active (a fresh pool's first write otherwise waits on peering).
  for _ in $(seq 120); do
    ceph mgr stat 2>/dev/null | grep -q '"available": true' && break; sleep 0.5
  done
  for _ in $(seq 120); do ceph mds stat 2>/dev/null | grep -q 'up:active' && break; sleep 0.5; done
  for _ in $(seq 120); do
    ceph pg stat 2>/dev/null | grep -qE '^[0-9]+ pgs: [0-9]+ active\+clean;' && break; sleep 0.5
  done
  for _ in $(seq 50); do [ -s "$DIR/run/nats.pid" ] && break; sleep 0.1; done
  for f in "$DIR"/run/*.pid; do printf '%s\n' "$(cat "$f")"; done > "$DIR/pids"

  local key
  key=$(ceph-authtool "$DIR/keyring" -n client.admin -p)
  umask 077
  cat > "$ENV_FILE" <<E
export SEPIA_BED_DIR=$DIR
export CEPH_CONF=$CEPH_CONF
export SEPIA_CEPH_MONITORS=127.0.0.1:$port
export SEPIA_CEPH_USER=admin
export SEPIA_CEPH_KEY=$key
export SEPIA_CEPH_POOL=rbd
export SEPIA_CEPH_FS=cephfs
export SEPIA_NATS_URL=nats://127.0.0.1:$nats_port
E
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  log "up in $((ms / 1000)).$(((ms % 1000) / 100)) s:" \
      "ceph mon 127.0.0.1:$port, nats 127.0.0.1:$nats_port, env $ENV_FILE"
}

case "${1:-up}" in
  up)
    if is_up; then log "already running ($ENV_FILE)"; else start; fi ;;
  down) stop; log "stopped" ;;
  status) if is_up; then log "up"; else log "down"; exit 1; fi ;;
  env) cat "$ENV_FILE" ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
