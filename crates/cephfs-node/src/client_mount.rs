//! Mounting a subvolume with a CephFS client: the command lines of `ceph-fuse` and of
//! `mount -t ceph`, and running them with the key in a file.
//!
//! The key reaches the client only through a key file (0600 in a fresh 0700 directory under
//! the state directory, [`node::secret::KeyDir`]), removed as soon as the mount command has
//! returned: ceph-fuse and mount.ceph read it while connecting and keep the key in memory, so
//! nothing of it stays on disk and nothing is on any command line, which every process on the
//! node can read.

use std::path::Path;

use node::NodeError;
use node::mount::mountinfo;
use node::process::ChildCommand;
use node::secret::CephAccess;

use crate::driver::CephfsNode;
use crate::mounter::Mounter;

/// What to mount, resolved and checked.
#[derive(Debug, Clone)]
pub struct MountSpec {
    pub access: CephAccess,
    pub fs_name: String,
    /// Absolute path of the subvolume inside the file system.
    pub subvolume_path: String,
    pub read_only: bool,
    /// Checked `fuseMountOptions` or `kernelMountOptions`, whichever the mounter reads.
    pub options: Vec<String>,
}

/// `ceph-fuse <target> -c <conf> -m <mons> -n client.<user> --keyfile <file> -r <path>
/// --client_fs <fs> --client_mount_timeout <s> [-o <options>]`.
pub fn fuse_command(
    node: &CephfsNode,
    spec: &MountSpec,
    key_file: &Path,
    target: &Path,
) -> ChildCommand {
    let settings = &node.settings;
    let mut cmd = ChildCommand::new("ceph-fuse", settings.deadlines.mount)
        .arg(target)
        .arg("-c")
        .arg(settings.conf_arg())
        .args(["-m", &spec.access.monitors])
        .args(["-n", &format!("client.{}", spec.access.user)])
        .arg("--keyfile")
        .arg(key_file)
        .args(["-r", &spec.subvolume_path])
        .arg(format!("--client_fs={}", spec.fs_name))
        .arg(format!(
            "--client_mount_timeout={}",
            settings.deadlines.connect.as_secs().max(1)
        ));
    let mut options = spec.options.clone();
    if spec.read_only && !options.iter().any(|o| o == "ro") {
        options.push("ro".into());
    }
    if !options.is_empty() {
        cmd = cmd.args(["-o", &options.join(",")]);
    }
    cmd.redact(spec.access.key.expose())
}

/// `mount -t ceph <mons>:<path> <target> -o name=<user>,secretfile=<file>,mds_namespace=<fs>
/// [,ro][,<options>]`. `mds_namespace` rather than the newer `fs=`: every kernel with a
/// CephFS client that can serve CSI takes it.
pub fn kernel_command(
    node: &CephfsNode,
    spec: &MountSpec,
    key_file: &Path,
    target: &Path,
) -> ChildCommand {
    let mut options = vec![
        format!("name={}", spec.access.user),
        format!("secretfile={}", key_file.display()),
        format!("mds_namespace={}", spec.fs_name),
    ];
    if spec.read_only {
        options.push("ro".into());
    }
    options.extend(spec.options.iter().filter(|o| *o != "ro").cloned());
    ChildCommand::new("mount", node.settings.deadlines.mount)
        .args(["-t", "ceph"])
        .arg(format!("{}:{}", spec.access.monitors, spec.subvolume_path))
        .arg(target)
        .args(["-o", &options.join(",")])
        .redact(spec.access.key.expose())
}

