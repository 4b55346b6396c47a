//! Hostile requests (issue 14): what an attacker with access to the CSI socket tried, each now
//! refused with the right code, and nothing outside the plugin's own files changed (digests of
//! the foreign files and mounts before and after, the mount table, loop devices, rbd-fuse
//! processes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use csi::v1::volume_capability::access_mode::Mode;
use harness::*;
use node::secret::Secret;
use node::settings::Deadlines;
use tonic::Code;

fn assert_refused(result: Result<(), tonic::Status>, code: Code, names: &[&str]) -> String {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    for name in names {
        assert!(
            status.message().contains(name),
            "{name:?} not named in {:?}",
            status.message()
        );
    }
    status.message().to_string()
}

fn assert_no_stash(h: &Harness, image: &str) {
    assert!(
        !h.staging_path(image).join("image-meta.json").exists(),
        "a stage record was written"
    );
}

/// Item 1: every name from the volume context (and the static volume handle, and the user)
/// is checked before anything is mapped: with rbd-fuse, an image name was joined into the path
/// a loop device and mkfs were put on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_context_names_that_could_reach_host_files_are_refused() {
    let mut h = Harness::start("hostile-names").await;
    let host = h.host_dir();
    let victim = host.join("disk.img");
    std::fs::write(&victim, vec![7u8; 8 << 20]).unwrap();
    let before = tree_digest(&host);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    // From the rbd-fuse mount directory (<root>/state/fuse/<volume>) to the victim.
    let climbing = "../../../host/disk.img";
    let absolute = victim.display().to_string();

    let cases: [(&str, &str, &str); 9] = [
        ("imageName", &absolute, "volume_context.imageName"),
        ("imageName", climbing, "volume_context.imageName"),
        ("imageName", "-o", "volume_context.imageName"),
        ("imageName", "vol@snap", "volume_context.imageName"),
        ("pool", "../../host", "volume_context.pool"),
        ("pool", "--keyfile=/etc/shadow", "volume_context.pool"),
        ("radosNamespace", "a/b", "volume_context.radosNamespace"),
        ("radosNamespace", "..", "volume_context.radosNamespace"),
        ("mounter", "rbd-fuse;rm", "volume_context.mounter"),
    ];
    for (key, value, field) in cases {
        let mut request = h.stage_request("vol", cap.clone());
        request.volume_context.insert(key.into(), value.into());
        let result = h.node.node_stage_volume(request).await.map(drop);
        assert_refused(result, Code::InvalidArgument, &[field]);
    }
    // A static volume's handle is its image name: the same rules.
    let mut request = h.stage_request("vol", cap.clone());
    request.volume_context.remove("imageName");
    request
        .volume_context
        .insert("staticVolume".into(), "true".into());
    request.volume_id = "-rf".into();
    let result = h.node.node_stage_volume(request).await.map(drop);
    assert_refused(result, Code::InvalidArgument, &["volume_id"]);
    // The user goes on the tools' command lines too.
    let mut request = h.stage_request("vol", cap.clone());
    request
        .secrets
        .insert("userID".into(), "--keyfile=/etc/shadow".into());
    let result = h.node.node_stage_volume(request).await.map(drop);
    assert_refused(result, Code::InvalidArgument, &["secrets.userID"]);

    assert_eq!(tree_digest(&host), before, "the host file changed");
    h.assert_clean().await;
    assert_no_stash(&h, "vol");

    // The same request with the names the controller gives works.
    h.create_image("vol", 64);
    h.stage("vol", cap).await.unwrap();
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
    assert_eq!(tree_digest(&host), before);
}

