//! What the sidecars wrote, as the test observes it in the API stand-in: waiting (generously)
//! for an object to reach a state, the Events about an object, a Lease's holder.

use std::time::Duration;

use kube_standin::{Gvr, StandIn};
use serde_json::Value;

use crate::objects::gvr;

/// How long a wait may take before the test fails: long enough for a slow CI machine, so a
/// failure means "never", not "slow".
const PATIENCE: Duration = Duration::from_secs(90);

/// Waits until `predicate` holds for the object (`None` while it does not exist) and returns
/// it; fails the test with `what` and the object as it is otherwise.
pub async fn wait(
    standin: &StandIn,
    group: &str,
    plural: &str,
    namespace: &str,
    name: &str,
    what: &str,
    predicate: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    standin
        .wait_for(&gvr(group, plural), namespace, name, predicate, PATIENCE)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{what}: {e}; object now: {:#?}",
                standin.get_json(&gvr(group, plural), namespace, name)
            )
        })
}

/// Reasons of the Kubernetes Events recorded about objects named `name`, oldest first.
pub fn event_reasons(standin: &StandIn, name: &str) -> Vec<String> {
    standin
        .list_json(&Gvr::new("events.k8s.io", "v1", "events"), None)
        .iter()
        .filter(|e| e["regarding"]["name"] == name)
        .filter_map(|e| e["reason"].as_str().map(str::to_owned))
        .collect()
}

/// The holder of Lease `default/name`, if any.
pub fn lease_holder(standin: &StandIn, name: &str) -> Option<String> {
    standin
        .get_json(&gvr("coordination.k8s.io", "leases"), "default", name)
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned))
}

/// The writes `component` (the binary's name, which starts its User-Agent) made to `plural`,
/// as (verb, subresource), in order: tests assert on them that the sidecars PATCH with a
/// resourceVersion precondition where upstream's RBAC grants no `update`.
pub fn writes_by(
    standin: &StandIn,
    component: &str,
    plural: &str,
) -> Vec<(kube_standin::Verb, Option<String>)> {
    let agent = format!("{component}/");
    standin
        .events()
        .into_iter()
        .filter(|w| w.gvr.plural == plural && w.user_agent.starts_with(&agent))
        .map(|w| (w.verb, w.subresource))
        .collect()
}
