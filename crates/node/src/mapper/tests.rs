use std::path::Path;

use super::*;
use crate::secret::Secret;
use crate::settings::Deadlines;

fn settings(mapper: MapperChoice) -> NodeSettings {
    NodeSettings {
        node_id: "node-a".into(),
        driver_name: "rbd.csi.sepia.io".into(),
        state_dir: "/var/lib/sepia-node".into(),
        kubelet_root: "/var/lib/kubelet".into(),
        ceph_conf: None,
        mapper,
        max_volumes_per_node: 0,
        deadlines: Deadlines::default(),
    }
}

fn keys() -> KeyDir {
    KeyDir::new("/var/lib/sepia-node/keys".into())
}

fn access() -> CephAccess {
    CephAccess {
        monitors: "10.0.0.1:6789,10.0.0.2:6789".into(),
        user: "csi-rbd-node".into(),
        key: Secret::new("AQBverysecret=="),
    }
}

fn image(namespace: &str) -> ImageSpec {
    ImageSpec {
        pool: "replicapool".into(),
        namespace: namespace.into(),
        image: "csi-vol-1".into(),
    }
}

fn request<'a>(
    image: &'a ImageSpec,
    access: &'a CephAccess,
    read_only: bool,
    options: &[&str],
) -> MapRequest<'a> {
    MapRequest {
        volume_id: "0001-0009-rook-ceph-0000000000000002-1",
        image,
        access,
        read_only,
        options: options.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn image_spec_names_the_namespace_only_when_set() {
    assert_eq!(image("").to_string(), "replicapool/csi-vol-1");
    assert_eq!(image("team-a").to_string(), "replicapool/team-a/csi-vol-1");
}

#[test]
fn krbd_map_argv_uses_keyfile_noudev_and_options() {
    let krbd = krbd::Krbd::new(&settings(MapperChoice::Auto), &keys());
    let (img, acc) = (image("ns"), access());
    let cmd = krbd.map_command(
        &request(&img, &acc, true, &["queue_depth=1024"]),
        Path::new("/k/key"),
    );
    assert_eq!(
        cmd.command_line(),
        "rbd -c /dev/null --id csi-rbd-node -m 10.0.0.1:6789,10.0.0.2:6789 --keyfile /k/key \
         --client_mount_timeout=45 map replicapool/ns/csi-vol-1 --device-type krbd --options noudev --read-only --options queue_depth=1024"
    );
    assert!(!cmd.command_line().contains("verysecret"));
    assert_eq!(
        krbd.unmap_command(&img, &[]).command_line(),
        "rbd -c /dev/null unmap replicapool/ns/csi-vol-1 --device-type krbd --options noudev"
    );
    assert_eq!(
        krbd.unmap_command(&img, &["force".to_string()])
            .command_line(),
        "rbd -c /dev/null unmap replicapool/ns/csi-vol-1 --device-type krbd --options noudev,force"
    );
}

#[test]
fn krbd_device_list_is_matched_by_pool_namespace_and_name() {
    let json = r#"[{"id":"0","pool":"replicapool","namespace":"","name":"csi-vol-1","snap":"-","device":"/dev/rbd0"},
                   {"id":"1","pool":"replicapool","namespace":"ns","name":"csi-vol-1","snap":"-","device":"/dev/rbd1"}]"#;
    assert_eq!(
        krbd::find_in_list(json, &image("ns")).unwrap(),
        Some("/dev/rbd1".into())
    );
    assert_eq!(
        krbd::find_in_list(json, &image("")).unwrap(),
        Some("/dev/rbd0".into())
    );
    assert_eq!(krbd::find_in_list("[]", &image("")).unwrap(), None);
    assert!(krbd::find_in_list("garbage", &image("")).is_err());
    assert!(krbd::is_not_mapped(
        "rbd: rbd/img: not a mapped image or snapshot"
    ));
}

#[test]
fn nbd_map_argv_follows_ceph_csi() {
    let nbd = nbd::Nbd::new(&settings(MapperChoice::Auto), &keys());
    let (img, acc) = (image(""), access());
    let cmd = nbd.map_command(
        &request(&img, &acc, false, &["timeout=30"]),
        Path::new("/k/key"),
    );
    assert_eq!(
        cmd.command_line(),
        "rbd-nbd map replicapool/csi-vol-1 --cookie=0001-0009-rook-ceph-0000000000000002-1 -c /dev/null --id csi-rbd-node -m 10.0.0.1:6789,10.0.0.2:6789 \
         --keyfile /k/key --client_mount_timeout=45 --try-netlink --reattach-timeout=300 --io-timeout=0 --timeout=30"
    );
    assert_eq!(
        nbd.unmap_command("/dev/nbd3").command_line(),
        "rbd-nbd unmap /dev/nbd3"
    );
}