/// Item 2: NodeUnstage, NodeUnpublish, NodeExpandVolume and NodeGetVolumeStats act only on this
/// plugin's own stage of the named volume; anything else is NOT_FOUND and left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_calls_on_what_is_not_the_volumes_own_answer_not_found_and_change_nothing() {
    let mut h = Harness::start("hostile-owner").await;
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.create_image("vol", 64);
    h.stage("vol", cap.clone()).await.unwrap();
    h.publish("vol", "pod", cap.clone(), false).await.unwrap();
    let target = h.target_path("vol", "pod");
    write_durably(&target.join("data.txt"), b"the volume's data");
    let vol_id = h.volume_id("vol");
    let other_id = h.volume_id("other");

    // Someone else's mounts where a stage and a publish of volume "other" would be.
    let foreign_staging = h.staging_path("other");
    let foreign_staged = foreign_staging.join(&other_id);
    mount_foreign_tmpfs(&foreign_staged);
    let foreign_target = h.target_path("other", "pod");
    mount_foreign_tmpfs(&foreign_target);
    // Someone else's ext4 in a pod, on a loop device whose file has room to grow into.
    let backing = h.host_dir().join("foreign.img");
    std::fs::write(&backing, vec![0u8; 32 << 20]).unwrap();
    let loop_dev = run("losetup", &["-f", "--show", backing.to_str().unwrap()]);
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0",
            &loop_dev,
        ],
    );
    let foreign_fs = h.target_path("foreign-fs", "pod");
    std::fs::create_dir_all(&foreign_fs).unwrap();
    run("mount", &[&loop_dev, foreign_fs.to_str().unwrap()]);
    std::fs::write(foreign_fs.join("precious.txt"), b"not the plugin's").unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&backing)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    run("losetup", &["-c", &loop_dev]);
    let foreign_fs_size = fs_size(&foreign_fs);

    let digests = |h: &Harness| {
        [
            tree_digest(&foreign_staged),
            tree_digest(&foreign_target),
            tree_digest(&foreign_fs),
            tree_digest(&h.target_path("vol", "pod")),
        ]
    };
    let before = digests(&h);
    let path = |p: &Path| p.display().to_string();
    let unstage = |volume_id: &str, staging: &Path| csi::v1::NodeUnstageVolumeRequest {
        volume_id: volume_id.into(),
        staging_target_path: path(staging),
    };
    let unpublish = |volume_id: &str, target: &Path| csi::v1::NodeUnpublishVolumeRequest {
        volume_id: volume_id.into(),
        target_path: path(target),
    };
    let stats = |volume_id: &str, p: &str| csi::v1::NodeGetVolumeStatsRequest {
        volume_id: volume_id.into(),
        volume_path: p.into(),
        staging_target_path: String::new(),
    };
    let expand = |volume_id: &str, p: &Path| csi::v1::NodeExpandVolumeRequest {
        volume_id: volume_id.into(),
        volume_path: path(p),
        capacity_range: Some(csi::v1::CapacityRange {
            required_bytes: 64 << 20,
            limit_bytes: 0,
        }),
        ..Default::default()
    };

    let vol_staging = h.staging_path("vol");
    let n = &mut h.node;
    // A foreign mount where the stage of "other" would be.
    let r = n
        .node_unstage_volume(unstage(&other_id, &foreign_staging))
        .await;
    assert_refused(r.map(drop), Code::NotFound, &["not this volume's"]);
    // Foreign mounts, named as the volume that would be there or as ours.
    for volume_id in [&other_id, &vol_id] {
        let r = n
            .node_unpublish_volume(unpublish(volume_id, &foreign_target))
            .await;
        assert_refused(r.map(drop), Code::NotFound, &["not this volume's"]);
        let r = n
            .node_unpublish_volume(unpublish(volume_id, &foreign_fs))
            .await;
        assert_refused(r.map(drop), Code::NotFound, &["not this volume's"]);
        let r = n
            .node_get_volume_stats(stats(volume_id, &path(&foreign_target)))
            .await;
        assert_refused(r.map(drop), Code::NotFound, &[]);
        let r = n.node_expand_volume(expand(volume_id, &foreign_fs)).await;
        assert_refused(r.map(drop), Code::NotFound, &["not this volume's"]);
    }
    // Our volume's own stage and publish, named as another volume.
    let r = n
        .node_unstage_volume(unstage(&other_id, &vol_staging))
        .await;
    assert_refused(r.map(drop), Code::NotFound, &["stage of volume"]);
    let r = n.node_unpublish_volume(unpublish(&other_id, &target)).await;
    assert_refused(r.map(drop), Code::NotFound, &[]);
    let r = n.node_expand_volume(expand(&other_id, &target)).await;
    assert_refused(r.map(drop), Code::NotFound, &[]);
    let r = n
        .node_get_volume_stats(stats(&other_id, &path(&target)))
        .await;
    assert_refused(r.map(drop), Code::NotFound, &[]);
    // The host's root and its files are not kubelet's.
    for p in ["/", "/etc/shadow"] {
        let r = n.node_get_volume_stats(stats(&vol_id, p)).await;
        assert_refused(r.map(drop), Code::InvalidArgument, &["volume_path"]);
    }

    assert_eq!(digests(&h), before, "a foreign mount or the volume changed");
    for m in [&foreign_staged, &foreign_target, &foreign_fs, &target] {
        assert!(is_mounted(m), "{} was unmounted", m.display());
    }
    assert_eq!(
        fs_size(&foreign_fs),
        foreign_fs_size,
        "the foreign ext4 grew"
    );
    // The volume itself still answers for itself.
    h.stats("vol", &target).await.unwrap();

    h.unpublish("vol", "pod").await.unwrap();
    h.unstage("vol").await.unwrap();
    for m in [&foreign_staged, &foreign_target, &foreign_fs] {
        unmount(m);
    }
    run("losetup", &["-d", &loop_dev]);
    h.assert_clean().await;
}

