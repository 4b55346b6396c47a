//! `sepia doctor` on the bed: a correct setup passes every check; each misconfiguration fails
//! its own check, with a fix, and the command exits non-zero.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::doctor::fails_only;
use common::{CLUSTER_ID, Fixture, bed, write_credentials};
use serde_json::Value;

/// Runs doctor and returns (exit ok, check name → the check).
async fn doctor(
    fx: &Fixture,
    config: &Path,
    creds: &Path,
    extra: &[&str],
) -> (bool, BTreeMap<String, Value>) {
    let mut args = vec!["doctor", "-o", "json"];
    args.extend(extra);
    let out = fx.sepia_with(&args, config, creds).await;
    common::doctor::checks(&out)
}

fn config_with(fx: &Fixture, name: &str, monitors: &[&str], namespace: &str) -> std::path::PathBuf {
    let path = fx.dir().join(name);
    let config = serde_json::json!([{"clusterID": CLUSTER_ID, "monitors": monitors,
        "rbd": {"radosNamespace": namespace}}]);
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_correct_setup_and_names_each_check() {
    Fixture::run(|fx| async move {
        let (ok, checks) = doctor(
            &fx,
            &fx.config_path,
            &fx.creds_dir,
            &["--pool", &bed().pool, "--nats-url", &bed().nats_url],
        )
        .await;
        assert!(ok, "{checks:#?}");
        let names: Vec<&str> = checks.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "authenticate",
                "cluster config",
                "credentials",
                "mgr caps",
                "mon caps",
                "monitors reachable",
                "nats",
                "pool",
                "rbd namespace"
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_each_misconfiguration_with_its_fix() {
    Fixture::run(|fx| async move {
        let pool = bed().pool.clone();
        let monitors: Vec<&str> = bed().monitors.split(',').collect();
        let with_pool = ["--pool", pool.as_str()];

        let broken = fx.dir().join("broken.json");
        std::fs::write(&broken, b"{ not json").unwrap();
        let (ok, checks) = doctor(&fx, &broken, &fx.creds_dir, &with_pool).await;
        fails_only(ok, &checks, "cluster config", "config.json");

        let dead = config_with(&fx, "dead.json", &["127.0.0.1:1"], &fx.ns.namespace);
        let (ok, checks) = doctor(&fx, &dead, &fx.creds_dir, &with_pool).await;
        fails_only(ok, &checks, "monitors reachable", "monitors");

        let empty = fx.dir().join("no-creds");
        std::fs::create_dir(&empty).unwrap();
        let (ok, checks) = doctor(&fx, &fx.config_path, &empty, &with_pool).await;
        fails_only(ok, &checks, "credentials", "userKey");

        // The bed's key with other secret bytes: a well-formed key cephx does not accept.
        let mut key = bed().key.clone().into_bytes();
        let at = key.len() - 6;
        key[at] = if key[at] == b'A' { b'B' } else { b'A' };
        let wrong = write_credentials(
            fx.dir(),
            "wrong-key",
            &bed().user,
            std::str::from_utf8(&key).unwrap(),
        );
        let (ok, checks) = doctor(&fx, &fx.config_path, &wrong, &with_pool).await;
        fails_only(ok, &checks, "authenticate", "get-key");

        let (ok, checks) = doctor(
            &fx,
            &fx.config_path,
            &fx.creds_dir,
            &["--pool", "no-such-pool-xyz"],
        )
        .await;
        fails_only(ok, &checks, "pool", "ceph osd pool create");

        let no_ns = config_with(&fx, "no-ns.json", &monitors, "no-such-namespace-xyz");
        let (ok, checks) = doctor(&fx, &no_ns, &fx.creds_dir, &with_pool).await;
        fails_only(ok, &checks, "rbd namespace", "rbd namespace create");

        let (ok, checks) = doctor(
            &fx,
            &fx.config_path,
            &fx.creds_dir,
            &["--pool", &pool, "--nats-url", "nats://127.0.0.1:1"],
        )
        .await;
        fails_only(ok, &checks, "nats", "nats-server");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_a_user_without_mgr_caps() {
    Fixture::run(|fx| async move {
        let bed = bed();
        let user = bed.unique_name("doctor");
        let entity = format!("client.{user}");
        let pool_cap = format!("profile rbd pool={}", bed.pool);
        bed.cli(
            "ceph",
            &[
                "auth",
                "get-or-create",
                &entity,
                "mon",
                "profile rbd",
                "osd",
                &pool_cap,
            ],
        );
        let key = bed.cli("ceph", &["auth", "get-key", &entity]);
        let creds = write_credentials(fx.dir(), "no-mgr", &user, key.trim());
        let (ok, checks) = doctor(&fx, &fx.config_path, &creds, &["--pool", &bed.pool]).await;
        bed.cli("ceph", &["auth", "rm", &entity]);
        fails_only(ok, &checks, "mgr caps", "mgr 'profile rbd");
    })
    .await;
}
