//! mon and mgr commands against the real bed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ceph::Error;
use serde::Deserialize;
use serde_json::json;

#[tokio::test]
async fn mon_command_lists_the_bed_pool() {
    let cluster = common::connect().await;
    let out = cluster
        .mon_command(json!({"prefix": "osd pool ls", "format": "json"}))
        .await
        .unwrap();
    let pools: Vec<String> = out.json().unwrap();
    assert!(pools.contains(&common::bed().pool), "{pools:?}");
}

#[tokio::test]
async fn mgr_command_lists_the_bed_filesystem() {
    #[derive(Deserialize)]
    struct Volume {
        name: String,
    }
    let cluster = common::connect().await;
    // `fs volume ls` is served by the mgr's volumes module, not the mon.
    let out = cluster
        .mgr_command(json!({"prefix": "fs volume ls", "format": "json"}))
        .await
        .unwrap();
    let volumes: Vec<Volume> = out.json().unwrap();
    assert!(
        volumes.iter().any(|v| v.name == common::bed().fs),
        "{}",
        String::from_utf8_lossy(&out.data)
    );
}

#[tokio::test]
async fn failed_commands_carry_prefix_errno_and_status() {
    let cluster = common::connect().await;
    let err = cluster
        .mon_command(json!({"prefix": "osd pool get", "pool": "no-such-pool", "var": "size", "format": "json"}))
        .await
        .unwrap_err();
    match &err {
        Error::Command {
            prefix,
            errno,
            status,
        } => {
            assert_eq!(prefix, "osd pool get");
            assert_eq!(*errno, libc::ENOENT);
            assert!(status.contains("no-such-pool"), "{status}");
        }
        other => panic!("expected Command error, got {other:?}"),
    }
    assert_eq!(err.errno(), Some(libc::ENOENT));

    let err = cluster
        .mgr_command(json!({"prefix": "no such mgr command"}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Command { .. }), "{err:?}");

    let err = cluster
        .mon_command(json!(["not", "an", "object"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}