fn run(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Item 3: staging and target paths must be absolute, free of `..` and NUL, and lead below
/// kubelet's root with every symlink followed; a staging path must be a directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_kubelet_would_never_send_are_refused_and_nothing_outside_changes() {
    let mut h = Harness::start("hostile-paths").await;
    h.create_image("vol", 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let host = h.host_dir();
    std::fs::write(host.join("keep.txt"), b"the host's").unwrap();
    let kubelet = h.kubelet_root();
    let plugins = kubelet.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(&host, plugins.join("escape")).unwrap();
    std::fs::write(plugins.join("file"), b"a regular file").unwrap();
    let before = [tree_digest(&host), tree_digest(&plugins.join("file"))];
    let k = kubelet.display().to_string();

    let staging_cases = [
        "relative/globalmount".to_string(),
        format!("{k}/plugins/../../host"),
        format!("{k}/plugins/escape/globalmount"),
        format!("{k}/plugins/escape"),
        format!("{k}/plugins/file"),
        format!("{k}/plugins/x\0/globalmount"),
        host.display().to_string(),
    ];
    for staging in &staging_cases {
        let mut request = h.stage_request("vol", cap.clone());
        request.staging_target_path = staging.clone();
        let result = h.node.node_stage_volume(request).await.map(drop);
        assert_refused(result, Code::InvalidArgument, &["staging_target_path"]);
        let mut request = h.unstage_request("vol");
        request.staging_target_path = staging.clone();
        let result = h.node.node_unstage_volume(request).await.map(drop);
        assert_refused(result, Code::InvalidArgument, &["staging_target_path"]);
    }
    h.assert_clean().await;

    // Staged properly, a publish may not go out of kubelet's root either.
    h.stage("vol", cap.clone()).await.unwrap();
    let target_cases = [
        format!("{k}/pods/../../host/mount"),
        format!("{k}/plugins/escape/mount"),
        format!("{k}/plugins/escape"),
        "pods/p/mount".to_string(),
        format!("{k}/pods/p\0/mount"),
    ];
    for target in &target_cases {
        let mut request = h.publish_request("vol", "pod", cap.clone(), false);
        request.target_path = target.clone();
        let result = h.node.node_publish_volume(request).await.map(drop);
        assert_refused(result, Code::InvalidArgument, &["target_path"]);
        let mut request = h.unpublish_request("vol", "pod");
        request.target_path = target.clone();
        let result = h.node.node_unpublish_volume(request).await.map(drop);
        assert_refused(result, Code::InvalidArgument, &["target_path"]);
    }

    assert_eq!(
        [tree_digest(&host), tree_digest(&plugins.join("file"))],
        before,
        "something outside changed"
    );
    assert!(!is_mounted(&host) && !is_mounted(&host.join("mount")));
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
}

/// Item 4: `mkfsOptions`, `mapOptions` and `unmapOptions` pass only their allowlists; the
/// error names the option. Allowed options still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mkfs_and_map_options_outside_the_allowlists_are_refused_by_name() {
    let mut h = Harness::start("hostile-options").await;
    h.create_image("vol", 64);
    let host = h.host_dir();
    std::fs::create_dir_all(host.join("etc")).unwrap();
    std::fs::write(host.join("etc/passwd"), b"root:x:0:0").unwrap();
    let before = tree_digest(&host);
    let hd = host.display();

    let cases: Vec<(&str, &str, String, &str)> = vec![
        ("ext4", "mkfsOptions", format!("-d {hd}/etc"), "\"-d\""),
        (
            "xfs",
            "mkfsOptions",
            format!("-p {hd}/etc/passwd"),
            "\"-p\"",
        ),
        (
            "xfs",
            "mkfsOptions",
            format!("-l logdev={hd}/etc/passwd"),
            "logdev",
        ),
        ("ext4", "mkfsOptions", "-E offset=4096".into(), "offset"),
        (
            "ext4",
            "mapOptions",
            format!("nbd:log-file={hd}/log"),
            "log-file",
        ),
        (
            "ext4",
            "mapOptions",
            format!("krbd:keyfile={hd}/etc/passwd"),
            "keyfile",
        ),
        (
            "ext4",
            "mapOptions",
            "fuse:allow_other".into(),
            "allow_other",
        ),
        (
            "ext4",
            "unmapOptions",
            format!("nbd:log-file={hd}/log"),
            "log-file",
        ),
    ];
    for (fs_type, key, value, named) in &cases {
        let cap = mount_capability(fs_type, Mode::SingleNodeWriter);
        let mut request = h.stage_request("vol", cap);
        request.volume_context.insert((*key).into(), value.clone());
        let result = h.node.node_stage_volume(request).await.map(drop);
        let field = format!("volume_context.{key}");
        assert_refused(result, Code::InvalidArgument, &[&field, named]);
    }
    assert_eq!(tree_digest(&host), before, "the host directory changed");
    h.assert_clean().await;
    assert_no_stash(&h, "vol");

    // Allowed options pass and take effect.
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let mut request = h.stage_request("vol", cap);
    for (key, value) in [
        ("mkfsOptions", "-m 1 -L sepia-data -E nodiscard"),
        ("mapOptions", "krbd:queue_depth=128;nbd:io-timeout=30"),
        ("unmapOptions", "krbd:force"),
    ] {
        request.volume_context.insert(key.into(), value.into());
    }
    h.node.node_stage_volume(request).await.unwrap();
    let staged = h.staging_path("vol").join(h.volume_id("vol"));
    let device = node::mount::mountinfo::mount_at(&staged)
        .await
        .unwrap()
        .unwrap()
        .source;
    assert_eq!(
        run("blkid", &["-s", "LABEL", "-o", "value", &device]),
        "sepia-data"
    );
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
}

