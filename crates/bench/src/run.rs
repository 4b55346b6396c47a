//! One bench run, start to end: credentials, the namespace, the floor, the controller, the CSI
//! phases, the trash purge, leftovers, targets.

use std::time::Duration;

use ceph::rbd::Features;
use ceph::{Cluster, IoCtx, Timeouts};

use crate::controller::{ClusterSpec, SpawnedController};
use crate::csi_run::run_csi;
use crate::csi_target::CsiTarget;
use crate::error::{Error, Result};
use crate::floor::Floor;
use crate::floor_run::run_floor;
use crate::options::Options;
use crate::outcome::OpError;
use crate::report::{Purge, Report};
use crate::rss::{self, Sampler};
use rig::csi_call::StorageClass;
use rig::scratch::{ScratchNamespace, wait_for_trash_purge};

/// How long a spawned controller may answer Probe with `ready: false`.
const READY_WAIT: Duration = Duration::from_secs(30);

/// Deadlines of the bench's own Ceph calls.
fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(20),
        op: Duration::from_secs(60),
    }
}

/// Runs the bench as `opts` say. Per-operation failures are in the report; an `Err` means the
/// run could not be carried out (bad flags, no bed, controller down).
pub async fn run(opts: &Options) -> Result<Report> {
    run_until(opts, std::future::pending()).await
}

/// [`run`], stopped early when `interrupted` completes (Ctrl-C): operations in flight are
/// abandoned, a spawned controller is killed, and the bench's own namespace is still removed
/// with everything in it.
pub async fn run_until(opts: &Options, interrupted: impl Future<Output = ()>) -> Result<Report> {
    opts.validate()?;
    let access = opts.access()?;
    let features =
        Features::parse(&opts.image_features).map_err(|e| rig::Error::InvalidArgument {
            field: "image-features",
            rule: e.to_string(),
        })?;
    let run_id = opts
        .run_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    let owns_namespace =
        opts.namespace.is_none() && (opts.mode.floor() || opts.spawn_controller.is_some());
    let cluster = if opts.mode.floor() || owns_namespace {
        Some(
            Cluster::connect(&access.credentials, &timeouts())
                .await
                .map_err(|e| Error::ceph("connect to Ceph", e))?,
        )
    } else {
        None
    };
    let scratch = match (&cluster, owns_namespace) {
        (Some(cluster), true) => {
            Some(ScratchNamespace::create(cluster, &opts.pool, &format!("bench-{run_id}")).await?)
        }
        _ => None,
    };
    let namespace = scratch
        .as_ref()
        .map(|s| s.name.clone())
        .or_else(|| opts.namespace.clone())
        .unwrap_or_default();
    let mut report = Report {
        run_id: run_id.clone(),
        count: opts.count,
        concurrency: opts.concurrency,
        size_bytes: opts.size,
        pool: opts.pool.clone(),
        namespace: namespace.clone(),
        endpoint: None,
        driver: None,
        phases: Vec::new(),
        purges: Vec::new(),
        memory: None,
        leftovers: None,
        targets: Vec::new(),
    };
    let ctx = Context {
        opts,
        access: &access,
        run_id: &run_id,
        namespace: &namespace,
        owns_namespace,
    };
    let outcome = tokio::select! {
        outcome = run_modes(&ctx, cluster.as_ref(), features, &mut report) => outcome,
        () = interrupted => Err(Error::Interrupted),
    };
    if let Some(scratch) = scratch {
        let removed = scratch.remove().await;
        match removed {
            Ok(before) => report.leftovers = Some(before),
            Err(e) if outcome.is_ok() => return Err(e.into()),
            Err(_) => {}
        }
    }
    outcome?;
    report.check_targets();
    Ok(report)
}

/// What every mode needs to know.
struct Context<'a> {
    opts: &'a Options,
    access: &'a rig::access::Access,
    run_id: &'a str,
    namespace: &'a str,
    owns_namespace: bool,
}

