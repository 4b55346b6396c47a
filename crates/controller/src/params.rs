//! StorageClass and VolumeSnapshotClass parameters, with ceph-csi's names and rules.
//!
//! Unknown keys are refused by name (a typo such as `imagefeatures` would otherwise silently
//! give a volume the wrong features); keys under `csi.storage.k8s.io/` belong to Kubernetes and
//! are always accepted. Keys only the node plugin reads (`mounter`, `mapOptions`, ...) pass
//! through to the volume context.

use std::collections::{BTreeMap, HashMap};

use ceph::rbd::Features;
use csi::quote::quote;

use crate::error::{Error, Result};

/// Kubernetes' own parameter namespace (fstype, secret references, PVC/PV names).
pub const K8S_PREFIX: &str = "csi.storage.k8s.io/";

pub const PVC_NAME: &str = "csi.storage.k8s.io/pvc/name";
pub const PVC_NAMESPACE: &str = "csi.storage.k8s.io/pvc/namespace";
pub const PV_NAME: &str = "csi.storage.k8s.io/pv/name";
pub const SNAPSHOT_NAME: &str = "csi.storage.k8s.io/volumesnapshot/name";
pub const SNAPSHOT_NAMESPACE: &str = "csi.storage.k8s.io/volumesnapshot/namespace";
pub const SNAPSHOT_CONTENT_NAME: &str = "csi.storage.k8s.io/volumesnapshotcontent/name";

/// Keys the node plugin reads from the volume context; validated there.
const NODE_KEYS: [&str; 7] = [
    "mounter",
    "mapOptions",
    "unmapOptions",
    "mkfsOptions",
    "tryOtherMounters",
    "cephLogDir",
    "cephLogStrategy",
];

/// ceph-csi parameters Sepia does not implement: refused with that reason rather than as
/// unknown, so nobody hunts for a typo.
const UNSUPPORTED_KEYS: [&str; 10] = [
    "topologyConstrainedPools",
    "encryptionKMSID",
    "encryptionType",
    "baseIops",
    "maxIops",
    "iopsPerGiB",
    "baseBps",
    "maxBps",
    "bpsPerGiB",
    "baseVolSizeBytes",
];

/// Mounters the node plugin knows (ceph-csi's names plus Sepia's).
const MOUNTERS: [&str; 6] = ["rbd", "krbd", "rbd-nbd", "nbd", "rbd-fuse", "fuse"];

/// Features a StorageClass may ask for.
const USER_FEATURES: Features = Features::LAYERING
    .union(Features::EXCLUSIVE_LOCK)
    .union(Features::OBJECT_MAP)
    .union(Features::FAST_DIFF)
    .union(Features::DEEP_FLATTEN)
    .union(Features::JOURNALING);

/// Kubernetes names carried by CreateVolume with `--extra-create-metadata`, used to tag images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeTags {
    pub pvc_name: Option<String>,
    pub pvc_namespace: Option<String>,
    pub pv_name: Option<String>,
}

/// A CreateVolume's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeParams {
    pub cluster_id: String,
    pub pool: String,
    pub data_pool: Option<String>,
    pub features: Features,
    pub volume_name_prefix: Option<String>,
    pub stripe: Option<(u64, u64)>,
    /// Object size as a power of two.
    pub order: Option<u32>,
    /// `radosNamespace` when given (it must match the cluster config's, which is what counts).
    pub rados_namespace: Option<String>,
    pub tags: VolumeTags,
    /// Parameters echoed in the volume context (all but Kubernetes' own).
    pub context: BTreeMap<String, String>,
}

