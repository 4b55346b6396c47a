//! Full lifecycles through the real gRPC service on real subvolumes of the bed's CephFS,
//! mounted with real ceph-fuse: two pods on one RWX volume, read-only publishes, idempotency,
//! data that reaches CephFS, stats, the key's path, and nothing left behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::os::unix::fs::PermissionsExt;

use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_usage::Unit;
use harness::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn two_pods_share_one_rwx_volume_and_unstage_leaves_nothing() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("rwx");

    h.stage(&volume).await.unwrap();
    h.stage(&volume).await.unwrap(); // idempotent
    let staged = h.staged_mount(&volume);
    let entry = node::mount::mountinfo::mount_at(&staged)
        .await
        .unwrap()
        .expect("staged mount");
    assert_eq!(entry.fs_type, "fuse.ceph-fuse");

    // The daemon serving the stage: the key is on no command line, and its file is gone.
    let daemons = ceph_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    let argv = cmdline(daemons[0].0);
    assert!(
        !argv.contains(&h.bed.key),
        "the key is on ceph-fuse's command line: {argv}"
    );
    let key_file = argv
        .split('\0')
        .skip_while(|a| *a != "--keyfile")
        .nth(1)
        .expect("ceph-fuse got --keyfile")
        .to_string();
    assert!(
        key_file.starts_with(&h.root.join("state/keys").display().to_string()),
        "{key_file}"
    );
    match std::fs::metadata(&key_file) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        Ok(meta) => assert_eq!(
            meta.permissions().mode() & 0o077,
            0,
            "key file readable by others"
        ),
    }
    // No secret in any file the plugin keeps.
    for file in std::fs::read_dir(h.root.join("state/stages")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(!text.contains(&h.bed.key), "{text}");
        assert!(text.contains(&volume.path), "{text}");
    }

    // Two pods, one read-write and one read-only, each published twice (idempotent).
    h.publish(&volume, "pod-a", false).await.unwrap();
    h.publish(&volume, "pod-a", false).await.unwrap();
    h.publish(&volume, "pod-b", true).await.unwrap();
    h.publish(&volume, "pod-b", true).await.unwrap();
    let a = h.target_path(&volume, "pod-a");
    let b = h.target_path(&volume, "pod-b");
    // The same target asked for the other way round is ALREADY_EXISTS.
    let again = h.publish(&volume, "pod-b", false).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");

    std::fs::write(a.join("from-a"), b"written by pod a").unwrap();
    assert_eq!(
        std::fs::read_to_string(b.join("from-a")).unwrap(),
        "written by pod a"
    );
    let refused = std::fs::write(b.join("from-b"), b"x").unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc_erofs()), "{refused}");
    std::fs::write(staged.join("from-stage"), b"stage").unwrap();
    assert_eq!(
        std::fs::read_to_string(a.join("from-stage")).unwrap(),
        "stage"
    );
    // It reached CephFS: another client, not the plugin's, reads it.
    assert_eq!(h.read_independently(&volume, "from-a"), "written by pod a");

    // Stats on a published path and on the stage: the quota as size, what was written used.
    for path in [&a, &b, &staged] {
        let stats = h.stats(&volume, path).await.unwrap();
        let condition = stats.volume_condition.unwrap();
        assert!(!condition.abnormal, "{condition:?}");
        let bytes = stats
            .usage
            .iter()
            .find(|u| u.unit == Unit::Bytes as i32)
            .unwrap();
        assert_eq!(bytes.total as u64, GIB, "{bytes:?}");
        assert!(
            bytes.available > 0 && bytes.available <= bytes.total,
            "{bytes:?}"
        );
        assert!(stats.usage.iter().any(|u| u.unit == Unit::Inodes as i32));
    }
    // Stats of a path that is not this volume's: NOT_FOUND.
    let other = h
        .stats(&volume, &h.kubelet_root().join("pods"))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound, "{other:?}");

    for pod in ["pod-a", "pod-b"] {
        h.unpublish(&volume, pod).await.unwrap();
        h.unpublish(&volume, pod).await.unwrap(); // idempotent
        assert!(!h.target_path(&volume, pod).exists());
    }
    h.unstage(&volume).await.unwrap();
    h.unstage(&volume).await.unwrap(); // idempotent
    assert!(!staged.exists());
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_only_stage_is_read_only_and_restaging_differently_is_already_exists() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("ro");
    let request = h.stage_request(&volume, Mode::MultiNodeReaderOnly);
    h.node.node_stage_volume(request.clone()).await.unwrap();
    h.node.node_stage_volume(request).await.unwrap();
    let staged = h.staged_mount(&volume);
    let refused = std::fs::write(staged.join("x"), b"x").unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc_erofs()), "{refused}");

    // The same volume, read-write this time, at the same staging path.
    let writer = h.stage_request(&volume, Mode::MultiNodeMultiWriter);
    let status = h.node.node_stage_volume(writer).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    // Another subvolume path under the same volume ID.
    let mut moved = h.stage_request(&volume, Mode::MultiNodeReaderOnly);
    moved
        .volume_context
        .insert("subvolumePath".into(), format!("{}-other", volume.path));
    let status = h.node.node_stage_volume(moved).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status.message().contains("subvolumePath"),
        "{}",
        status.message()
    );

    h.unstage(&volume).await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_and_info_are_what_the_plugin_implements() {
    use csi::v1::node_service_capability::{Type, rpc::Type as Rpc};
    let mut h = Harness::start(deadlines()).await;
    let caps = h
        .node
        .node_get_capabilities(csi::v1::NodeGetCapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner();
    let rpcs: Vec<Rpc> = caps
        .capabilities
        .iter()
        .filter_map(|c| match c.r#type {
            Some(Type::Rpc(r)) => Rpc::try_from(r.r#type).ok(),
            None => None,
        })
        .collect();
    for wanted in [
        Rpc::StageUnstageVolume,
        Rpc::GetVolumeStats,
        Rpc::VolumeCondition,
    ] {
        assert!(rpcs.contains(&wanted), "{rpcs:?}");
    }
    assert!(!rpcs.contains(&Rpc::ExpandVolume), "{rpcs:?}");
    let info = h
        .node
        .node_get_info(csi::v1::NodeGetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.node_id, "node-under-test");
}

/// The node user Rook creates for CephFS (rook-csi-cephfs-node: `mon allow r`, `mgr allow rw`,
/// `osd allow rw tag cephfs *=*`, `mds allow rw`) is all the plugin needs.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_user_with_rooks_caps_is_enough() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("rookcaps");
    let user = h.bed.unique_name("cephfsn-node");
    let entity = format!("client.{user}");
    let key = h
        .bed
        .cli(
            "ceph",
            &[
                "auth",
                "get-or-create-key",
                &entity,
                "mon",
                "allow r",
                "mgr",
                "allow rw",
                "osd",
                "allow rw tag cephfs *=*",
                "mds",
                "allow rw",
            ],
        )
        .trim()
        .to_string();
    let mut request = h.stage_request(&volume, Mode::MultiNodeMultiWriter);
    request.secrets.insert("userID".into(), user.clone());
    request.secrets.insert("userKey".into(), key.clone());
    let staged = h.node.node_stage_volume(request).await;
    let daemons = ceph_fuse_processes(&h.root.display().to_string());
    let argv: Vec<String> = daemons.iter().map(|(pid, _)| cmdline(*pid)).collect();
    let wrote = staged
        .as_ref()
        .ok()
        .map(|_| std::fs::write(h.staged_mount(&volume).join("by-node-user"), b"ok"));
    let unstaged = h.unstage(&volume).await;
    h.bed.cli("ceph", &["auth", "del", &entity]);
    staged.unwrap();
    wrote.unwrap().unwrap();
    unstaged.unwrap();
    assert_eq!(argv.len(), 1, "{daemons:?}");
    assert!(
        argv[0].contains(&format!("-n\0{entity}\0")),
        "{:?}",
        argv[0]
    );
    assert!(!argv[0].contains(&key));
    assert_eq!(h.read_independently(&volume, "by-node-user"), "ok");
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_stages_of_one_volume_end_with_one_mount() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("race");
    let calls = (0..4).map(|_| {
        let mut client = h.node.clone();
        let request = h.stage_request(&volume, Mode::MultiNodeMultiWriter);
        tokio::spawn(async move { client.node_stage_volume(request).await.map(drop) })
    });
    let results = futures_join(calls).await;
    assert!(results.iter().any(Result::is_ok), "{results:?}");
    for result in &results {
        if let Err(status) = result {
            assert_eq!(status.code(), Code::Aborted, "{status:?}");
        }
    }
    h.stage(&volume).await.unwrap();
    let daemons = ceph_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    h.unstage(&volume).await.unwrap();
    h.assert_clean().await;
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

/// EROFS.
fn libc_erofs() -> i32 {
    30
}