async fn run_modes(
    ctx: &Context<'_>,
    cluster: Option<&Cluster>,
    features: Features,
    report: &mut Report,
) -> Result<()> {
    let opts = ctx.opts;
    let io = match cluster {
        Some(cluster) => Some(
            cluster
                .ioctx(&opts.pool, ctx.namespace)
                .await
                .map_err(|e| Error::ceph(format!("open pool {}", opts.pool), e))?,
        ),
        None => None,
    };
    if let (true, Some(cluster), Some(io)) = (opts.mode.floor(), cluster, &io) {
        let floor = Floor::new(cluster.clone(), io.clone(), opts.size, features)?;
        crate::floor_run::warm_up(&floor, ctx.run_id)
            .await
            .map_err(|e| warm_up_failed("floor", "CreateVolume+DeleteVolume", e))?;
        report
            .phases
            .extend(run_floor(&floor, ctx.run_id, opts.count, opts.concurrency).await);
        purge(ctx, io, "floor", report).await;
    }
    if opts.mode.csi() {
        let controller = match &opts.spawn_controller {
            Some(binary) => Some(
                SpawnedController::start(
                    binary,
                    &opts.driver_name,
                    &opts.controller_args,
                    &ClusterSpec {
                        cluster_id: opts.cluster_id.clone(),
                        monitors: ctx.access.monitor_list(),
                        rados_namespace: ctx.namespace.to_owned(),
                    },
                )
                .await?,
            ),
            None => None,
        };
        let endpoint = match (&controller, &opts.endpoint) {
            (Some(c), _) => c.endpoint.clone(),
            (None, Some(endpoint)) => endpoint.clone(),
            (None, None) => {
                return Err(rig::Error::InvalidArgument {
                    field: "endpoint",
                    rule: "is required without --spawn-controller".into(),
                }
                .into());
            }
        };
        let pid = controller.as_ref().map(|c| c.pid).or(opts.controller_pid);
        let measured = run_csi_mode(ctx, &endpoint, pid, io.as_ref(), report).await;
        if let Some(controller) = controller {
            let stopped = controller.stop().await;
            measured?;
            stopped?;
        } else {
            measured?;
        }
    }
    Ok(())
}

async fn run_csi_mode(
    ctx: &Context<'_>,
    endpoint: &str,
    pid: Option<u32>,
    io: Option<&IoCtx>,
    report: &mut Report,
) -> Result<()> {
    let opts = ctx.opts;
    let class = StorageClass {
        cluster_id: opts.cluster_id.clone(),
        pool: opts.pool.clone(),
        image_features: opts.image_features.clone(),
    };
    let target = CsiTarget::connect(
        endpoint,
        &class,
        ctx.access.csi_secrets(),
        opts.size,
        opts.rpc_timeout,
    )
    .await?;
    let info = wait_until_ready(&target).await?;
    report.endpoint = Some(endpoint.to_owned());
    report.driver = Some(format!("{} {}", info.name, info.vendor_version));
    let startup = pid.and_then(rss::read);
    crate::csi_run::warm_up(&target, ctx.run_id)
        .await
        .map_err(|e| warm_up_failed("csi", "CreateVolume+DeleteVolume", e))?;
    let sampler = pid.and_then(Sampler::start);
    report
        .phases
        .extend(run_csi(&target, ctx.run_id, opts.count, opts.concurrency).await);
    if let Some(sampler) = sampler {
        report.memory = Some(sampler.finish(startup).await);
    }
    if let Some(io) = io {
        purge(ctx, io, "csi", report).await;
    }
    Ok(())
}

/// Probe until the plugin says it is ready (or leaves `ready` unset).
async fn wait_until_ready(target: &CsiTarget) -> Result<rig::csi_call::PluginInfo> {
    let start = std::time::Instant::now();
    loop {
        let info = target.identify().await?;
        if info.ready != Some(false) {
            return Ok(info);
        }
        if start.elapsed() > READY_WAIT {
            return Err(rig::Error::Rpc {
                rpc: "Probe",
                code: "NOT_READY",
                message: format!(
                    "{} still answers ready=false after {READY_WAIT:?}",
                    info.name
                ),
            }
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the mgr to empty the trash of a namespace the bench owns.
async fn purge(ctx: &Context<'_>, io: &IoCtx, variant: &'static str, report: &mut Report) {
    if !ctx.owns_namespace {
        return;
    }
    let purge = match wait_for_trash_purge(io, ctx.opts.purge_timeout).await {
        Ok(took) => Purge {
            variant,
            seconds: Some(took.as_secs_f64()),
            error: None,
        },
        Err(e) => Purge {
            variant,
            seconds: None,
            error: Some(e.to_string()),
        },
    };
    report.purges.push(purge);
}

fn warm_up_failed(mode: &'static str, op: &'static str, e: OpError) -> Error {
    Error::WarmUp {
        mode,
        op,
        code: e.code,
        message: e.message,
    }
}
