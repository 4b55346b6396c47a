//! The real `sepia-controller` as a child process, on a fresh RADOS namespace of the local
//! Ceph, and the Ceph-side checks tests make (images, journal keys, clone parents) through the
//! `rbd`/`rados` CLIs — independent of the code under test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sepia_testbed::Bed;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::{CLUSTER_ID, DRIVER, workspace_binary};

/// One Ceph-backed controller with its own RADOS namespace, socket and config.
pub struct Controller {
    pub namespace: String,
    pub socket: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    config: PathBuf,
    failpoints: Option<String>,
}

impl Controller {
    pub async fn start(dir: &Path, failpoints: Option<&str>) -> Self {
        let bed = Bed::get();
        let namespace = bed.unique_name("prov");
        bed.cli(
            "rbd",
            &[
                "namespace",
                "create",
                "--pool",
                &bed.pool,
                "--namespace",
                &namespace,
            ],
        );
        let config = dir.join("config.json");
        let monitors: Vec<&str> = bed.monitors.split(',').collect();
        std::fs::write(
            &config,
            serde_json::to_vec(&json!([{
                "clusterID": CLUSTER_ID,
                "monitors": monitors,
                "rbd": {"radosNamespace": namespace},
            }]))
            .unwrap(),
        )
        .unwrap();
        let mut controller = Controller {
            namespace,
            socket: dir.join("csi.sock"),
            child: None,
            log: dir.join("controller.log"),
            config,
            failpoints: failpoints.map(str::to_owned),
        };
        controller.run();
        controller
    }

    fn run(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let mut command = Command::new(workspace_binary("sepia-controller"));
        command
            .arg("--endpoint")
            .arg(format!("unix://{}", self.socket.display()))
            .args(["--driver-name", DRIVER, "--cluster-config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .env_remove("SEPIA_FAILPOINTS")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        if let Some(fp) = &self.failpoints {
            command.env("SEPIA_FAILPOINTS", fp);
        }
        self.child = Some(command.spawn().expect("start sepia-controller"));
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// RBD images in the namespace (not counting the trash).
    pub fn images(&self) -> Vec<String> {
        let bed = Bed::get();
        let out = bed.cli(
            "rbd",
            &["ls", "--pool", &bed.pool, "--namespace", &self.namespace],
        );
        out.lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Request names in the volume journal (`csi.volumes.default`).
    pub fn journal_keys(&self) -> Vec<String> {
        let out = std::process::Command::new("rados")
            .args(["--pool", &Bed::get().pool, "--namespace", &self.namespace])
            .args(["listomapkeys", "csi.volumes.default"])
            .env("CEPH_CONF", &Bed::get().conf_path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The image's parent (`image@snap`), if it is a clone.
    pub fn parent(&self, image: &str) -> Option<String> {
        let bed = Bed::get();
        let out = bed.cli(
            "rbd",
            &[
                "info",
                "--format",
                "json",
                &format!("{}/{}/{image}", bed.pool, self.namespace),
            ],
        );
        let info: Value = serde_json::from_str(&out).unwrap();
        info.get("parent").map(|p| {
            format!(
                "{}@{}",
                p["image"].as_str().unwrap_or(""),
                p["snapshot"].as_str().unwrap_or("")
            )
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        // Best-effort clean-up of the namespace (images, trash, then the namespace).
        let bed = Bed::get();
        let run = |args: &[&str]| {
            let _ = std::process::Command::new("timeout")
                .arg("60")
                .arg("rbd")
                .args(args)
                .env("CEPH_CONF", &bed.conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for image in self.images_quiet() {
            let spec = format!("{}/{}/{image}", bed.pool, self.namespace);
            run(&["snap", "purge", &spec]);
            run(&["rm", &spec]);
        }
        run(&[
            "trash",
            "purge",
            "--pool",
            &bed.pool,
            "--namespace",
            &self.namespace,
        ]);
        run(&[
            "namespace",
            "remove",
            "--pool",
            &bed.pool,
            "--namespace",
            &self.namespace,
        ]);
    }
}

impl Controller {
    fn images_quiet(&self) -> Vec<String> {
        let bed = Bed::get();
        std::process::Command::new("rbd")
            .args(["ls", "--pool", &bed.pool, "--namespace", &self.namespace])
            .env("CEPH_CONF", &bed.conf_path)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}