/// Mounts `spec` at `target` (an existing empty directory) with `mounter`, and checks the
/// mount table shows it there.
pub async fn mount(
    node: &CephfsNode,
    mounter: Mounter,
    spec: &MountSpec,
    target: &Path,
) -> Result<(), NodeError> {
    let key = node.keys.write(&spec.access.key).await?;
    let command = match mounter {
        Mounter::Fuse => fuse_command(node, spec, key.path(), target),
        Mounter::Kernel => kernel_command(node, spec, key.path(), target),
    };
    let ran = command.run().await;
    // Connected (or failed): the key file goes now, whatever happened.
    drop(key);
    ran?;
    match mountinfo::mount_at(target).await? {
        Some(entry) if entry.fs_type == mounter.fs_type() => Ok(()),
        other => Err(NodeError::Device {
            step: "mount",
            message: format!(
                "{} reported success, but {} shows {}",
                mounter,
                target.display(),
                other.map_or("nothing mounted".to_string(), |e| format!(
                    "a {} mount",
                    e.fs_type
                ))
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;

    use cluster_config::{ClusterConfig, ClusterConfigWatcher};
    use node::secret::Secret;

    use super::*;
    use crate::mounter::{MounterChoice, Support};
    use crate::settings::{CephfsNodeSettings, Deadlines};

    const KEY: &str = "AQBsecretsecretsecretsecretsecret==";

    fn node() -> CephfsNode {
        let settings = CephfsNodeSettings {
            node_id: "n".into(),
            driver_name: "cephfs.csi.sepia.io".into(),
            state_dir: PathBuf::from("/var/lib/sepia-cephfs-node"),
            kubelet_root: PathBuf::from("/var/lib/kubelet"),
            ceph_conf: None,
            mounter: MounterChoice::Auto,
            max_volumes_per_node: 0,
            deadlines: Deadlines::default(),
        };
        let clusters =
            ClusterConfigWatcher::fixed(ClusterConfig::from_entries(Vec::new()).unwrap());
        let support = Support {
            fuse: Ok(()),
            kernel: Ok(()),
        };
        CephfsNode::new(settings, clusters, support)
    }

    fn spec(read_only: bool, options: &[&str]) -> MountSpec {
        MountSpec {
            access: CephAccess {
                monitors: "10.0.0.1:6789,10.0.0.2:6789".into(),
                user: "csi-cephfs-node".into(),
                key: Secret::new(KEY),
            },
            fs_name: "myfs".into(),
            subvolume_path: "/volumes/csi/csi-vol-1/uuid".into(),
            read_only,
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    #[test]
    fn kernel_mount_names_monitors_path_user_fs_and_key_file_only() {
        let target = Path::new("/var/lib/kubelet/plugins/x/globalmount/vol");
        let key_file = Path::new("/var/lib/sepia-cephfs-node/keys/key-1/key");
        let line = kernel_command(&node(), &spec(true, &["noatime", "ro"]), key_file, target)
            .command_line();
        assert_eq!(
            line,
            "mount -t ceph 10.0.0.1:6789,10.0.0.2:6789:/volumes/csi/csi-vol-1/uuid \
             /var/lib/kubelet/plugins/x/globalmount/vol -o name=csi-cephfs-node,\
             secretfile=/var/lib/sepia-cephfs-node/keys/key-1/key,mds_namespace=myfs,ro,noatime"
        );
        assert!(!line.contains(KEY));
    }

    #[test]
    fn fuse_mount_names_root_fs_and_key_file_never_the_key() {
        let target = Path::new("/k/vol");
        let key_file = Path::new("/s/keys/key-1/key");
        let line =
            fuse_command(&node(), &spec(false, &["noatime"]), key_file, target).command_line();
        assert_eq!(
            line,
            "ceph-fuse /k/vol -c /dev/null -m 10.0.0.1:6789,10.0.0.2:6789 -n client.csi-cephfs-node \
             --keyfile /s/keys/key-1/key -r /volumes/csi/csi-vol-1/uuid --client_fs=myfs \
             --client_mount_timeout=45 -o noatime"
        );
        let read_only = fuse_command(&node(), &spec(true, &[]), key_file, target).command_line();
        assert!(read_only.ends_with(" -o ro"), "{read_only}");
        assert!(!read_only.contains(KEY));
    }
}