#[test]
fn nbd_list_mapped_is_parsed() {
    let json = r#"[{"id":4242,"pool":"replicapool","namespace":"","image":"csi-vol-1","snap":"-","device":"/dev/nbd2"}]"#;
    assert_eq!(
        nbd::find_in_list(json, &image("")).unwrap(),
        Some("/dev/nbd2".into())
    );
    assert_eq!(nbd::find_in_list(json, &image("ns")).unwrap(), None);
    assert_eq!(nbd::find_in_list("", &image("")).unwrap(), None);
}

#[test]
fn fuse_mount_argv_restricts_to_the_image_and_disables_caches() {
    let fuse = fuse::Fuse::new(&settings(MapperChoice::Auto), &keys());
    let (img, acc) = (image("ns"), access());
    let cmd = fuse.mount_command(
        &request(&img, &acc, true, &[]),
        Path::new("/k/key"),
        Path::new("/s/fuse/v"),
    );
    assert_eq!(
        cmd.command_line(),
        "rbd-fuse -c /dev/null -m 10.0.0.1:6789,10.0.0.2:6789 --id csi-rbd-node --keyfile /k/key \
         --client_mount_timeout=45 -p replicapool -s ns -r csi-vol-1 --rbd_cache=false -o attr_timeout=0,entry_timeout=0,ro /s/fuse/v"
    );
}

#[test]
fn fuse_dir_is_the_volume_id_or_a_digest() {
    assert_eq!(
        fuse::dir_name("0001-0004-ceph-0000000000000001-abc"),
        "0001-0004-ceph-0000000000000001-abc"
    );
    let odd = fuse::dir_name("../../etc");
    assert!(odd.starts_with("v-") && odd.len() == 34, "{odd}");
    assert_ne!(fuse::dir_name(".."), "..");
}

fn fuse_only() -> Support {
    Support::from_reasons(
        Some("no rbd module".into()),
        Some("no nbd module".into()),
        None,
    )
}

#[test]
fn auto_takes_the_first_supported_and_honours_a_supported_mounter() {
    let all = Mappers::new(
        &settings(MapperChoice::Auto),
        Support::from_reasons(None, None, None),
    );
    assert_eq!(all.select(None).unwrap(), MapperKind::Krbd);
    assert_eq!(all.select(Some(MapperKind::Nbd)).unwrap(), MapperKind::Nbd);

    let fuse = Mappers::new(&settings(MapperChoice::Auto), fuse_only());
    assert_eq!(fuse.select(None).unwrap(), MapperKind::Fuse);
    // ceph-csi's default mounter "rbd" on a node without krbd falls back instead of failing.
    assert_eq!(
        fuse.select(Some(MapperKind::Krbd)).unwrap(),
        MapperKind::Fuse
    );
}

#[test]
fn a_fixed_unsupported_mapper_is_refused_with_the_reason() {
    let m = Mappers::new(&settings(MapperChoice::Only(MapperKind::Krbd)), fuse_only());
    let err = m.select(None).unwrap_err();
    assert!(err.to_string().contains("no rbd module"), "{err}");
    let none = Mappers::new(
        &settings(MapperChoice::Auto),
        Support::from_reasons(Some("a".into()), Some("b".into()), Some("c".into())),
    );
    assert!(matches!(
        none.select(None),
        Err(NodeError::MapperUnavailable { .. })
    ));
}

#[test]
fn support_detection_reads_the_kernel_tree_and_path() {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["rbd", "rbd-fuse", "losetup"] {
        std::fs::write(bin.join(tool), "").unwrap();
    }
    std::fs::create_dir_all(root.path().join("dev")).unwrap();
    std::fs::write(root.path().join("dev/fuse"), "").unwrap();
    std::fs::write(root.path().join("dev/loop-control"), "").unwrap();
    let support = Support::detect_in(root.path(), bin.as_os_str());
    assert!(
        support
            .reason(MapperKind::Krbd)
            .unwrap()
            .contains("rbd kernel module")
    );
    assert!(support.reason(MapperKind::Nbd).is_some());
    assert_eq!(support.reason(MapperKind::Fuse), None);
    assert_eq!(support.first_supported(), Some(MapperKind::Fuse));

    std::fs::create_dir_all(root.path().join("sys/bus/rbd")).unwrap();
    std::fs::write(root.path().join("sys/bus/rbd/add_single_major"), "").unwrap();
    let support = Support::detect_in(root.path(), bin.as_os_str());
    assert_eq!(support.first_supported(), Some(MapperKind::Krbd));
}
