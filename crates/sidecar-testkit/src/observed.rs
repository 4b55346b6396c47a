//! What the sidecars wrote, as the test observes it in the API stand-in: waiting (generously)
//! for an object to reach a state, the Events about an object, a Lease's holder and renewals
//! and who read it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
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

/// The renewTime of Lease `default/name`, as its holder wrote it.
pub fn lease_renew_time(standin: &StandIn, name: &str) -> Option<Timestamp> {
    standin
        .get::<Lease>("default", name)
        .ok()??
        .spec?
        .renew_time
        .map(|t| t.0)
}

/// Waits until a replica other than `holder` has read Lease `default/name` (a sidecar's
/// User-Agent ends with its holder identity): it is trying to lead.
pub async fn read_lease(standin: &StandIn, name: &str, holder: &str) {
    let path = format!("/apis/coordination.k8s.io/v1/namespaces/default/leases/{name}");
    let holder_agent = format!("/{holder}");
    let read = async {
        loop {
            let requests = standin.requests();
            if requests.iter().any(|r| {
                r.method == "GET" && r.path == path && !r.user_agent.ends_with(&holder_agent)
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("no replica but {holder} read Lease {name}"));
}

/// Waits until the holder of Lease `default/name` has renewed it more than `span` after
/// `since`, by the renewTime it writes: the Lease says how long it was kept, not a clock of
/// the test.
pub async fn lease_renewed_past(standin: &StandIn, name: &str, since: Timestamp, span: Duration) {
    let until = since + SignedDuration::try_from(span).unwrap();
    let renewed = async {
        while lease_renew_time(standin, name).is_none_or(|t| t <= until) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, renewed)
        .await
        .unwrap_or_else(|_| panic!("Lease {name} was not renewed past {until}"));
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
