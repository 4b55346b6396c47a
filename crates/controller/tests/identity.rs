//! Identity: name and version, capabilities, and a Probe that tracks the cluster config.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{CLUSTER_ID, Fixture, bed, cluster_entry, write_config};
use csi::v1::plugin_capability::{self, service, volume_expansion};
use csi::v1::{GetPluginCapabilitiesRequest, GetPluginInfoRequest, ProbeRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_info_names_the_driver_flag_and_the_crate_version() {
    Fixture::run(|fx| async move {
        let info = fx
            .identity
            .clone()
            .get_plugin_info(GetPluginInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(info.name, "rbd.csi.sepia.io");
        assert_eq!(info.vendor_version, env!("CARGO_PKG_VERSION"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_are_controller_service_and_online_expansion() {
    Fixture::run(|fx| async move {
        let caps = fx
            .identity
            .clone()
            .get_plugin_capabilities(GetPluginCapabilitiesRequest {})
            .await
            .unwrap()
            .into_inner()
            .capabilities;
        let mut services = Vec::new();
        let mut expansion = Vec::new();
        for cap in caps {
            match cap.r#type {
                Some(plugin_capability::Type::Service(s)) => services.push(s.r#type),
                Some(plugin_capability::Type::VolumeExpansion(e)) => expansion.push(e.r#type),
                other => panic!("unexpected capability {other:?}"),
            }
        }
        assert_eq!(services, vec![service::Type::ControllerService as i32]);
        assert_eq!(expansion, vec![volume_expansion::Type::Online as i32]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_is_ready_only_while_the_config_parses_and_says_why_not() {
    Fixture::run(|fx| async move {
        let mut identity = fx.identity.clone();
        let ready = identity.probe(ProbeRequest {}).await.unwrap().into_inner();
        assert_eq!(ready.ready, Some(true));

        std::fs::write(&fx.config_path, b"[{\"clusterID\": ").unwrap();
        let failing = common::eventually(Duration::from_secs(10), || {
            let mut identity = identity.clone();
            async move { identity.probe(ProbeRequest {}).await.is_err() }
        })
        .await;
        assert!(failing, "Probe kept answering ready with a broken config");
        let status = identity.probe(ProbeRequest {}).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(
            status.message().contains("config.json"),
            "{}",
            status.message()
        );

        write_config(
            &fx.config_path,
            &[cluster_entry(CLUSTER_ID, &bed().monitors, &fx.namespace)],
        );
        let ready = common::eventually(Duration::from_secs(10), || {
            let mut identity = identity.clone();
            async move { identity.probe(ProbeRequest {}).await.is_ok() }
        })
        .await;
        assert!(ready, "Probe did not recover once the config was fixed");
    })
    .await;
}