impl VolumeParams {
    pub fn parse(params: &HashMap<String, String>) -> Result<VolumeParams> {
        for key in params.keys() {
            check_key(key, &CONTROLLER_VOLUME_KEYS, &NODE_KEYS)?;
        }
        let get = |key: &str| params.get(key).map(String::as_str);
        let cluster_id = required(params, "clusterID")?;
        let pool = required(params, "pool")?;
        let data_pool = optional_non_empty(params, "dataPool")?;
        let mounter = get("mounter");
        if let Some(m) = mounter
            && !MOUNTERS.contains(&m)
        {
            return Err(Error::parameter(
                "mounter",
                format!("{} is not one of {}", quote(m), MOUNTERS.join(", ")),
            ));
        }
        let features = match get("imageFeatures") {
            None => Features::LAYERING,
            Some(list) => parse_features(list, mounter)?,
        };
        let volume_name_prefix = optional_non_empty(params, "volumeNamePrefix")?;
        if let Some(prefix) = &volume_name_prefix {
            check_prefix("volumeNamePrefix", prefix)?;
        }
        let stripe = match (get("stripeUnit"), get("stripeCount")) {
            (None, None) => None,
            (Some(unit), Some(count)) => Some((
                positive("stripeUnit", unit)?,
                positive("stripeCount", count)?,
            )),
            (Some(_), None) => {
                return Err(Error::parameter(
                    "stripeCount",
                    "must be set together with stripeUnit",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::parameter(
                    "stripeUnit",
                    "must be set together with stripeCount",
                ));
            }
        };
        let order = get("objectSize").map(parse_object_size).transpose()?;
        if let Some(format) = get("imageFormat")
            && format != "2"
        {
            return Err(Error::parameter(
                "imageFormat",
                "only format 2 is supported",
            ));
        }
        if let Some(thick) = get("thickProvision")
            && thick != "false"
        {
            return Err(Error::parameter(
                "thickProvision",
                "thick provisioning is not supported (ceph-csi removed it too)",
            ));
        }
        if let Some(encrypted) = get("encrypted")
            && encrypted != "false"
        {
            return Err(Error::parameter(
                "encrypted",
                "encryption is not supported by Sepia",
            ));
        }
        let rados_namespace = optional_non_empty(params, "radosNamespace")?;
        let tags = VolumeTags {
            pvc_name: non_empty(get(PVC_NAME)),
            pvc_namespace: non_empty(get(PVC_NAMESPACE)),
            pv_name: non_empty(get(PV_NAME)),
        };
        let context = params
            .iter()
            .filter(|(k, _)| !k.starts_with(K8S_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(VolumeParams {
            cluster_id,
            pool,
            data_pool,
            features,
            volume_name_prefix,
            stripe,
            order,
            rados_namespace,
            tags,
            context,
        })
    }

    /// librbd options for a new image (or clone) with these parameters.
    pub fn create_options(&self) -> ceph::rbd::CreateOptions {
        ceph::rbd::CreateOptions {
            features: Some(self.features),
            order: self.order,
            data_pool: self.data_pool.clone(),
            stripe_unit: self.stripe.map(|(unit, _)| unit),
            stripe_count: self.stripe.map(|(_, count)| count),
        }
    }
}

const CONTROLLER_VOLUME_KEYS: [&str; 12] = [
    "clusterID",
    "pool",
    "dataPool",
    "imageFeatures",
    "volumeNamePrefix",
    "stripeUnit",
    "stripeCount",
    "objectSize",
    "imageFormat",
    "thickProvision",
    "encrypted",
    "radosNamespace",
];

/// Kubernetes names carried by CreateSnapshot with `--extra-create-metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotTags {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub content_name: Option<String>,
}

/// A CreateSnapshot's parameters (VolumeSnapshotClass).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotParams {
    /// Must match the source volume's cluster when given.
    pub cluster_id: Option<String>,
    pub snapshot_name_prefix: Option<String>,
    pub tags: SnapshotTags,
}

impl SnapshotParams {
    pub fn parse(params: &HashMap<String, String>) -> Result<SnapshotParams> {
        // ceph-csi accepts `pool` in a VolumeSnapshotClass but always snapshots into the source
        // volume's pool; so do we.
        const KEYS: [&str; 3] = ["clusterID", "snapshotNamePrefix", "pool"];
        for key in params.keys() {
            check_key(key, &KEYS, &[])?;
        }
        let prefix = optional_non_empty(params, "snapshotNamePrefix")?;
        if let Some(prefix) = &prefix {
            check_prefix("snapshotNamePrefix", prefix)?;
        }
        let get = |key: &str| params.get(key).map(String::as_str);
        Ok(SnapshotParams {
            cluster_id: optional_non_empty(params, "clusterID")?,
            snapshot_name_prefix: prefix,
            tags: SnapshotTags {
                name: non_empty(get(SNAPSHOT_NAME)),
                namespace: non_empty(get(SNAPSHOT_NAMESPACE)),
                content_name: non_empty(get(SNAPSHOT_CONTENT_NAME)),
            },
        })
    }
}

/// GetCapacity's parameters: the StorageClass's, of which only clusterID and pool matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapacityParams {
    pub cluster_id: Option<String>,
    pub pool: Option<String>,
}

