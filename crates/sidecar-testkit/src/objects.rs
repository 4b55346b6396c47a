//! Kubernetes objects as the test's other actors (an admin, kube-controller-manager) write
//! them, and writing them into the API stand-in.

use base64::Engine;
use kube_standin::{Gvr, StandIn};
use sepia_testbed::Bed;
use serde_json::{Value, json};

/// The Secret [`secret`] writes, in namespace `default`.
pub const SECRET: &str = "ceph-secret";

/// `group`/`v1`/`plural`: every kind the sidecars touch is at `v1`.
pub fn gvr(group: &str, plural: &str) -> Gvr {
    Gvr::new(group, "v1", plural)
}

/// Writes `object` into the stand-in (create or replace).
pub fn put(standin: &StandIn, group: &str, plural: &str, object: Value) {
    standin.put_object(&gvr(group, plural), object).unwrap();
}

/// Secret [`SECRET`] with the bed's cephx user, as an admin creates it for a StorageClass.
pub fn secret(bed: &Bed) -> Value {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": "default"},
        "data": {"userID": b64(&bed.user), "userKey": b64(&bed.key)}})
}
