//! `sepia doctor`: the checks for what users get wrong, in the order a fix is needed (a
//! config that does not parse hides everything after it), each failure with its fix. With
//! `--kubeconfig`, also the Kubernetes objects that must agree with it ([`kubernetes`]).

pub mod kubernetes;

use std::time::Duration;

use ceph::Timeouts;
use controller::Settings;
use controller::pool::cluster::Cluster;
use controller::pool::connect;
use serde::Serialize;

use crate::args::DoctorArgs;
use crate::context::{self, SOURCE};
use crate::error::{Error, Result};
use crate::render::{self, Table};

/// Bounds on the doctor's Ceph calls: a wrong key shows as a connect that never completes.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    op: Duration::from_secs(10),
};
const NATS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// What to do, when it failed.
    pub fix: Option<String>,
}

#[derive(Debug, Serialize, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn pass(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        });
    }

    fn fail(&mut self, name: impl Into<String>, detail: impl ToString, fix: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            ok: false,
            detail: detail.to_string(),
            fix: Some(fix.into()),
        });
    }

    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

pub async fn run(args: &DoctorArgs) -> Result<()> {
    let mut report = Report::default();
    let mut reached = kubernetes::Reached::default();
    ceph_checks(args, &mut report, &mut reached).await;
    if let Some(url) = &args.nats_url {
        nats_check(url, &mut report).await;
    }
    kubernetes::checks(args, &reached, &mut report).await;
    render::print(args.shared.output, &report, table)?;
    if report.healthy() {
        Ok(())
    } else {
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        Err(Error::Usage {
            what: format!("{failed} check(s) failed"),
        })
    }
}

async fn ceph_checks(args: &DoctorArgs, report: &mut Report, reached: &mut kubernetes::Reached) {
    let shared = &args.shared;
    let config = match context::load_config(&shared.cluster_config) {
        Ok(config) => config,
        Err(e) => {
            return report.fail(
                "cluster config",
                e,
                "point --cluster-config at the plugins' config.json (the ceph-csi-config \
                 ConfigMap): a JSON list like [{\"clusterID\": \"…\", \"monitors\": [\"10.0.0.1:6789\"]}]",
            );
        }
    };
    let cluster_id = match context::choose_cluster(&config, shared) {
        Ok(id) => id,
        Err(e) => {
            return report.fail(
                "cluster config",
                e,
                "pass --cluster-id with one of the IDs named",
            );
        }
    };
    report.pass(
        "cluster config",
        format!(
            "{} parses; cluster {cluster_id}",
            shared.cluster_config.display()
        ),
    );
    reached.config = Some(config.clone());
    let Ok(entry) = config.get(&cluster_id).cloned() else {
        return;
    };
    let monitors = entry.monitors_arg();
    match controller::reachability::reachable_monitor(&monitors).await {
        Some(monitor) => report.pass(
            "monitors reachable",
            format!("{monitor} accepts connections"),
        ),
        None => {
            return report.fail(
                "monitors reachable",
                format!("none of {monitors} accepts a TCP connection from here"),
                "correct \"monitors\" in config.json (`ceph mon dump` lists them) or open ports \
                 3300/6789 from this host",
            );
        }
    }
    let state = context::state(
        config,
        shared,
        Settings {
            ceph_timeouts: TIMEOUTS,
            ..Settings::default()
        },
    );
    let user = match state.standing.resolve(SOURCE).await {
        Ok(identity) => {
            report.pass(
                "credentials",
                format!(
                    "{} holds userID {}",
                    shared.credentials_dir.display(),
                    identity.user
                ),
            );
            identity.user
        }
        Err(e) => {
            return report.fail(
                "credentials",
                e,
                format!(
                    "write the user (without `client.`) to {0}/userID and its key \
                     (`ceph auth get-key client.<user>`) to {0}/userKey, as the plugins' Secret holds them",
                    shared.credentials_dir.display()
                ),
            );
        }
    };
    let cluster = match connect::cluster(&state, &cluster_id, SOURCE).await {
        Ok(cluster) => {
            report.pass("authenticate", format!("client.{user} connected"));
            reached.cluster = Some(std::sync::Arc::clone(&cluster));
            cluster
        }
        Err(e) => {
            return report.fail(
                "authenticate",
                e,
                format!(
                    "check that client.{user} exists (`ceph auth get client.{user}`) and that userKey is \
                     its key (`ceph auth get-key client.{user}`)"
                ),
            );
        }
    };
    let caps_fix = |pool: &str| {
        format!(
            "ceph auth caps client.{user} mon 'profile rbd' osd 'profile rbd pool={pool}' mgr 'profile rbd pool={pool}'"
        )
    };
    let pool_name = shared.pool.clone().unwrap_or_else(|| "<pool>".to_owned());
    match cluster
        .rados
        .mon_command(serde_json::json!({"prefix": "osd pool ls", "format": "json"}))
        .await
    {
        Ok(_) => report.pass("mon caps", "mon commands are allowed"),
        Err(e) => report.fail("mon caps", e, caps_fix(&pool_name)),
    }
    if let Some(pool) = &shared.pool {
        pool_checks(&cluster, pool, report, &caps_fix(pool)).await;
    }
    match cluster
        .rados
        .mgr_command(serde_json::json!({"prefix": "rbd task list", "format": "json"}))
        .await
    {
        Ok(_) => report.pass(
            "mgr caps",
            "the mgr's rbd tasks (trash purge, flatten) are allowed",
        ),
        Err(e) => report.fail("mgr caps", e, caps_fix(&pool_name)),
    }
}

