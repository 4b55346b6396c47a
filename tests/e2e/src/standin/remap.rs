//! What kubelet and the container runtime do to a container's command line, and the few
//! rewrites that let a pod's processes share one host: `$(VAR)` expansion from the container's
//! environment (kubelet's rules: `$$` escapes, an unknown variable stays as written), paths
//! under a volume mount moved to the directory standing in for that volume, and listen
//! addresses moved to a free port (each pod has its own network namespace on a real node; here
//! every pod shares the loopback). Nothing else is touched: every other flag reaches the
//! binary exactly as the manifests render it.

use std::collections::HashMap;
use std::path::PathBuf;

/// `$(VAR)` references replaced by `env`'s values, as kubelet expands args and env values.
pub fn expand(text: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after
            .strip_prefix('(')
            .and_then(|r| r.find(')').map(|end| (&r[..end], &r[end + 1..])))
        {
            let (name, tail) = reference;
            match env.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The host side of one container's view: mounts and ports.
#[derive(Debug, Default)]
pub struct HostView {
    /// mountPath → the host directory standing in for its volume.
    pub mounts: Vec<(String, PathBuf)>,
    /// container port → host port, shared by the pod's containers.
    pub ports: HashMap<u16, u16>,
}

impl HostView {
    /// The host path of a container path under a mount (the deepest mount wins), or of a
    /// directory above hostPath mounts that sit at their host paths (`/var/lib/kubelet` above
    /// `/var/lib/kubelet/plugins` and `/var/lib/kubelet/pods`): there the container's and the
    /// host's trees agree, as the node plugin's `--kubelet-root` relies on.
    pub fn host_path(&self, path: &str) -> Option<PathBuf> {
        self.under_a_mount(path)
            .or_else(|| self.above_host_mounts(path))
    }

    fn above_host_mounts(&self, path: &str) -> Option<PathBuf> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.mounts.iter().find_map(|(mount, host)| {
            let below = mount.strip_prefix(&prefix)?;
            let host = host.to_str()?.strip_suffix(below)?;
            Some(PathBuf::from(host.trim_end_matches('/')))
        })
    }

    fn under_a_mount(&self, path: &str) -> Option<PathBuf> {
        self.mounts
            .iter()
            .filter(|(mount, _)| {
                path == mount
                    || path
                        .strip_prefix(mount.as_str())
                        .is_some_and(|rest| rest.starts_with('/') || mount.ends_with('/'))
            })
            .max_by_key(|(mount, _)| mount.len())
            .map(|(mount, host)| {
                let rest = path[mount.len()..].trim_start_matches('/');
                if rest.is_empty() {
                    host.clone()
                } else {
                    host.join(rest)
                }
            })
    }

    /// One argument with its path or listen address moved; `--flag=value` and a bare value
    /// alike, `unix://` and `tcp://` endpoints included.
    pub fn arg(&mut self, arg: &str, free_port: &mut impl FnMut() -> u16) -> String {
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => (format!("{flag}="), value),
            _ => (String::new(), arg),
        };
        let (scheme, target) = ["unix://", "tcp://"]
            .iter()
            .find_map(|s| value.strip_prefix(s).map(|t| (*s, t)))
            .unwrap_or(("", value));
        if target.starts_with('/') {
            if let Some(host) = self.host_path(target) {
                return format!("{flag}{scheme}{}", host.display());
            }
        } else if let Some((host, port)) = listen_address(target) {
            let mapped = *self.ports.entry(port).or_insert_with(&mut *free_port);
            return format!("{flag}{scheme}{host}:{mapped}");
        }
        arg.to_owned()
    }
}

/// `[host]:port` where host is empty, an IP or a name: what a listen flag takes.
fn listen_address(value: &str) -> Option<(&str, u16)> {
    let (host, port) = value.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    host_ok.then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_above_host_path_mounts_is_the_hosts() {
        let view = HostView {
            mounts: vec![
                (
                    "/var/lib/kubelet/plugins".to_owned(),
                    PathBuf::from("/run/x/host/var/lib/kubelet/plugins"),
                ),
                (
                    "/csi".to_owned(),
                    PathBuf::from("/run/x/pods/p/volumes/socket-dir"),
                ),
            ],
            ports: HashMap::new(),
        };
        assert_eq!(
            view.host_path("/var/lib/kubelet"),
            Some(PathBuf::from("/run/x/host/var/lib/kubelet"))
        );
        assert_eq!(view.host_path("/var/lib/other"), None);
        assert_eq!(view.host_path("/"), Some(PathBuf::from("/run/x/host")));
    }

    #[test]
    fn expansion_follows_kubelet() {
        let env = HashMap::from([("POD_NAMESPACE".to_owned(), "rook-ceph".to_owned())]);
        assert_eq!(
            expand("--leader-election-namespace=$(POD_NAMESPACE)", &env),
            "--leader-election-namespace=rook-ceph"
        );
        assert_eq!(expand("$(UNSET)/x", &env), "$(UNSET)/x");
        assert_eq!(expand("$$(POD_NAMESPACE)", &env), "$(POD_NAMESPACE)");
        assert_eq!(expand("cost $5", &env), "cost $5");
    }

    #[test]
    fn paths_under_mounts_and_listen_addresses_move_everything_else_stays() {
        let mut view = HostView {
            mounts: vec![
                ("/csi".into(), PathBuf::from("/r/pod/socket-dir")),
                (
                    "/var/lib/kubelet/plugins".into(),
                    PathBuf::from("/r/host/plugins"),
                ),
                (
                    "/var/lib/kubelet/plugins/x".into(),
                    PathBuf::from("/r/host/x"),
                ),
            ],
            ports: HashMap::new(),
        };
        let mut next = 40000;
        let mut free = || {
            next += 1;
            next
        };
        let cases = [
            (
                "--csi-address=/csi/csi.sock",
                "--csi-address=/r/pod/socket-dir/csi.sock",
            ),
            (
                "--endpoint=unix:///csi/csi.sock",
                "--endpoint=unix:///r/pod/socket-dir/csi.sock",
            ),
            (
                "--kubelet-socket-path=/var/lib/kubelet/plugins/x/csi.sock",
                "--kubelet-socket-path=/r/host/x/csi.sock",
            ),
            (
                "--state=/var/lib/kubelet/pluginsX",
                "--state=/var/lib/kubelet/pluginsX",
            ),
            ("--http-endpoint=:8080", "--http-endpoint=:40001"),
            (
                "--metrics-address=0.0.0.0:8080",
                "--metrics-address=0.0.0.0:40001",
            ),
            ("--other=127.0.0.1:9090", "--other=127.0.0.1:40002"),
            ("--timeout=150s", "--timeout=150s"),
            ("--leader-election", "--leader-election"),
            (
                "--driver-name=rbd.csi.sepia.io",
                "--driver-name=rbd.csi.sepia.io",
            ),
            (
                "--feature-gates=Topology=true",
                "--feature-gates=Topology=true",
            ),
            ("/csi/csi.sock", "/r/pod/socket-dir/csi.sock"),
        ];
        for (given, expected) in cases {
            assert_eq!(view.arg(given, &mut free), expected, "{given}");
        }
    }
}
