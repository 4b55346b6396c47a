//! kubelet's part of starting a pod of a rendered workload, on the one stand-in node: each
//! volume becomes a host directory (emptyDir per pod, hostPath under the run's stand-in host
//! root, Secret, ConfigMap and projected volumes filled from the API as kubelet projects them),
//! the environment is resolved (values, `$(VAR)`, field and key references), and each
//! container's args are the rendered ones with only mount paths and listen ports moved
//! ([`super::remap`]). A container with API access (an automounted or projected ServiceAccount
//! token) gets `--kubeconfig` carrying its pod's ServiceAccount token instead of the in-cluster
//! files, so the stand-in authorises it under the rendered RBAC. What a pod needs and the
//! stand-in host cannot give (a `command`, `subPath`, `envFrom`, an unknown volume or field)
//! fails the run instead of being approximated.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kube_standin::{Gvr, StandIn};
use serde_json::Value;

use super::probe::HttpProbe;
use super::remap::{HostView, expand};

/// One container, ready to run as a process.
#[derive(Debug)]
pub struct ContainerRun {
    /// `<pod>.<container>`.
    pub label: String,
    /// The image's binary (`localhost/sepia-node:0.1.0` → `sepia-node`).
    pub binary: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub liveness: Option<HttpProbe>,
}

/// The stand-in node: where pods' directories are, and the API their volumes come from.
pub struct Node<'a> {
    pub standin: &'a StandIn,
    /// Holds `host/` (hostPath volumes) and `pods/<pod>/` (everything per pod).
    pub root: &'a Path,
    pub name: &'a str,
}

/// What a pod is while its containers are prepared.
struct Pod<'a> {
    name: &'a str,
    namespace: &'a str,
    service_account: &'a str,
    dir: PathBuf,
}