/// The pool exists and can be read, and the cluster's RBD namespace exists in it.
async fn pool_checks(
    cluster: &std::sync::Arc<Cluster>,
    pool: &str,
    report: &mut Report,
    caps_fix: &str,
) {
    let io = match cluster.rados.ioctx(pool, "").await {
        Ok(io) => io,
        Err(e) if e.is_not_found() => {
            return report.fail(
                "pool",
                format!("pool {pool} does not exist"),
                format!("create it (`ceph osd pool create {pool}` then `rbd pool init {pool}`) or name the StorageClass's pool"),
            );
        }
        Err(e) => return report.fail("pool", e, caps_fix),
    };
    match io.exists("rbd_directory").await {
        Ok(_) => report.pass("pool", format!("pool {pool} exists and is readable")),
        Err(e) => return report.fail("pool", e, caps_fix),
    }
    let namespace = cluster.namespace();
    if namespace.is_empty() {
        return;
    }
    match ceph::rbd::namespace_list(&io).await {
        Ok(list) if list.iter().any(|n| n == namespace) => {
            report.pass("rbd namespace", format!("{pool}/{namespace} exists"));
        }
        Ok(_) => report.fail(
            "rbd namespace",
            format!("config.json names radosNamespace {namespace:?}, which does not exist in pool {pool}"),
            format!("rbd namespace create {pool}/{namespace}"),
        ),
        Err(e) => report.fail("rbd namespace", e, caps_fix),
    }
}

/// NATS answers and speaks JetStream; the stream the plugins publish to is reported, as the
/// first publisher creates it.
async fn nats_check(url: &str, report: &mut Report) {
    let connect = async_nats::ConnectOptions::new()
        .connection_timeout(NATS_TIMEOUT)
        .connect(url);
    let client = match tokio::time::timeout(NATS_TIMEOUT, connect).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return report.fail("nats", e, NATS_FIX),
        Err(_) => {
            return report.fail(
                "nats",
                format!("no answer within {NATS_TIMEOUT:?}"),
                NATS_FIX,
            );
        }
    };
    let js = async_nats::jetstream::new(client);
    let stream = events::PublisherConfig::new(url).stream_name;
    match tokio::time::timeout(NATS_TIMEOUT, js.get_stream(&stream)).await {
        Ok(Ok(_)) => report.pass("nats", format!("JetStream answers; stream {stream} exists")),
        Ok(Err(e))
            if matches!(
                e.kind(),
                async_nats::jetstream::context::GetStreamErrorKind::JetStream(_)
            ) =>
        {
            report.pass(
                "nats",
                format!("JetStream answers; stream {stream} not made yet ({e})"),
            );
        }
        Ok(Err(e)) => report.fail("nats", e, NATS_FIX),
        Err(_) => report.fail(
            "nats",
            format!("JetStream did not answer within {NATS_TIMEOUT:?}"),
            NATS_FIX,
        ),
    }
}

const NATS_FIX: &str =
    "check --nats-url (the plugins' --nats-url) and that nats-server runs with JetStream (`-js`)";

fn table(r: &Report) -> Table {
    let mut t = Table::default();
    for c in &r.checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        t.row("checks", format!("{mark} {}", c.name), &c.detail);
        if let Some(fix) = &c.fix {
            t.row("checks", "     fix", fix);
        }
    }
    t
}
