//! Field defaults the real server fills in when it decodes an object.
//!
//! Controllers read these fields and get the defaulted value from a real cluster (a PVC always
//! has `spec.volumeMode`, a new PV is `Pending`, a CSIDriver has `attachRequired: true`), so an
//! object stored without them would send a controller down a path it never takes in production.
//! Only the defaults of the kinds our components touch are listed; one line each.

use serde_json::Value;

use crate::object_meta::object_mut;
use crate::resources::ResourceInfo;

/// group, plural, JSON pointer, default value (as JSON).
#[rustfmt::skip]
const DEFAULTS: &[(&str, &str, &str, &str)] = &[
    ("", "persistentvolumeclaims", "/spec/volumeMode", r#""Filesystem""#),
    ("", "persistentvolumeclaims", "/status/phase", r#""Pending""#),
    ("", "persistentvolumes", "/spec/persistentVolumeReclaimPolicy", r#""Retain""#),
    ("", "persistentvolumes", "/spec/volumeMode", r#""Filesystem""#),
    ("", "persistentvolumes", "/status/phase", r#""Pending""#),
    ("storage.k8s.io", "storageclasses", "/reclaimPolicy", r#""Delete""#),
    ("storage.k8s.io", "storageclasses", "/volumeBindingMode", r#""Immediate""#),
    ("storage.k8s.io", "csidrivers", "/spec/attachRequired", "true"),
    ("storage.k8s.io", "csidrivers", "/spec/podInfoOnMount", "false"),
    ("storage.k8s.io", "csidrivers", "/spec/requiresRepublish", "false"),
    ("storage.k8s.io", "csidrivers", "/spec/storageCapacity", "false"),
    ("storage.k8s.io", "csidrivers", "/spec/seLinuxMount", "false"),
    ("storage.k8s.io", "csidrivers", "/spec/fsGroupPolicy", r#""ReadWriteOnceWithFSType""#),
    ("storage.k8s.io", "csidrivers", "/spec/volumeLifecycleModes", r#"["Persistent"]"#),
];

/// Fill in every absent defaulted field of `obj`.
pub(crate) fn apply(info: &ResourceInfo, obj: &mut Value) {
    for &(group, plural, pointer, default) in DEFAULTS {
        if info.gvr.group != group || info.gvr.plural != plural || obj.pointer(pointer).is_some() {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(default) else {
            continue;
        };
        set_at(obj, pointer, value);
    }
}

fn set_at(obj: &mut Value, pointer: &str, value: Value) {
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut cur = obj;
    for part in parents {
        cur = object_mut(cur)
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    object_mut(cur).insert((*last).to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Gvr, ResourceTable};
    use serde_json::json;

    #[test]
    fn absent_fields_are_defaulted_and_present_ones_kept() {
        let table = ResourceTable::default();
        let info = table
            .find(&Gvr::new("", "v1", "persistentvolumeclaims"))
            .unwrap();
        let mut pvc = json!({"spec": {"volumeMode": "Block"}});
        apply(info, &mut pvc);
        assert_eq!(
            pvc,
            json!({"spec": {"volumeMode": "Block"}, "status": {"phase": "Pending"}})
        );
        for (group, _, _, default) in DEFAULTS {
            assert!(
                serde_json::from_str::<Value>(default).is_ok(),
                "{group}: {default}"
            );
        }
    }
}
