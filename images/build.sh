#!/usr/bin/env bash
# Builds Sepia's container images with buildah, from Debian packages and crates only: no
# registry, no daemon (root + buildah's chroot isolation).
#
#   images/build.sh [--tag TAG] [--archive DIR] [IMAGE...]
#
# IMAGE is one of: controller cephfs-controller node cephfs-node provisioner snapshotter resizer attacher nats (default: all
# whose crate exists in the workspace). --archive writes docker-archive tarballs that
# `kind load image-archive` takes. Images are named localhost/sepia-<IMAGE>:<TAG> (TAG 0.1.0,
# what deploy/kustomize/base references).
#
# Steps: (1) debootstrap a minimal bookworm rootfs once → localhost/sepia-base:bookworm;
# (2) add the C toolchain and the Ceph -dev packages → localhost/sepia-builder:bookworm;
# (3) build images/Containerfile per target. The builder stage gets the host's Rust toolchain
# and the workspace bind-mounted at their host paths (Debian's rustc is older than the
# workspace's rust-version and no toolchain can be downloaded), so a host release build is
# reused instead of compiled twice.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${SEPIA_IMAGES_CACHE:-/var/tmp/sepia-images}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
TAG=0.1.0
ARCHIVE_DIR=
IMAGES=()

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --archive) ARCHIVE_DIR=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) IMAGES+=("$1"); shift ;;
  esac
done
ALL=(controller cephfs-controller node cephfs-node provisioner snapshotter resizer attacher nats)
if [ ${#IMAGES[@]} -eq 0 ]; then
  for image in "${ALL[@]}"; do
    if [ "$image" = nats ] || [ -d "$ROOT/crates/$image" ]; then IMAGES+=("$image"); else
      echo "skip $image: crates/$image does not exist yet"; fi
  done
fi

need() { command -v "$1" >/dev/null || { echo "installing $2"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null; }; }
if [ "$(id -u)" -ne 0 ]; then echo "run as root (buildah without a daemon, debootstrap)" >&2; exit 1; fi
need buildah buildah
need debootstrap debootstrap
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
mkdir -p "$CACHE"

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# Removes what a runtime never reads (apt lists and caches, docs, man pages, locales).
SLIM='rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* /var/log/*.log /var/log/apt'

if ! have_image localhost/sepia-base:$SUITE; then
  echo "== bootstrapping the $SUITE base rootfs (debootstrap --variant=minbase)"
  rootfs="$CACHE/rootfs-$SUITE"
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR"
  fi
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
    "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SUITE" > "$rootfs/etc/apt/sources.list"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90sepia"
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  chroot "$mnt" sh -c "$SLIM"
  buildah umount "$ctr" >/dev/null
  buildah config --env LANG=C.UTF-8 --cmd /bin/sh "$ctr"
  buildah commit --rm "$ctr" localhost/sepia-base:$SUITE
fi

if ! have_image localhost/sepia-builder:$SUITE; then
  echo "== builder image: C toolchain + librados/librbd headers"
  ctr=$(buildah from localhost/sepia-base:$SUITE)
  buildah run "$ctr" -- sh -c "apt-get update -q && apt-get install -y -q gcc libc6-dev librados-dev librbd-dev && $SLIM"
  buildah commit --rm "$ctr" localhost/sepia-builder:$SUITE
fi

packages=()
for image in "${IMAGES[@]}"; do
  [ "$image" = nats ] || packages+=(-p "sepia-$image")
done
RUSTUP=${RUSTUP_HOME:-$HOME/.rustup}
CARGOH=${CARGO_HOME:-$HOME/.cargo}
for image in "${IMAGES[@]}"; do
  name=localhost/sepia-$image:$TAG
  echo "== $name"
  buildah bud --layers --squash \
    --file "$ROOT/images/Containerfile" --ignorefile "$ROOT/images/containerignore" \
    --target "sepia-$image" --tag "$name" \
    --build-arg SRC="$ROOT" --build-arg CARGO_TARGET_DIR="$ROOT/target" \
    --build-arg PACKAGES="${packages[*]}" \
    --volume "$ROOT:$ROOT" --volume "$RUSTUP:/opt/rustup:ro" --volume "$CARGOH:/opt/cargo" \
    "$ROOT"
  if [ -n "$ARCHIVE_DIR" ]; then
    mkdir -p "$ARCHIVE_DIR"
    rm -f "$ARCHIVE_DIR/sepia-$image.tar"
    buildah push "$name" "docker-archive:$ARCHIVE_DIR/sepia-$image.tar:$name"
  fi
done
echo "== images"
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep 'localhost/sepia-' || true
