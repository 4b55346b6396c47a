//! The bench's flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::error::Result;
use rig::access::{Access, default_bed_env};
use rig::size::parse_size;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Through the CSI endpoint.
    Csi,
    /// The bare librados/librbd calls of each operation, no CSI.
    Floor,
    /// Floor first, then CSI, and their ratios.
    Both,
}

impl Mode {
    pub fn floor(self) -> bool {
        matches!(self, Mode::Floor | Mode::Both)
    }

    pub fn csi(self) -> bool {
        matches!(self, Mode::Csi | Mode::Both)
    }
}

/// Drives a CSI controller over its socket: N CreateVolume (C at a time), then a CreateSnapshot
/// of each, then DeleteSnapshot and DeleteVolume of all; prints ops/s and p50/p95/p99/max per
/// operation, errors by gRPC code, and (with --mode floor|both) the same work done with bare
/// librados/librbd calls for comparison.
#[derive(Debug, Clone, Parser)]
#[command(name = "sepia-bench", version)]
pub struct Options {
    /// CSI endpoint of the controller under test (`unix:///path`). Not needed with
    /// --spawn-controller or --mode floor.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// clusterID of the StorageClass (and of the generated config.json with --spawn-controller).
    #[arg(long, default_value = "sepia-bench")]
    pub cluster_id: String,
    #[arg(long, default_value = "rbd")]
    pub pool: String,
    /// RADOS namespace the controller is configured with (its `rbd.radosNamespace`). Without
    /// it, the bench creates a fresh namespace (and removes it at the end) when it runs the
    /// floor or spawns the controller, and uses the pool's default namespace otherwise.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Volumes (and snapshots) per run.
    #[arg(short = 'n', long = "count", default_value_t = 200)]
    pub count: usize,
    /// Operations in flight at once.
    #[arg(short = 'c', long, default_value_t = 16)]
    pub concurrency: usize,
    /// Volume size, as a PVC writes it.
    #[arg(long, default_value = "1Gi", value_parser = parse_size)]
    pub size: u64,
    #[arg(long, value_enum, default_value_t = Mode::Csi)]
    pub mode: Mode,
    /// `imageFeatures` StorageClass parameter (and the floor's image features).
    #[arg(long, default_value = "layering")]
    pub image_features: String,
    /// Start this controller binary on a socket of its own with a generated config.json and
    /// sample its memory.
    #[arg(long, value_name = "PATH")]
    pub spawn_controller: Option<PathBuf>,
    /// An extra flag for the spawned controller, e.g. `--controller-arg=--trash-purge=schedule`
    /// (repeatable).
    #[arg(
        long = "controller-arg",
        value_name = "FLAG",
        allow_hyphen_values = true
    )]
    pub controller_args: Vec<String>,
    /// Driver name given to the spawned controller.
    #[arg(long, default_value = "rbd.csi.sepia.io")]
    pub driver_name: String,
    /// Sample the memory of this (already running) controller process.
    #[arg(long, conflicts_with = "spawn_controller")]
    pub controller_pid: Option<u32>,
    /// Take monitors and the cephx identity from the local bed's env file (the default when
    /// --user/--key-file are not given).
    #[arg(long, conflicts_with_all = ["user", "key_file"])]
    pub secrets_from_bed: bool,
    /// The bed's env file [default: ${SEPIA_BED_DIR:-/tmp/sepia-bed}/env].
    #[arg(long)]
    pub bed_env: Option<PathBuf>,
    /// Monitor addresses (`host:port[,host:port]`) when not taken from the bed.
    #[arg(long)]
    pub monitors: Option<String>,
    /// cephx user (without `client.`) sent as `userID`.
    #[arg(long, requires = "key_file")]
    pub user: Option<String>,
    /// File holding the cephx key of --user (sent as `userKey`; never printed).
    #[arg(long, requires = "user")]
    pub key_file: Option<PathBuf>,
    /// Deadline of every RPC (and of waiting for a snapshot to become ready).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub rpc_timeout: Duration,
    /// How long to wait for the mgr to purge the trash after the deletes.
    #[arg(long, default_value = "600s", value_parser = humantime::parse_duration)]
    pub purge_timeout: Duration,
    /// Run id in request names (`bench-<id>-vol-0001`); random by default, so reruns never
    /// collide.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The CephFS mode, on this file system: --endpoint is a running CephFS controller (its
    /// StorageClass: --cluster-id and this fsName), the floor the bare mgr `volumes` calls.
    #[arg(long, conflicts_with = "spawn_controller")]
    pub fs_name: Option<String>,
}

impl Options {
    /// Rules clap cannot express.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, rule: &str| {
            Err(rig::Error::InvalidArgument {
                field,
                rule: rule.to_owned(),
            }
            .into())
        };
        if self.count == 0 {
            return invalid("count", "must be at least 1");
        }
        if self.concurrency == 0 {
            return invalid("concurrency", "must be at least 1");
        }
        if self.mode.csi() && self.endpoint.is_none() && self.spawn_controller.is_none() {
            return invalid(
                "endpoint",
                "is required for --mode csi|both unless --spawn-controller is given",
            );
        }
        if self.endpoint.is_some() && self.spawn_controller.is_some() {
            return invalid(
                "endpoint",
                "conflicts with --spawn-controller (it picks its own socket)",
            );
        }
        if let Some(id) = &self.run_id
            && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return invalid("run-id", "must be non-empty letters, digits and '-'");
        }
        Ok(())
    }

    /// Credentials from --user/--key-file (monitors from --monitors or the bed), else the bed.
    pub fn access(&self) -> Result<Access> {
        let bed_env = self.bed_env.clone().unwrap_or_else(default_bed_env);
        match (&self.user, &self.key_file) {
            (Some(user), Some(key_file)) => {
                let monitors = match &self.monitors {
                    Some(monitors) => monitors.clone(),
                    None => Access::from_bed_env(&bed_env)?.credentials.monitors,
                };
                Ok(Access::from_flags(&monitors, user, key_file)?)
            }
            _ => {
                let mut access = Access::from_bed_env(&bed_env)?;
                if let Some(monitors) = &self.monitors {
                    access.credentials.monitors.clone_from(monitors);
                }
                Ok(access)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("sepia-bench").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_the_issue_s_run() {
        let o = parse(&["--endpoint", "unix:///tmp/csi.sock"]);
        assert_eq!((o.count, o.concurrency, o.size), (200, 16, 1 << 30));
        assert_eq!(o.mode, Mode::Csi);
        o.validate().unwrap();
    }

    #[test]
    fn csi_mode_needs_an_endpoint_or_a_controller_to_spawn() {
        let err = parse(&["--mode", "both"])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid endpoint"), "{err}");
        parse(&["--mode", "both", "--spawn-controller", "/bin/x"])
            .validate()
            .unwrap();
        parse(&["--mode", "floor", "-n", "4", "-c", "2"])
            .validate()
            .unwrap();
        let err = parse(&["--mode", "floor", "-c", "0"])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurrency"), "{err}");
    }

    #[test]
    fn a_user_needs_a_key_file_and_excludes_the_bed() {
        let base = ["sepia-bench", "--mode", "floor"];
        let with =
            |extra: &[&str]| Options::try_parse_from(base.iter().chain(extra.iter()).copied());
        assert!(with(&["--user", "admin"]).is_err());
        assert!(with(&["--user", "a", "--key-file", "/k", "--secrets-from-bed"]).is_err());
        assert!(with(&["--user", "a", "--key-file", "/k"]).is_ok());
        assert!(with(&["--size", "1.5Gi"]).is_err());
    }
}