/// Item 8: whatever size a value has, the answer is a small INVALID_ARGUMENT quoting at most
/// 256 bytes of it, never a transport error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_values_come_back_as_small_errors_that_say_how_long_they_were() {
    let mut h = Harness::start("hostile-huge").await;
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let mb = "v".repeat(1 << 20);
    let hundred_kb = "o".repeat(100 << 10);
    let kubelet = h.kubelet_root().display().to_string();
    let small = |message: &str, total: usize| {
        assert!(message.len() < 1024, "{} bytes", message.len());
        assert!(message.contains(&format!("…({total} bytes)")), "{message}");
    };

    let mut r = h.stage_request("vol", cap.clone());
    r.volume_id = mb.clone();
    let m = assert_refused(
        h.node.node_stage_volume(r).await.map(drop),
        Code::InvalidArgument,
        &["volume_id"],
    );
    small(&m, mb.len());

    let mut r = h.stage_request("vol", cap.clone());
    r.staging_target_path = format!("{kubelet}/{mb}");
    let m = assert_refused(
        h.node.node_stage_volume(r).await.map(drop),
        Code::InvalidArgument,
        &["staging_target_path"],
    );
    small(&m, kubelet.len() + 1 + mb.len());

    let mut r = h.stage_request("vol", cap.clone());
    r.volume_context
        .insert("mkfsOptions".into(), format!("-d{hundred_kb}"));
    let m = assert_refused(
        h.node.node_stage_volume(r).await.map(drop),
        Code::InvalidArgument,
        &["mkfsOptions"],
    );
    small(&m, hundred_kb.len() + 2);

    let mut r = h.stage_request("vol", cap.clone());
    r.volume_context
        .insert("imageName".into(), hundred_kb.clone());
    let m = assert_refused(
        h.node.node_stage_volume(r).await.map(drop),
        Code::InvalidArgument,
        &["imageName"],
    );
    small(&m, hundred_kb.len());

    let mut r = h.stage_request("vol", cap.clone());
    r.volume_context.insert("clusterID".into(), mb.clone());
    let m = assert_refused(
        h.node.node_stage_volume(r).await.map(drop),
        Code::FailedPrecondition,
        &["not in the cluster config"],
    );
    small(&m, mb.len());

    let mut r = h.unpublish_request("vol", "pod");
    r.target_path = format!("{kubelet}/{mb}");
    let m = assert_refused(
        h.node.node_unpublish_volume(r).await.map(drop),
        Code::InvalidArgument,
        &["target_path"],
    );
    small(&m, kubelet.len() + 1 + mb.len());
    h.assert_clean().await;
}