impl Node<'_> {
    /// The host root standing in for the node's filesystem (hostPath volumes live under it).
    pub fn host_root(&self) -> PathBuf {
        self.root.join("host")
    }

    /// The containers of pod `pod_name` of `workload`, volumes made and args rewritten.
    pub fn pod(&self, workload: &Value, pod_name: &str) -> Result<Vec<ContainerRun>> {
        let spec = &workload["spec"]["template"]["spec"];
        let namespace = workload["metadata"]["namespace"]
            .as_str()
            .context("workload without namespace")?;
        let pod = Pod {
            name: pod_name,
            namespace,
            service_account: spec["serviceAccountName"].as_str().unwrap_or("default"),
            dir: self.root.join("pods").join(pod_name),
        };
        let mut volumes = HashMap::new();
        let mut token_volumes = Vec::new();
        for volume in spec["volumes"].as_array().into_iter().flatten() {
            let name = volume["name"].as_str().context("volume without name")?;
            let (dir, has_token) = self
                .volume(&pod, volume)
                .with_context(|| format!("pod {pod_name}: volume {name}"))?;
            if has_token {
                token_volumes.push(name.to_owned());
            }
            volumes.insert(name.to_owned(), dir);
        }
        let automount = spec["automountServiceAccountToken"]
            .as_bool()
            .or_else(|| self.service_account_automounts(&pod))
            .unwrap_or(true);
        let mut ports = HashMap::new();
        let mut runs = Vec::new();
        for container in spec["containers"].as_array().into_iter().flatten() {
            let name = container["name"]
                .as_str()
                .context("container without name")?;
            let run = self
                .container(
                    &pod,
                    container,
                    &volumes,
                    &token_volumes,
                    automount,
                    &mut ports,
                )
                .with_context(|| format!("pod {pod_name}: container {name}"))?;
            runs.push(run);
        }
        Ok(runs)
    }

    fn service_account_automounts(&self, pod: &Pod<'_>) -> Option<bool> {
        self.standin
            .get_json(
                &Gvr::new("", "v1", "serviceaccounts"),
                pod.namespace,
                pod.service_account,
            )?
            .get("automountServiceAccountToken")?
            .as_bool()
    }

    fn container(
        &self,
        pod: &Pod<'_>,
        container: &Value,
        volumes: &HashMap<String, PathBuf>,
        token_volumes: &[String],
        automount: bool,
        ports: &mut HashMap<u16, u16>,
    ) -> Result<ContainerRun> {
        let name = container["name"].as_str().unwrap_or_default();
        if !container["command"].is_null() {
            bail!("sets `command`; the stand-in runs the image's entrypoint binary only");
        }
        if !container["envFrom"].is_null() {
            bail!("uses envFrom, which the stand-in node does not resolve");
        }
        let image = container["image"].as_str().context("no image")?;
        let binary = image
            .rsplit('/')
            .next()
            .and_then(|i| i.split([':', '@']).next())
            .unwrap_or(image)
            .to_owned();
        let mut view = HostView {
            mounts: Vec::new(),
            ports: std::mem::take(ports),
        };
        let mut api_access = automount;
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume = mount["name"].as_str().unwrap_or_default();
            if mount["subPath"].is_string() || mount["subPathExpr"].is_string() {
                bail!("mounts {volume} with a subPath, which the stand-in node does not do");
            }
            let dir = volumes
                .get(volume)
                .with_context(|| format!("mounts unknown volume {volume}"))?;
            let path = mount["mountPath"].as_str().context("mount without path")?;
            view.mounts.push((path.to_owned(), dir.clone()));
            api_access |= token_volumes.iter().any(|t| t == volume);
        }
        let env = self.env(pod, container)?;
        let lookup: HashMap<String, String> = env.iter().cloned().collect();
        let mut free = sepia_testbed::process::free_port;
        let mut args: Vec<String> = container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| view.arg(&expand(a.as_str().unwrap_or_default(), &lookup), &mut free))
            .collect();
        if api_access {
            let kubeconfig = pod.dir.join("kubeconfig");
            if !kubeconfig.exists() {
                let token = self
                    .standin
                    .service_account_token(pod.namespace, pod.service_account);
                self.standin.write_kubeconfig_for(&kubeconfig, &token)?;
            }
            args.push(format!("--kubeconfig={}", kubeconfig.display()));
        }
        let liveness = liveness(container, &mut view, &mut free)?;
        *ports = view.ports;
        Ok(ContainerRun {
            label: format!("{}.{name}", pod.name),
            binary,
            args,
            env,
            liveness,
        })
    }

    /// The container's environment in order, each value expanded against the ones before it.
    fn env(&self, pod: &Pod<'_>, container: &Value) -> Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = Vec::new();
        for var in container["env"].as_array().into_iter().flatten() {
            let name = var["name"].as_str().context("env without name")?;
            let known: HashMap<String, String> = env.iter().cloned().collect();
            let value = if let Some(value) = var["value"].as_str() {
                expand(value, &known)
            } else if let Some(field) = var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                match field {
                    "metadata.name" => pod.name.to_owned(),
                    "metadata.namespace" => pod.namespace.to_owned(),
                    "spec.nodeName" => self.name.to_owned(),
                    "spec.serviceAccountName" => pod.service_account.to_owned(),
                    "status.podIP" | "status.hostIP" => "127.0.0.1".to_owned(),
                    other => {
                        bail!("env {name}: fieldRef {other} is not resolved by the stand-in node")
                    }
                }
            } else if let Some(key) = var["valueFrom"]["secretKeyRef"].as_object() {
                let data = self.data(pod, "secrets", &key["name"])?;
                text(data.get(key["key"].as_str().unwrap_or_default()))?
            } else if let Some(key) = var["valueFrom"]["configMapKeyRef"].as_object() {
                let data = self.data(pod, "configmaps", &key["name"])?;
                text(data.get(key["key"].as_str().unwrap_or_default()))?
            } else if var["valueFrom"].is_null() {
                String::new()
            } else {
                bail!(
                    "env {name}: {} is not resolved by the stand-in node",
                    var["valueFrom"]
                );
            };
            env.push((name.to_owned(), value));
        }
        Ok(env)
    }

    /// A Secret's or ConfigMap's keys and bytes, as the API holds them.
    fn data(&self, pod: &Pod<'_>, plural: &str, name: &Value) -> Result<HashMap<String, Vec<u8>>> {
        let name = name.as_str().context("reference without name")?;
        let object = self
            .standin
            .get_json(&Gvr::new("", "v1", plural), pod.namespace, name)
            .with_context(|| format!("{plural} {}/{name} does not exist", pod.namespace))?;
        let mut out = HashMap::new();
        for (field, base64) in [("data", plural == "secrets"), ("binaryData", true)] {
            for (key, value) in object[field].as_object().into_iter().flatten() {
                let bytes = if base64 {
                    serde_json::from_value::<k8s_openapi::ByteString>(value.clone())?.0
                } else {
                    value.as_str().unwrap_or_default().as_bytes().to_vec()
                };
                out.insert(key.clone(), bytes);
            }
        }
        Ok(out)
    }

    /// The host directory of one volume, and whether it carries a ServiceAccount token.
    fn volume(&self, pod: &Pod<'_>, volume: &Value) -> Result<(PathBuf, bool)> {
        let name = volume["name"].as_str().unwrap_or_default();
        if let Some(path) = volume["hostPath"]["path"].as_str() {
            let dir = self.host_root().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(&dir)?;
            return Ok((dir, false));
        }
        let dir = pod.dir.join("volumes").join(name);
        std::fs::create_dir_all(&dir)?;
        let mode = |source: &Value| {
            source["defaultMode"]
                .as_u64()
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0o644)
        };
        if volume["emptyDir"].is_object() {
            Ok((dir, false))
        } else if let Some(secret) = volume["secret"].as_object() {
            let source = Value::Object(secret.clone());
            let data = self.data(pod, "secrets", &source["secretName"])?;
            project(&dir, &data, &source["items"], mode(&source))?;
            Ok((dir, false))
        } else if let Some(config_map) = volume["configMap"].as_object() {
            let source = Value::Object(config_map.clone());
            let data = self.data(pod, "configmaps", &source["name"])?;
            project(&dir, &data, &source["items"], mode(&source))?;
            Ok((dir, false))
        } else if volume["projected"].is_object() {
            self.projected(pod, &dir, &volume["projected"])
        } else {
            bail!("a volume type the stand-in node does not provide: {volume}")
        }
    }

    fn projected(&self, pod: &Pod<'_>, dir: &Path, projected: &Value) -> Result<(PathBuf, bool)> {
        let mode = projected["defaultMode"]
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0o644);
        let mut has_token = false;
        for source in projected["sources"].as_array().into_iter().flatten() {
            if let Some(token) = source["serviceAccountToken"].as_object() {
                has_token = true;
                let path = token["path"].as_str().unwrap_or("token");
                let value = self
                    .standin
                    .service_account_token(pod.namespace, pod.service_account);
                let data = HashMap::from([(path.to_owned(), value.into_bytes())]);
                project(dir, &data, &Value::Null, 0o600)?;
            } else if source["configMap"].is_object() {
                let data = self.data(pod, "configmaps", &source["configMap"]["name"])?;
                project(dir, &data, &source["configMap"]["items"], mode)?;
            } else if source["secret"].is_object() {
                let data = self.data(pod, "secrets", &source["secret"]["name"])?;
                project(dir, &data, &source["secret"]["items"], mode)?;
            } else if let Some(items) = source["downwardAPI"]["items"].as_array() {
                let mut data = HashMap::new();
                for item in items {
                    let value = match item["fieldRef"]["fieldPath"].as_str() {
                        Some("metadata.namespace") => pod.namespace,
                        Some("metadata.name") => pod.name,
                        other => {
                            bail!("downwardAPI {other:?} is not resolved by the stand-in node")
                        }
                    };
                    let path = item["path"]
                        .as_str()
                        .context("downwardAPI item without path")?;
                    data.insert(path.to_owned(), value.as_bytes().to_vec());
                }
                project(dir, &data, &Value::Null, mode)?;
            } else {
                bail!("a projected source the stand-in node does not provide: {source}");
            }
        }
        Ok((dir.to_owned(), has_token))
    }
}

