//! `--fs-name`: the CephFS mode. Through CSI (a running `sepia-cephfs-controller` at
//! `--endpoint`): N CreateVolume, a CreateSnapshot of each, a restore of each (CreateVolume
//! from the snapshot, called again while it answers ABORTED, as the external-provisioner
//! retries), then DeleteSnapshot, and DeleteVolume of restores and sources. The floor: the
//! bare mgr `volumes` calls the same work needs (`fs subvolume create`, `snapshot create`,
//! `snapshot clone` + `fs clone status` until complete, `snapshot rm`, `rm`) in a subvolume
//! group of the bench's own, removed at the end. Both run C at a time; the report is the RBD
//! mode's table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ceph::{Cluster, Timeouts};
use csi::v1::controller_client::ControllerClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::volume_content_source::{SnapshotSource, Type};
use csi::v1::{
    CapacityRange, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest, VolumeCapability, VolumeContentSource,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::error::{Error, Result};
use crate::options::Options;
use crate::outcome::OpError;
use crate::phase::{Done, Phase, PhaseSpec, run_phase};
use crate::report::Report;
use rig::csi_call::{plugin_info, with_timeout};
use rig::mgr::Mgr;

/// Pause between calls while a clone is not complete, on both sides.
const CLONE_POLL: Duration = Duration::from_millis(200);

/// Runs the CephFS mode on file system `fs`.
pub async fn run(opts: &Options, fs: &str) -> Result<Report> {
    opts.validate()?;
    let access = opts.access()?;
    let run_id = opts
        .run_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    // The mgr serialises `volumes` commands and clones take seconds: the Ceph deadline is the
    // RPC's, as the controller's is.
    let timeouts = Timeouts {
        op: opts.rpc_timeout,
        ..Timeouts::default()
    };
    let cluster = Cluster::connect(&access.credentials, &timeouts)
        .await
        .map_err(|e| Error::ceph("connect to Ceph", e))?;
    let mgr = Mgr {
        cluster,
        fs: fs.to_owned(),
        group: format!("bench-{run_id}"),
    };
    let mut report = Report {
        run_id: run_id.clone(),
        count: opts.count,
        concurrency: opts.concurrency,
        size_bytes: opts.size,
        pool: format!("CephFS {fs}"),
        namespace: format!("floor: subvolume group {}", mgr.group),
        endpoint: opts.endpoint.clone(),
        driver: None,
        phases: Vec::new(),
        purges: Vec::new(),
        memory: None,
        leftovers: None,
        targets: Vec::new(),
    };
    let names: Vec<usize> = (0..opts.count).collect();
    if opts.mode.floor() {
        mgr.call(json!({"prefix": "fs subvolumegroup create", "group_name": mgr.group}))
            .await
            .map_err(|e| Error::ceph("fs subvolumegroup create", e))?;
        let floor = floor(opts, Arc::new(mgr.clone()), &names).await;
        report.phases.extend(floor);
        // What failed operations left (their errors are in the table) goes before the group.
        let left = mgr.subvolumes().await?;
        for name in &left {
            let _ = mgr
                .op(
                    json!({"prefix": "fs subvolume snapshot rm", "sub_name": name,
                           "snap_name": "snap", "force": true}),
                )
                .await;
            let _ = mgr
                .op(json!({"prefix": "fs subvolume rm", "sub_name": name, "force": true}))
                .await;
        }
        if !left.is_empty() {
            eprintln!(
                "sepia-bench: the floor's failed operations left {} subvolume(s); removed them",
                left.len()
            );
        }
        mgr.call(json!({"prefix": "fs subvolumegroup rm", "group_name": mgr.group}))
            .await
            .map_err(|e| Error::ceph("fs subvolumegroup rm", e))?;
    }
    if opts.mode.csi() {
        let Some(endpoint) = &opts.endpoint else {
            return Err(rig::Error::InvalidArgument {
                field: "endpoint",
                rule: "the CephFS mode drives a running controller at --endpoint".into(),
            }
            .into());
        };
        let channel = csi::client::connect(endpoint, opts.rpc_timeout).await?;
        let info = plugin_info(&channel, opts.rpc_timeout).await?;
        report.driver = Some(format!("{} {}", info.name, info.vendor_version));
        let csi = Arc::new(Csi {
            client: ControllerClient::new(channel),
            parameters: HashMap::from([
                ("clusterID".to_owned(), opts.cluster_id.clone()),
                ("fsName".to_owned(), fs.to_owned()),
            ]),
            secrets: HashMap::from([
                ("adminID".to_owned(), access.credentials.user.clone()),
                ("adminKey".to_owned(), access.credentials.key().to_owned()),
            ]),
            size: opts.size,
            timeout: opts.rpc_timeout,
        });
        report
            .phases
            .extend(through_csi(opts, csi, &run_id, &names).await);
    }
    Ok(report)
}

fn spec(opts: &Options, op: &'static str, variant: &'static str, detail: &str) -> PhaseSpec {
    PhaseSpec {
        op,
        variant,
        detail: detail.to_owned(),
        concurrency: opts.concurrency,
    }
}

/// The five phases through the bare mgr calls.
async fn floor(opts: &Options, mgr: Arc<Mgr>, names: &[usize]) -> Vec<crate::phase::PhaseResult> {
    let size = opts.size;
    let mut out = Vec::new();
    let m = Arc::clone(&mgr);
    let created: Phase<usize> = run_phase(
        spec(opts, "CreateVolume", "floor", "fs subvolume create"),
        names.to_vec(),
        move |i| {
            let m = Arc::clone(&m);
            async move {
                m.op(
                    json!({"prefix": "fs subvolume create", "sub_name": format!("vol-{i}"),
                            "size": size}),
                )
                .await?;
                Ok(Done::now(i))
            }
        },
    )
    .await;
    out.push(created.result);
    let ok: Vec<usize> = created.outputs.into_iter().flatten().collect();
    let m = Arc::clone(&mgr);
    let snapped: Phase<usize> = run_phase(
        spec(
            opts,
            "CreateSnapshot",
            "floor",
            "fs subvolume snapshot create",
        ),
        ok.clone(),
        move |i| {
            let m = Arc::clone(&m);
            async move {
                m.op(json!({"prefix": "fs subvolume snapshot create",
                            "sub_name": format!("vol-{i}"), "snap_name": "snap"}))
                    .await?;
                Ok(Done::now(i))
            }
        },
    )
    .await;
    out.push(snapped.result);
    let snaps: Vec<usize> = snapped.outputs.into_iter().flatten().collect();
    let m = Arc::clone(&mgr);
    let cloned: Phase<usize> = run_phase(
        spec(
            opts,
            "Restore",
            "floor",
            "snapshot clone + clone status until complete",
        ),
        snaps.clone(),
        move |i| {
            let m = Arc::clone(&m);
            async move {
                m.op(json!({"prefix": "fs subvolume snapshot clone",
                            "sub_name": format!("vol-{i}"), "snap_name": "snap",
                            "target_sub_name": format!("clone-{i}"),
                            "target_group_name": m.group}))
                    .await?;
                m.wait_clone(&format!("clone-{i}")).await?;
                Ok(Done::now(i))
            }
        },
    )
    .await;
    out.push(cloned.result);
    let clones: Vec<usize> = cloned.outputs.into_iter().flatten().collect();
    let m = Arc::clone(&mgr);
    out.push(
        run_phase(
            spec(opts, "DeleteSnapshot", "floor", "fs subvolume snapshot rm"),
            snaps,
            move |i| {
                let m = Arc::clone(&m);
                async move {
                    m.op(json!({"prefix": "fs subvolume snapshot rm",
                                "sub_name": format!("vol-{i}"), "snap_name": "snap"}))
                        .await?;
                    Ok(Done::now(()))
                }
            },
        )
        .await
        .result,
    );
    // The restores and their sources together, as the CSI side deletes them.
    let subvolumes: Vec<String> = clones
        .iter()
        .map(|i| format!("clone-{i}"))
        .chain(ok.iter().map(|i| format!("vol-{i}")))
        .collect();
    let m = Arc::clone(&mgr);
    out.push(
        run_phase(
            spec(
                opts,
                "DeleteVolume",
                "floor",
                "fs subvolume rm (restores, sources)",
            ),
            subvolumes,
            move |name| {
                let m = Arc::clone(&m);
                async move {
                    m.op(json!({"prefix": "fs subvolume rm", "sub_name": name}))
                        .await?;
                    Ok(Done::now(()))
                }
            },
        )
        .await
        .result,
    );
    out
}

/// The same phases through CSI.
async fn through_csi(
    opts: &Options,
    csi: Arc<Csi>,
    run_id: &str,
    names: &[usize],
) -> Vec<crate::phase::PhaseResult> {
    let mut out = Vec::new();
    let run = run_id.to_owned();
    let c = Arc::clone(&csi);
    let created: Phase<String> = run_phase(
        spec(opts, "CreateVolume", "csi", "CreateVolume"),
        names.to_vec(),
        move |i| {
            let (c, name) = (Arc::clone(&c), format!("bench-{run}-vol-{i:04}"));
            async move { c.create(name, None).await.map(Done::now) }
        },
    )
    .await;
    out.push(created.result);
    let volumes: Vec<String> = created.outputs.into_iter().flatten().collect();
    let run = run_id.to_owned();
    let c = Arc::clone(&csi);
    let snapped: Phase<String> = run_phase(
        spec(opts, "CreateSnapshot", "csi", "CreateSnapshot"),
        volumes.iter().cloned().enumerate().collect(),
        move |(i, volume): (usize, String)| {
            let (c, name) = (Arc::clone(&c), format!("bench-{run}-snap-{i:04}"));
            async move { c.snapshot(name, volume).await.map(Done::now) }
        },
    )
    .await;
    out.push(snapped.result);
    let snapshots: Vec<String> = snapped.outputs.into_iter().flatten().collect();
    let run = run_id.to_owned();
    let c = Arc::clone(&csi);
    let restored: Phase<String> = run_phase(
        spec(
            opts,
            "Restore",
            "csi",
            "CreateVolume from snapshot, again while ABORTED",
        ),
        snapshots.iter().cloned().enumerate().collect(),
        move |(i, snapshot): (usize, String)| {
            let (c, name) = (Arc::clone(&c), format!("bench-{run}-restore-{i:04}"));
            async move { c.create(name, Some(snapshot)).await.map(Done::now) }
        },
    )
    .await;
    out.push(restored.result);
    let restores: Vec<String> = restored.outputs.into_iter().flatten().collect();
    let volumes: Vec<String> = restores.into_iter().chain(volumes).collect();
    for (op, detail, ids) in [
        ("DeleteSnapshot", "DeleteSnapshot", snapshots),
        ("DeleteVolume", "DeleteVolume (restores, sources)", volumes),
    ] {
        let c = Arc::clone(&csi);
        let snapshot = op == "DeleteSnapshot";
        out.push(
            run_phase(spec(opts, op, "csi", detail), ids, move |id| {
                let c = Arc::clone(&c);
                async move { c.delete(id, snapshot).await.map(Done::now) }
            })
            .await
            .result,
        );
    }
    out
}

/// What the bench does with the mgr beyond the rig's plain commands: timed operations in its
/// group, clone waits, the group's subvolumes.
trait BenchMgr {
    async fn op(&self, cmd: Value) -> std::result::Result<Value, OpError>;
    async fn wait_clone(&self, name: &str) -> std::result::Result<(), OpError>;
    async fn subvolumes(&self) -> Result<Vec<String>>;
}

impl BenchMgr for Mgr {
    /// A timed operation in the bench's group.
    async fn op(&self, mut cmd: Value) -> std::result::Result<Value, OpError> {
        let prefix = cmd["prefix"].as_str().unwrap_or("mgr").to_owned();
        cmd["group_name"] = json!(self.group);
        self.call(cmd)
            .await
            .map_err(|e| OpError::from_ceph(&prefix, &e))
    }

    async fn wait_clone(&self, name: &str) -> std::result::Result<(), OpError> {
        loop {
            let status = self
                .op(json!({"prefix": "fs clone status", "clone_name": name}))
                .await?;
            match status["status"]["state"].as_str() {
                Some("complete") => return Ok(()),
                Some("pending" | "in-progress") => tokio::time::sleep(CLONE_POLL).await,
                other => {
                    return Err(OpError::new(
                        "CLONE_FAILED",
                        format!("clone {name} is {other:?}"),
                    ));
                }
            }
        }
    }

    async fn subvolumes(&self) -> Result<Vec<String>> {
        let cmd = json!({"prefix": "fs subvolume ls", "group_name": self.group});
        self.names(cmd)
            .await
            .map_err(|e| Error::ceph("fs subvolume ls", e))
    }
}

/// The CephFS controller as the sidecars call it.
struct Csi {
    client: ControllerClient<Channel>,
    parameters: HashMap<String, String>,
    secrets: HashMap<String, String>,
    size: u64,
    timeout: Duration,
}

impl Csi {
    /// CreateVolume `name`, from `snapshot` when given, called again while ABORTED (a clone
    /// in progress) until the RPC timeout.
    async fn create(
        &self,
        name: String,
        snapshot: Option<String>,
    ) -> std::result::Result<String, OpError> {
        let request = CreateVolumeRequest {
            name,
            capacity_range: Some(CapacityRange {
                required_bytes: i64::try_from(self.size).unwrap_or(i64::MAX),
                limit_bytes: 0,
            }),
            volume_capabilities: vec![VolumeCapability {
                access_mode: Some(AccessMode {
                    mode: Mode::MultiNodeMultiWriter as i32,
                }),
                access_type: Some(AccessType::Mount(MountVolume::default())),
            }],
            parameters: self.parameters.clone(),
            secrets: self.secrets.clone(),
            volume_content_source: snapshot.map(|snapshot_id| VolumeContentSource {
                r#type: Some(Type::Snapshot(SnapshotSource { snapshot_id })),
            }),
            ..Default::default()
        };
        let start = Instant::now();
        loop {
            let reply = self
                .client
                .clone()
                .create_volume(with_timeout(request.clone(), self.timeout))
                .await;
            match reply {
                Ok(reply) => {
                    return reply
                        .into_inner()
                        .volume
                        .map(|v| v.volume_id)
                        .ok_or_else(|| OpError::new("BAD_REPLY", "no volume"));
                }
                Err(status)
                    if status.code() == tonic::Code::Aborted && start.elapsed() < self.timeout =>
                {
                    tokio::time::sleep(CLONE_POLL).await;
                }
                Err(status) => return Err(OpError::from_status(&status)),
            }
        }
    }

    async fn snapshot(&self, name: String, volume: String) -> std::result::Result<String, OpError> {
        let request = CreateSnapshotRequest {
            source_volume_id: volume,
            name,
            secrets: self.secrets.clone(),
            parameters: HashMap::new(),
        };
        self.client
            .clone()
            .create_snapshot(with_timeout(request, self.timeout))
            .await
            .map_err(|s| OpError::from_status(&s))?
            .into_inner()
            .snapshot
            .map(|s| s.snapshot_id)
            .ok_or_else(|| OpError::new("BAD_REPLY", "no snapshot"))
    }

    async fn delete(&self, id: String, snapshot: bool) -> std::result::Result<(), OpError> {
        let mut client = self.client.clone();
        let reply = if snapshot {
            let request = DeleteSnapshotRequest {
                snapshot_id: id,
                secrets: self.secrets.clone(),
            };
            client
                .delete_snapshot(with_timeout(request, self.timeout))
                .await
                .map(drop)
        } else {
            let request = DeleteVolumeRequest {
                volume_id: id,
                secrets: self.secrets.clone(),
            };
            client
                .delete_volume(with_timeout(request, self.timeout))
                .await
                .map(drop)
        };
        reply.map_err(|s| OpError::from_status(&s))
    }
}
