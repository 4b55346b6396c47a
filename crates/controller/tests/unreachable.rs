//! A cluster that cannot be reached: a clear error within the configured deadline, naming the
//! cluster and monitors (never the key), and the same name succeeding once Ceph is back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{CLUSTER_ID, Fixture, GIB, cluster_entry, write_config};
use tonic::Code;

/// How long a connect may take (the controller's `--ceph-connect-timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The RPC's overall budget: far longer, so an answer that quotes the connect's deadline came
/// from that deadline, not from the RPC running out of time.
const RPC_TIMEOUT: Duration = Duration::from_secs(20);

/// A local port nobody listens on.
fn dead_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_cluster_fails_within_the_deadline_and_the_name_works_once_it_is_back() {
    let dead = dead_port();
    Fixture::builder()
        .ceph_timeouts(CONNECT_TIMEOUT, Duration::from_secs(5))
        .rpc_timeout(RPC_TIMEOUT)
        .run(|fx| async move {
            let clusters = |monitors: &str| {
                vec![
                    cluster_entry(CLUSTER_ID, &common::bed().monitors, &fx.namespace),
                    cluster_entry("down", monitors, &fx.namespace),
                ]
            };
            write_config(&fx.config_path, &clusters(&dead));
            let mut req = fx.create_request("pvc-patient", GIB);
            req.parameters.insert("clusterID".into(), "down".into());
            let loaded = common::eventually(Duration::from_secs(10), || async {
                fx.state.clusters().get("down").is_ok()
            })
            .await;
            assert!(loaded, "the config change was not picked up");

            let status = fx.client().create_volume(req.clone()).await.unwrap_err();
            eprintln!("dead cluster: {:?}: {}", status.code(), status.message());
            // UNAVAILABLE because the connect ran into its own deadline and the monitor
            // refuses connections; had the RPC's budget ended first, the answer would be
            // DEADLINE_EXCEEDED "did not complete within 20s".
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            let connect_deadline = format!("timed out after {CONNECT_TIMEOUT:?}: connect");
            for part in ["down", dead.as_str(), connect_deadline.as_str()] {
                assert!(status.message().contains(part), "{}", status.message());
            }
            assert!(!status.message().contains(&common::bed().key));
            // A second try is not ABORTED by the first: nothing holds the name.
            let status = fx.client().create_volume(req.clone()).await.unwrap_err();
            assert!(
                matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
                "{status:?}"
            );

            // Ceph is "back": the cluster entry points at the live monitors again.
            write_config(&fx.config_path, &clusters(&common::bed().monitors));
            let back = common::eventually(Duration::from_secs(10), || async {
                fx.state
                    .clusters()
                    .get("down")
                    .map(|c| c.monitors_arg() == common::bed().monitors)
                    .unwrap_or(false)
            })
            .await;
            assert!(back);
            let volume = fx
                .client()
                .create_volume(req)
                .await
                .unwrap()
                .into_inner()
                .volume
                .unwrap();
            assert!(volume.volume_id.contains("-down-"), "{}", volume.volume_id);
            assert_eq!(fx.images().await.len(), 1);
        })
        .await;
}
