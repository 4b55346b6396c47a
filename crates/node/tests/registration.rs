//! kubelet plugin registration, built into the plugin: GetInfo over the registration socket,
//! exit on rejection, and both sockets gone when serving stops (also for the real binary on
//! SIGTERM).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::path::Path;
use std::time::Duration;

use csi::registration::registration_client::RegistrationClient;
use csi::registration::{InfoRequest, RegistrationStatus};
use harness::*;
use node::error::NodeError;

async fn registration_client(socket: &Path) -> RegistrationClient<tonic::transport::Channel> {
    RegistrationClient::new(connect(socket).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_info_answers_what_kubelet_needs() {
    let mut h = Harness::start("reg-info").await;
    let mut client = registration_client(&h.registration_socket).await;
    let info = client.get_info(InfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.r#type, "CSIPlugin");
    assert_eq!(info.name, DRIVER);
    assert_eq!(info.endpoint, KUBELET_ENDPOINT);
    assert_eq!(info.supported_versions, vec!["1.0.0".to_string()]);

    client
        .notify_registration_status(RegistrationStatus {
            plugin_registered: true,
            error: String::new(),
        })
        .await
        .unwrap();
    // Still serving after a successful registration.
    assert!(client.get_info(InfoRequest {}).await.is_ok());

    h.stop().await.unwrap();
    assert!(
        !h.registration_socket.exists(),
        "registration socket left behind"
    );
    assert!(!h.csi_socket.exists(), "CSI socket left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_registration_stops_the_plugin_with_an_error() {
    let mut h = Harness::start("reg-reject").await;
    let mut client = registration_client(&h.registration_socket).await;
    client
        .notify_registration_status(RegistrationStatus {
            plugin_registered: false,
            error: "driver name rbd.csi.sepia.io already registered".into(),
        })
        .await
        .unwrap();
    match h.wait_server().await {
        Err(NodeError::RegistrationRejected { error }) => {
            assert!(error.contains("already registered"))
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(!h.registration_socket.exists());
    assert!(!h.csi_socket.exists());
}

/// The binary: serves both sockets, answers GetInfo, removes both sockets and exits 0 on
/// SIGTERM; exits non-zero when kubelet rejects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_registers_and_cleans_up_on_sigterm() {
    let bed = sepia_testbed::Bed::get();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let config = root.join("config.json");
    std::fs::write(
        &config,
        serde_json::json!([{"clusterID": "bed", "monitors": [bed.monitors]}]).to_string(),
    )
    .unwrap();
    let csi_socket = root.join("csi/csi.sock");
    let registry = root.join("registry");
    let reg_socket = registry.join(format!("{DRIVER}-reg.sock"));

    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sepia-node"))
            .args(["--endpoint", &format!("unix://{}", csi_socket.display())])
            .args(["--driver-name", DRIVER, "--node-id", "node-bin"])
            .arg("--cluster-config")
            .arg(&config)
            .arg("--registration-dir")
            .arg(&registry)
            .args([
                "--kubelet-socket-path",
                KUBELET_ENDPOINT,
                "--mapper",
                "fuse",
                "--log-level",
                "warn",
            ])
            .arg("--state-dir")
            .arg(root.join("state"))
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };

    let mut child = spawn();
    wait_for(&reg_socket).await;
    let mut client = registration_client(&reg_socket).await;
    let info = client.get_info(InfoRequest {}).await.unwrap().into_inner();
    assert_eq!(
        (info.name.as_str(), info.endpoint.as_str()),
        (DRIVER, KUBELET_ENDPOINT)
    );
    wait_for(&csi_socket).await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        !reg_socket.exists() && !csi_socket.exists(),
        "sockets left behind"
    );

    let mut child = spawn();
    wait_for(&reg_socket).await;
    let mut client = registration_client(&reg_socket).await;
    client
        .notify_registration_status(RegistrationStatus {
            plugin_registered: false,
            error: "rejected by test".into(),
        })
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "a rejected plugin must exit non-zero");
    assert!(
        !reg_socket.exists() && !csi_socket.exists(),
        "sockets left behind"
    );
}

async fn wait_for(path: &Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}
