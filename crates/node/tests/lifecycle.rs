//! Full volume lifecycles through the real gRPC service, on real RBD images mapped on this
//! node (rbd-fuse + loop here), with real file systems: every node call is repeated to prove
//! idempotency, data is written and read back (also after a fresh stage, so it reached Ceph),
//! the file system or device really grows online, and nothing is left behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;
use std::time::Instant;

use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_usage::Unit;
use harness::*;
use tonic::Code;

/// Stage → publish → data → stats → online expand → unpublish → unstage → delete, for a
/// file system type; returns nothing, asserts everything.
async fn filesystem_lifecycle(fs_type: &str, size_mib: u64, grown_mib: u64) {
    let mut h = Harness::start(&format!("life-{fs_type}")).await;
    let image = format!("{fs_type}-vol");
    h.create_image(&image, size_mib);
    let cap = mount_capability(fs_type, Mode::SingleNodeWriter);

    let started = Instant::now();
    h.stage(&image, cap.clone()).await.unwrap();
    let stage_took = started.elapsed();
    h.stage(&image, cap.clone()).await.unwrap(); // idempotent
    let staged = h.staging_path(&image).join(h.volume_id(&image));
    let mount = node::mount::mountinfo::mount_at(&staged)
        .await
        .unwrap()
        .expect("staged mount");
    assert_eq!(mount.fs_type, fs_type);
    assert!(mount.source.starts_with("/dev/loop"), "{}", mount.source);
    // The stash records what Unstage needs.
    let stash = std::fs::read_to_string(h.staging_path(&image).join("image-meta.json")).unwrap();
    assert!(
        stash.contains("\"mapper\": \"fuse\"") && stash.contains(&mount.source),
        "{stash}"
    );

    // A different capability for the staged volume is refused.
    let other = if fs_type == "ext4" { "xfs" } else { "ext4" };
    let err = h
        .stage(&image, mount_capability(other, Mode::SingleNodeWriter))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");

    h.publish(&image, "pod-a", cap.clone(), false)
        .await
        .unwrap();
    h.publish(&image, "pod-a", cap.clone(), false)
        .await
        .unwrap(); // idempotent
    let target = h.target_path(&image, "pod-a");
    let err = h
        .publish(&image, "pod-a", cap.clone(), true)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::AlreadyExists,
        "read-only over a read-write publish: {err:?}"
    );

    // A second, read-only publish of the same volume into another pod.
    h.publish(&image, "pod-b", cap.clone(), true).await.unwrap();
    let ro_target = h.target_path(&image, "pod-b");

    let payload: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    write_durably(&target.join("data.bin"), &payload);
    assert_eq!(std::fs::read(target.join("data.bin")).unwrap(), payload);
    assert_eq!(std::fs::read(ro_target.join("data.bin")).unwrap(), payload);
    let denied = std::fs::write(ro_target.join("nope"), b"x").unwrap_err();
    assert_eq!(denied.raw_os_error(), Some(libc_erofs()), "{denied}");

    let stats = h.stats(&image, &target).await.unwrap();
    let condition = stats.volume_condition.clone().unwrap();
    assert!(!condition.abnormal, "{condition:?}");
    let bytes = usage(&stats, Unit::Bytes);
    let inodes = usage(&stats, Unit::Inodes);
    assert_eq!(bytes.total as u64, fs_size(&target));
    assert!(bytes.used as u64 >= payload.len() as u64, "{bytes:?}");
    assert!(
        bytes.available > 0 && bytes.available < bytes.total,
        "{bytes:?}"
    );
    assert!(inodes.total > 0 && inodes.used > 0, "{inodes:?}");

    // Online expansion: grow the image (what ControllerExpand does), then the node grows the
    // file system while it is mounted and in use.
    let before = fs_size(&target);
    let grown_enough = |size: u64| size > before + (grown_mib - size_mib) * MIB / 2;
    h.resize_image(&image, grown_mib);
    if fs_type == "xfs" || has_cap_sys_resource() {
        let capacity = h
            .expand(&image, &target, grown_mib * MIB, false)
            .await
            .unwrap();
        assert_eq!(capacity as u64, grown_mib * MIB);
        let after = fs_size(&target);
        assert!(
            grown_enough(after),
            "file system did not grow: {before} -> {after}"
        );
        // Idempotent, and also with the staging path (stash route).
        assert_eq!(
            h.expand(&image, &target, grown_mib * MIB, true)
                .await
                .unwrap(),
            capacity
        );
        assert_eq!(fs_size(&target), after);
    } else {
        // The kernel grows a mounted ext4 only for CAP_SYS_RESOURCE, which this machine's
        // sandbox withholds: the plugin must say exactly that, change nothing, and grow the
        // file system at the next stage instead (checked below).
        let err = h
            .expand(&image, &target, grown_mib * MIB, false)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(
            err.message().contains("CAP_SYS_RESOURCE"),
            "{}",
            err.message()
        );
        assert_eq!(fs_size(&target), before);
    }
    assert_eq!(std::fs::read(target.join("data.bin")).unwrap(), payload);

    for pod in ["pod-a", "pod-b"] {
        h.unpublish(&image, pod).await.unwrap();
        h.unpublish(&image, pod).await.unwrap(); // idempotent
        assert!(
            !h.target_path(&image, pod).exists(),
            "target of {pod} not removed"
        );
    }
    let started = Instant::now();
    h.unstage(&image).await.unwrap();
    let unstage_took = started.elapsed();
    h.unstage(&image).await.unwrap(); // idempotent
    assert!(!staged.exists());
    assert!(!h.staging_path(&image).join("image-meta.json").exists());
    h.assert_clean().await;

    // The data is in Ceph: a fresh stage of the same image sees it, and the file system has
    // its grown size (grown online above, or for ext4 without the privilege, at this stage).
    h.stage(&image, cap.clone()).await.unwrap();
    assert_eq!(std::fs::read(staged.join("data.bin")).unwrap(), payload);
    let restaged = fs_size(&staged);
    assert!(
        grown_enough(restaged),
        "file system not grown after re-stage: {before} -> {restaged}"
    );
    h.unstage(&image).await.unwrap();
    h.assert_clean().await;

    h.remove_image(&image);
    assert!(
        !h.rbd(&["ls", &format!("{}/{}", h.bed.pool, h.namespace)])
            .contains(&image)
    );
    eprintln!("{fs_type}: stage (incl. mkfs) {stage_took:?}, unstage {unstage_took:?}");
}

