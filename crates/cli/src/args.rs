//! The command line: subcommands and the flags every subcommand shares.
//!
//! Keys never come from argv: `--credentials-dir` names a directory holding `userID` and
//! `userKey`, as the plugins' standing credentials are mounted.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "sepia",
    version,
    about = "Operator tool for Sepia (Ceph RBD CSI)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode an ID and show its journal entry, image and publications.
    Inspect(InspectArgs),
    /// List leftovers (journal entries without images, images without entries, ...).
    Orphans(OrphansArgs),
    /// Check the config, monitors, credentials, caps, pool, namespace and NATS; a fix per failure.
    Doctor(DoctorArgs),
    /// Print Sepia's events from NATS, one line each.
    Events(EventsArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Flags every Ceph-facing subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct Shared {
    /// The plugins' cluster config (config.json, a list of clusterID/monitors entries).
    #[arg(
        long,
        env = "SEPIA_CLUSTER_CONFIG",
        default_value = "/etc/ceph-csi-config/config.json"
    )]
    pub cluster_config: PathBuf,
    /// Directory with files `userID` and `userKey` (the Ceph user to connect as).
    #[arg(long, env = "SEPIA_CREDENTIALS_DIR")]
    pub credentials_dir: PathBuf,
    /// Cluster of the config to use; may be left out when the config has one cluster.
    #[arg(long)]
    pub cluster_id: Option<String>,
    /// RBD pool (for image names; `orphans` scans every RBD pool without it).
    #[arg(long)]
    pub pool: Option<String>,
    /// A kubeconfig: then PVC (`namespace/name`) and PV names are handles too, and what
    /// references a volume is shown (read-only).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// `table` for people, `json` for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A volume or snapshot ID (RBD or CephFS), an RBD image name (with `--pool`), or a
    /// CephFS subvolume name (with `--fs`).
    pub handle: String,
    /// The CephFS filesystem of a subvolume name.
    #[arg(long)]
    pub fs: Option<String>,
    #[command(flatten)]
    pub shared: Shared,
}

#[derive(Debug, Args)]
pub struct OrphansArgs {
    /// Remove what was listed (after a confirmation, or `--yes`).
    #[arg(long)]
    pub delete: bool,
    /// Do not ask before removing.
    #[arg(long, requires = "delete")]
    pub yes: bool,
    /// How long past its deferment end a trashed driver image may wait for the purge its
    /// delete queued (the mgr's task or its minutely schedule) before it counts as left behind.
    #[arg(long, default_value = "10m")]
    pub trash_grace: humantime::Duration,
    /// CephFS filesystems to scan too (their subvolume group and journal of the cluster config).
    #[arg(long = "fs")]
    pub filesystems: Vec<String>,
    #[command(flatten)]
    pub shared: Shared,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// NATS server of the events stream (the plugins' `--nats-url`); not checked without.
    #[arg(long, env = "SEPIA_NATS_URL")]
    pub nats_url: Option<String>,
    /// The RBD driver's name (`--driver-name` of its plugins): with `--kubeconfig`, its
    /// CSIDriver and StorageClasses are checked.
    #[arg(long, default_value = "rbd.csi.sepia.io")]
    pub driver_name: String,
    /// The CephFS driver's name: checked as the RBD one once a StorageClass names it.
    #[arg(long, default_value = "cephfs.csi.sepia.io")]
    pub cephfs_driver_name: String,
    #[command(flatten)]
    pub shared: Shared,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// NATS server of the events stream (the plugins' `--nats-url`).
    #[arg(long, env = "SEPIA_NATS_URL")]
    pub nats_url: String,
    /// The JetStream stream (the plugins' default).
    #[arg(long, default_value = "SEPIA")]
    pub stream: String,
    /// Subjects to read (`sepia.<component>.<object>.<verb>`, NATS wildcards).
    #[arg(long, default_value = "sepia.>")]
    pub subject: String,
    /// Keep reading new events.
    #[arg(short, long)]
    pub follow: bool,
    /// Only events of the last DURATION (e.g. `10m`, `2h`).
    #[arg(long)]
    pub since: Option<humantime::Duration>,
    /// Only events of this volume ID.
    #[arg(long, conflicts_with = "pvc")]
    pub volume: Option<String>,
    /// Only events about this PVC (`namespace/name`).
    #[arg(long)]
    pub pvc: Option<String>,
    /// `table` (one line per event) or `json` (one JSON object per line).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}