/// A key file as a plugin killed mid-stage leaves it: `<state>/keys/key-<random>/key`, 0600.
fn plant_key(state_keys: &Path, name: &str) -> PathBuf {
    let dir = state_keys.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = dir.join("key");
    std::fs::write(&key, "AQBleftbehind==").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    key
}

/// Item 9: key files nobody holds any more are swept when the plugin starts and whenever a
/// stage ends; a key a running map still uses stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_files_a_killed_stage_left_are_swept_at_start_up_and_after_a_stage() {
    let mut planted = PathBuf::new();
    let mut h = Harness::start_prepared("hostile-keys", Deadlines::default(), |root| {
        planted = plant_key(&root.join("state/keys"), "key-killed1");
    })
    .await;
    let keys = h.root.join("state/keys");
    assert!(
        !planted.exists(),
        "the start-up sweep left {}",
        planted.display()
    );

    let second = plant_key(&keys, "key-killed2");
    let live = h
        .driver()
        .mappers
        .keys()
        .write(&Secret::new("AQBinuse=="))
        .await
        .unwrap();
    h.create_image("vol", 64);
    h.stage("vol", mount_capability("ext4", Mode::SingleNodeWriter))
        .await
        .unwrap();
    assert!(
        !second.exists(),
        "the sweep after the stage left {}",
        second.display()
    );
    assert_eq!(std::fs::read_to_string(live.path()).unwrap(), "AQBinuse==");
    drop(live);
    assert_eq!(std::fs::read_dir(&keys).unwrap().count(), 0);
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
}