fn libc_erofs() -> i32 {
    30 // EROFS
}

/// Whether this test process (and so the in-process plugin) holds CAP_SYS_RESOURCE.
fn has_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap();
    u64::from_str_radix(caps.trim(), 16).unwrap() & (1 << 24) != 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ext4_volume_lifecycle() {
    filesystem_lifecycle("ext4", 64, 128).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xfs_volume_lifecycle() {
    // mkfs.xfs refuses file systems below 300 MiB.
    filesystem_lifecycle("xfs", 320, 512).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_volume_lifecycle() {
    let mut h = Harness::start("life-block").await;
    let image = "block-vol";
    h.create_image(image, 32);
    let cap = block_capability(Mode::SingleNodeWriter);

    h.stage(image, cap.clone()).await.unwrap();
    h.stage(image, cap.clone()).await.unwrap();
    let staged = h.staging_path(image).join(h.volume_id(image));
    assert!(
        std::fs::metadata(&staged)
            .unwrap()
            .file_type()
            .is_block_device()
    );
    let err = h
        .stage(image, mount_capability("ext4", Mode::SingleNodeWriter))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    h.publish(image, "pod-a", cap.clone(), false).await.unwrap();
    h.publish(image, "pod-a", cap.clone(), false).await.unwrap();
    let target = h.target_path(image, "pod-a");
    assert!(
        std::fs::metadata(&target)
            .unwrap()
            .file_type()
            .is_block_device()
    );

    // Raw bytes at an offset, read back through the device.
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i % 241) as u8).collect();
    {
        let mut dev = std::fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .unwrap();
        dev.seek(SeekFrom::Start(8 * MIB)).unwrap();
        dev.write_all(&payload).unwrap();
        dev.sync_all().unwrap();
    }
    let mut back = vec![0u8; payload.len()];
    let mut dev = std::fs::File::open(&target).unwrap();
    dev.seek(SeekFrom::Start(8 * MIB)).unwrap();
    dev.read_exact(&mut back).unwrap();
    assert_eq!(back, payload);
    drop(dev);

    let stats = h.stats(image, &target).await.unwrap();
    assert!(!stats.volume_condition.unwrap().abnormal);
    assert_eq!(stats.usage.len(), 1);
    assert_eq!(stats.usage[0].unit, Unit::Bytes as i32);
    assert_eq!(stats.usage[0].total as u64, 32 * MIB);

    h.resize_image(image, 48);
    assert_eq!(
        h.expand(image, &target, 48 * MIB, false).await.unwrap() as u64,
        48 * MIB
    );
    assert_eq!(
        h.expand(image, &target, 48 * MIB, true).await.unwrap() as u64,
        48 * MIB
    );
    let stats = h.stats(image, &target).await.unwrap();
    assert_eq!(stats.usage[0].total as u64, 48 * MIB);

    h.unpublish(image, "pod-a").await.unwrap();
    h.unpublish(image, "pod-a").await.unwrap();
    assert!(!target.exists());
    h.unstage(image).await.unwrap();
    h.unstage(image).await.unwrap();
    assert!(!staged.exists());
    h.assert_clean().await;

    // The bytes reached Ceph.
    let exported = h.root.join("export.img");
    h.rbd(&[
        "export",
        "--no-progress",
        &h.image_spec(image),
        &exported.display().to_string(),
    ]);
    let mut file = std::fs::File::open(&exported).unwrap();
    file.seek(SeekFrom::Start(8 * MIB)).unwrap();
    let mut from_ceph = vec![0u8; payload.len()];
    file.read_exact(&mut from_ceph).unwrap();
    assert_eq!(from_ceph, payload);

    h.remove_image(image);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_only_access_maps_and_mounts_read_only() {
    let mut h = Harness::start("life-rox").await;
    let image = "shared";
    h.create_image(image, 64);
    let rw = mount_capability("ext4", Mode::SingleNodeWriter);
    let ro = mount_capability("ext4", Mode::MultiNodeReaderOnly);
    let staged = h.staging_path(image).join(h.volume_id(image));
    h.stage(image, rw.clone()).await.unwrap();
    write_durably(&staged.join("seed.txt"), b"seeded");
    h.unstage(image).await.unwrap();

    h.stage(image, ro.clone()).await.unwrap();
    h.stage(image, ro.clone()).await.unwrap();
    let mount = node::mount::mountinfo::mount_at(&staged)
        .await
        .unwrap()
        .unwrap();
    assert!(mount.read_only(), "{mount:?}");
    let err = h.stage(image, rw.clone()).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::AlreadyExists,
        "read-write over a read-only stage: {err:?}"
    );
    // The capability alone makes the publish read-only.
    h.publish(image, "pod", ro.clone(), false).await.unwrap();
    let target = h.target_path(image, "pod");
    assert_eq!(std::fs::read(target.join("seed.txt")).unwrap(), b"seeded");
    let denied = std::fs::write(target.join("new.txt"), b"x").unwrap_err();
    assert_eq!(denied.raw_os_error(), Some(libc_erofs()), "{denied}");
    h.unpublish(image, "pod").await.unwrap();
    h.unstage(image).await.unwrap();
    h.assert_clean().await;

    // Nothing to read on a blank image, and it cannot be formatted read-only.
    h.create_image("blank", 64);
    let err = h.stage("blank", ro).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    h.assert_clean().await;
}