fn text(bytes: Option<&Vec<u8>>) -> Result<String> {
    Ok(String::from_utf8(bytes.context("key not found")?.clone())?)
}

/// Writes `data` into `dir` as kubelet projects it: every key, or only `items` (key → path,
/// optional mode), with `mode` by default.
fn project(dir: &Path, data: &HashMap<String, Vec<u8>>, items: &Value, mode: u32) -> Result<()> {
    let mut files: Vec<(String, &Vec<u8>, u32)> = Vec::new();
    if let Some(items) = items.as_array() {
        for item in items {
            let key = item["key"].as_str().context("item without key")?;
            let bytes = data
                .get(key)
                .with_context(|| format!("key {key} not found"))?;
            let path = item["path"].as_str().unwrap_or(key);
            let item_mode = item["mode"].as_u64().and_then(|m| u32::try_from(m).ok());
            files.push((path.to_owned(), bytes, item_mode.unwrap_or(mode)));
        }
    } else {
        files.extend(data.iter().map(|(k, v)| (k.clone(), v, mode)));
    }
    for (path, bytes, mode) in files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, bytes)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// The container's `httpGet` liveness probe, on the host port its container port maps to.
fn liveness(
    container: &Value,
    view: &mut HostView,
    free: &mut impl FnMut() -> u16,
) -> Result<Option<HttpProbe>> {
    let probe = &container["livenessProbe"];
    if probe.is_null() {
        return Ok(None);
    }
    let get = &probe["httpGet"];
    if !get.is_object() {
        bail!("a liveness probe other than httpGet: {probe}");
    }
    let container_port = match &get["port"] {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(name) => container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|p| u16::try_from(p).ok()),
        _ => None,
    }
    .with_context(|| {
        format!(
            "liveness probe port {} names no container port",
            get["port"]
        )
    })?;
    let seconds =
        |field: &str, default: u64| Duration::from_secs(probe[field].as_u64().unwrap_or(default));
    Ok(Some(HttpProbe {
        port: *view.ports.entry(container_port).or_insert_with(free),
        path: get["path"].as_str().unwrap_or("/").to_owned(),
        timeout: seconds("timeoutSeconds", 1),
        period: seconds("periodSeconds", 10),
        initial_delay: seconds("initialDelaySeconds", 0),
        failure_threshold: u32::try_from(probe["failureThreshold"].as_u64().unwrap_or(3))
            .unwrap_or(3),
    }))
}
