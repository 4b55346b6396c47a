use std::path::Path;

use super::*;
use crate::{CephFsSettings, NodeRegistry};

/// ceph-csi's documented example (deploy/csi-config-map-sample.yaml), with every section filled.
const CEPH_CSI_SAMPLE: &str = r#"[
  {
    "clusterID": "b9127830-b0cc-4e34-aa47-9d1a2e9949a8",
    "rbd": {
      "netNamespaceFilePath": "/var/lib/kubelet/plugins/rbd.csi.ceph.com/net",
      "radosNamespace": "csi-ns",
      "mirrorDaemonCount": 1
    },
    "monitors": ["192.168.1.1:6789", "192.168.1.2:6789"],
    "cephFS": {
      "subvolumeGroup": "csi-group",
      "netNamespaceFilePath": "/var/lib/kubelet/plugins/cephfs.csi.ceph.com/net",
      "kernelMountOptions": "ms_mode=secure",
      "fuseMountOptions": "debug",
      "radosNamespace": "csi"
    },
    "nfs": { "netNamespaceFilePath": "/var/lib/kubelet/plugins/nfs.csi.ceph.com/net" },
    "readAffinity": { "enabled": true, "crushLocationLabels": ["topology.kubernetes.io/zone"] }
  }
]"#;

/// What Rook's operator writes into `rook-ceph-csi-config`: nulls for unset lists, an extra
/// `namespace` field, and a second entry for a CephBlockPoolRadosNamespace.
const ROOK_SAMPLE: &str = r#"[
  {"clusterID":"rook-ceph","monitors":["10.96.12.3:6789","10.96.44.7:6789","10.96.80.1:6789"],
   "namespace":"rook-ceph",
   "cephFS":{"netNamespaceFilePath":"","subvolumeGroup":"","kernelMountOptions":"","fuseMountOptions":""},
   "rbd":{"netNamespaceFilePath":"","radosNamespace":""},
   "nfs":{"netNamespaceFilePath":""},
   "readAffinity":{"enabled":false,"crushLocationLabels":null},
   "csi-addons":null},
  {"clusterID":"80fc4f4bacc064be641633e6ed25ba7e","monitors":["10.96.12.3:6789"],
   "namespace":"rook-ceph","rbd":{"radosNamespace":"team-a"},"cephFS":null}
]"#;

fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
    ClusterConfig::parse(Path::new("config.json"), text.as_bytes())
}

#[test]
fn ceph_csi_sample_parses_with_every_section() {
    let config = parse(CEPH_CSI_SAMPLE).unwrap();
    let entry = config.get("b9127830-b0cc-4e34-aa47-9d1a2e9949a8").unwrap();
    assert_eq!(entry.monitors_arg(), "192.168.1.1:6789,192.168.1.2:6789");
    assert_eq!(entry.rbd.rados_namespace, "csi-ns");
    assert_eq!(entry.rbd.mirror_daemon_count, Some(1));
    assert_eq!(entry.ceph_fs.subvolume_group, "csi-group");
    assert_eq!(entry.ceph_fs.rados_namespace, "csi");
    assert_eq!(entry.ceph_fs.kernel_mount_options, "ms_mode=secure");
}

#[test]
fn rook_sample_with_nulls_and_extra_fields_parses() {
    let config = parse(ROOK_SAMPLE).unwrap();
    assert_eq!(config.entries().len(), 2);
    let main = config.get("rook-ceph").unwrap();
    assert_eq!(main.monitors.len(), 3);
    assert_eq!(main.rbd.rados_namespace, "");
    let team = config.get("80fc4f4bacc064be641633e6ed25ba7e").unwrap();
    assert_eq!(team.rbd.rados_namespace, "team-a");
    assert_eq!(team.ceph_fs, CephFsSettings::default());
}

#[test]
fn node_registry_defaults_to_pool_rbd_and_the_rbd_namespace() {
    let config = parse(ROOK_SAMPLE).unwrap();
    let team = config.get("80fc4f4bacc064be641633e6ed25ba7e").unwrap();
    assert_eq!(
        team.node_registry(),
        NodeRegistry {
            pool: "rbd".into(),
            namespace: "team-a".into()
        }
    );
}

#[test]
fn sepia_section_overrides_the_node_registry() {
    let config = parse(
        r#"[{"clusterID":"c","monitors":["m:1"],"rbd":{"radosNamespace":"ns"},
            "sepia":{"nodeRegistryPool":"replicapool","nodeRegistryNamespace":""}}]"#,
    )
    .unwrap();
    assert_eq!(
        config.get("c").unwrap().node_registry(),
        NodeRegistry {
            pool: "replicapool".into(),
            namespace: String::new()
        }
    );
}

#[test]
fn empty_list_is_a_valid_config_without_clusters() {
    let config = parse("[]").unwrap();
    assert!(config.is_empty());
    assert_eq!(
        config.get("x").unwrap_err(),
        ConfigError::UnknownCluster {
            cluster_id: "x".into()
        }
    );
}

#[test]
fn unknown_cluster_id_is_reported_by_name() {
    let config = parse(CEPH_CSI_SAMPLE).unwrap();
    let err = config.get("other").unwrap_err();
    assert!(err.to_string().contains("\"other\""), "{err}");
}

#[test]
fn entry_without_cluster_id_is_rejected_naming_the_field() {
    let err = parse(r#"[{"monitors":["m:1"]}]"#).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                index: 0,
                field: "clusterID",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn entry_without_monitors_is_rejected_naming_the_field() {
    let err = parse(r#"[{"clusterID":"a","monitors":["m:1"]},{"clusterID":"b","monitors":[]}]"#)
        .unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { index: 1, field: "monitors", cluster_id, .. } if cluster_id == "b"),
        "{err:?}"
    );
}

#[test]
fn duplicate_cluster_ids_are_rejected() {
    let err =
        parse(r#"[{"clusterID":"a","monitors":["m:1"]},{"clusterID":"a","monitors":["m:2"]}]"#)
            .unwrap_err();
    assert_eq!(
        err,
        ConfigError::DuplicateClusterId {
            cluster_id: "a".into(),
            first: 0,
            second: 1
        }
    );
}

#[test]
fn malformed_json_is_a_parse_error_naming_the_file() {
    let err = parse(r#"[{"clusterID": "a", "monitors": "#).unwrap_err();
    assert!(matches!(&err, ConfigError::Parse { path, .. } if path == Path::new("config.json")));
    assert!(err.to_string().contains("config.json"));
}

#[test]
fn wrong_shape_is_a_parse_error() {
    assert!(matches!(
        parse(r#"{"clusterID":"a"}"#).unwrap_err(),
        ConfigError::Parse { .. }
    ));
    assert!(matches!(
        parse(r#"[{"clusterID":"a","monitors":"m:1"}]"#).unwrap_err(),
        ConfigError::Parse { .. }
    ));
}