impl CapacityParams {
    pub fn parse(params: &HashMap<String, String>) -> Result<CapacityParams> {
        for key in params.keys() {
            check_key(key, &CONTROLLER_VOLUME_KEYS, &NODE_KEYS)?;
        }
        Ok(CapacityParams {
            cluster_id: optional_non_empty(params, "clusterID")?,
            pool: optional_non_empty(params, "pool")?,
        })
    }
}

fn check_key(key: &str, controller: &[&str], node: &[&str]) -> Result<()> {
    if key.starts_with(K8S_PREFIX) || controller.contains(&key) || node.contains(&key) {
        return Ok(());
    }
    if UNSUPPORTED_KEYS.contains(&key) {
        return Err(Error::parameter(
            key,
            "is a ceph-csi parameter Sepia does not support",
        ));
    }
    Err(Error::parameter(key, "is not a known parameter"))
}

fn required(params: &HashMap<String, String>, key: &'static str) -> Result<String> {
    match params.get(key).map(|v| v.trim()) {
        None => Err(Error::parameter(key, "is required")),
        Some("") => Err(Error::parameter(key, "must not be empty")),
        Some(v) => Ok(v.to_owned()),
    }
}

fn optional_non_empty(
    params: &HashMap<String, String>,
    key: &'static str,
) -> Result<Option<String>> {
    match params.get(key).map(|v| v.trim()) {
        None => Ok(None),
        Some("") => Err(Error::parameter(key, "must not be empty when set")),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn positive(key: &'static str, value: &str) -> Result<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Error::parameter(key, format!("{} is not a positive integer", quote(value))))
}

/// `objectSize` in bytes: a power of two from 4 KiB to 32 MiB (librbd's orders 12..=25).
fn parse_object_size(value: &str) -> Result<u32> {
    let bytes = positive("objectSize", value)?;
    if !bytes.is_power_of_two() || !(1 << 12..=1 << 25).contains(&bytes) {
        return Err(Error::parameter(
            "objectSize",
            format!("{bytes} is not a power of two between 4096 and 33554432"),
        ));
    }
    Ok(bytes.trailing_zeros())
}

fn check_prefix(key: &'static str, prefix: &str) -> Result<()> {
    if prefix.len() > 64
        || prefix.contains(['/', '@', '\0'])
        || prefix.chars().any(char::is_whitespace)
    {
        return Err(Error::parameter(
            key,
            "must be at most 64 characters without '/', '@' or whitespace",
        ));
    }
    Ok(())
}

/// ceph-csi's feature rules: known names only, an empty list refused, dependencies enforced.
fn parse_features(list: &str, mounter: Option<&str>) -> Result<Features> {
    if list.trim().is_empty() {
        return Err(Error::parameter(
            "imageFeatures",
            "must name at least one feature (e.g. layering)",
        ));
    }
    // Ceph's refusal quotes the unknown name whole; ours quotes it cut (it is the client's).
    let features = Features::parse(list).map_err(|_| {
        let unknown = list
            .split(',')
            .find(|name| Features::parse(name).is_err())
            .unwrap_or(list);
        Error::parameter(
            "imageFeatures",
            format!(
                "image feature {} is unknown (known: {})",
                quote(unknown.trim()),
                Features::all().names().join(", ")
            ),
        )
    })?;
    let extra = features.difference(USER_FEATURES);
    if !extra.is_empty() {
        return Err(Error::parameter(
            "imageFeatures",
            format!(
                "{extra} cannot be requested (use layering, exclusive-lock, object-map, fast-diff, deep-flatten, journaling)"
            ),
        ));
    }
    let needs = [
        (
            Features::OBJECT_MAP,
            Features::EXCLUSIVE_LOCK,
            "object-map needs exclusive-lock",
        ),
        (
            Features::FAST_DIFF,
            Features::OBJECT_MAP,
            "fast-diff needs object-map",
        ),
        (
            Features::JOURNALING,
            Features::EXCLUSIVE_LOCK,
            "journaling needs exclusive-lock",
        ),
    ];
    for (feature, dependency, rule) in needs {
        if features.contains(feature) && !features.contains(dependency) {
            return Err(Error::parameter("imageFeatures", rule));
        }
    }
    if features.contains(Features::JOURNALING) && !matches!(mounter, Some("rbd-nbd" | "nbd")) {
        return Err(Error::parameter(
            "imageFeatures",
            "journaling needs mounter rbd-nbd (krbd cannot map journaled images)",
        ));
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn minimal_class_defaults_to_layering() {
        let p = VolumeParams::parse(&map(&[("clusterID", "c"), ("pool", "rbd")])).unwrap();
        assert_eq!(p.features, Features::LAYERING);
        assert_eq!(p.context.get("pool").map(String::as_str), Some("rbd"));
    }

    #[test]
    fn unknown_and_unsupported_keys_are_named() {
        let e = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("pool", "rbd"),
            ("imagefeatures", "x"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("\"imagefeatures\""), "{e}");
        let e = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("pool", "rbd"),
            ("topologyConstrainedPools", "[]"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("does not support"), "{e}");
        // Kubernetes' keys and node keys are fine.
        let p = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("pool", "rbd"),
            ("csi.storage.k8s.io/fstype", "xfs"),
            (PVC_NAME, "data"),
            ("mounter", "rbd-nbd"),
        ]))
        .unwrap();
        assert_eq!(p.tags.pvc_name.as_deref(), Some("data"));
        assert!(!p.context.contains_key("csi.storage.k8s.io/fstype"));
        assert!(p.context.contains_key("mounter"));
    }

    #[test]
    fn feature_dependencies_are_enforced() {
        let with = |features: &str, mounter: &str| {
            let mut m = map(&[
                ("clusterID", "c"),
                ("pool", "rbd"),
                ("imageFeatures", features),
            ]);
            if !mounter.is_empty() {
                m.insert("mounter".into(), mounter.into());
            }
            VolumeParams::parse(&m)
        };
        assert!(
            with("layering,object-map", "")
                .unwrap_err()
                .to_string()
                .contains("object-map needs exclusive-lock")
        );
        assert!(with("layering,exclusive-lock,fast-diff", "").is_err());
        assert!(
            with(
                "layering,exclusive-lock,object-map,fast-diff,deep-flatten",
                ""
            )
            .is_ok()
        );
        assert!(with("layering,exclusive-lock,journaling", "").is_err());
        assert!(with("layering,exclusive-lock,journaling", "rbd-nbd").is_ok());
        assert!(with("", "").is_err());
        assert!(with("layering,striping", "").is_err());
        assert!(
            with("layering,bogus", "")
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
    }

    #[test]
    fn striping_and_object_size_are_checked() {
        let base = |extra: &[(&str, &str)]| {
            let mut m = map(&[("clusterID", "c"), ("pool", "rbd")]);
            m.extend(map(extra));
            VolumeParams::parse(&m)
        };
        assert_eq!(base(&[("objectSize", "8388608")]).unwrap().order, Some(23));
        assert!(base(&[("objectSize", "3000")]).is_err());
        assert!(
            base(&[("stripeUnit", "65536")])
                .unwrap_err()
                .to_string()
                .contains("stripeCount")
        );
        assert_eq!(
            base(&[("stripeUnit", "65536"), ("stripeCount", "4")])
                .unwrap()
                .stripe,
            Some((65536, 4))
        );
        assert!(base(&[("encrypted", "true")]).is_err());
        assert!(base(&[("encrypted", "false")]).is_ok());
    }

    #[test]
    fn snapshot_class_parameters() {
        let p = SnapshotParams::parse(&map(&[
            ("clusterID", "c"),
            ("snapshotNamePrefix", "snap-"),
            (SNAPSHOT_NAME, "s1"),
        ]))
        .unwrap();
        assert_eq!(p.snapshot_name_prefix.as_deref(), Some("snap-"));
        assert_eq!(p.tags.name.as_deref(), Some("s1"));
        assert!(SnapshotParams::parse(&map(&[("imageFeatures", "layering")])).is_err());
    }
}
