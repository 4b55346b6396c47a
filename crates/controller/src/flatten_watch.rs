//! The end of a mgr flatten a restore or clone at the hard clone-depth limit waits for,
//! announced as `sepia.controller.volume.flattened` / `.flatten-failed` so the claim answered
//! ABORTED is retried at once instead of after its backoff. Watched through
//! [`crate::background_watch`]: a flattened image has no parent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events::vocabulary::{component, object, verb};
use events::{Event, KubernetesRef, Outcome};

use crate::background_watch::built;
use crate::cluster::Pool;
use crate::error::{Error, Result};
use crate::image;
use crate::state::State;

/// The Kubernetes kind of the claim a CreateVolume's `csi.storage.k8s.io/pvc/*` parameters name.
const CLAIM: &str = "PersistentVolumeClaim";

/// What waits on a flatten: the CreateVolume that hit the hard limit. Its content source says
/// which volume or snapshot's image is flattened; the rest names the request and its claim.
#[derive(Debug, Clone, Default)]
pub struct Waiter {
    pub request_name: Option<String>,
    /// The CreateVolume's source snapshot (a restore).
    pub snapshot_id: Option<String>,
    /// The CreateVolume's source volume (a clone).
    pub volume_id: Option<String>,
    /// From `csi.storage.k8s.io/pvc/name` and `/pvc/namespace` (`--extra-create-metadata`).
    pub claim_name: Option<String>,
    pub claim_namespace: Option<String>,
}

/// Watches the flatten of image `name` of `pool` (unless this process already does) and
/// announces its end to `waiter`.
pub fn watch(state: &State, pool: &Pool, name: &str, waiter: Waiter) {
    let spec = pool.spec(name);
    let (look_pool, look_name) = (pool.clone(), name.to_owned());
    let driver = state.settings.driver_name.clone();
    let key = format!("flatten/{spec}");
    state.background.start(
        key,
        &state.settings,
        move || {
            let (pool, name) = (look_pool.clone(), look_name.clone());
            async move { look(&pool, &name).await }
        },
        move |outcome, elapsed| built(event(&driver, &spec, &waiter, outcome, elapsed)),
    );
}

/// Whether the flatten of image `name` has ended: `Some(ok)` once it has no parent,
/// `Some(error)` when it is gone.
async fn look(pool: &Pool, name: &str) -> Result<Option<Outcome>> {
    let Some(img) = image::open(pool, name).await? else {
        return Ok(Some(Outcome::error(
            "NotFound",
            format!("image {} is gone; it was not flattened", pool.spec(name)),
        )));
    };
    let parent = img.parent().await;
    image::close(pool, img).await?;
    let parent = parent.map_err(|e| Error::ceph("read parent", pool.spec(name), e))?;
    Ok(parent.is_none().then(Outcome::ok))
}

/// The announcement of the flatten of image `spec` that `waiter` waits on. Pure.
pub fn event(
    driver: &str,
    spec: &str,
    waiter: &Waiter,
    outcome: Outcome,
    elapsed: Duration,
) -> std::result::Result<Event, events::EventsError> {
    let (verb, key) = if outcome.is_ok() {
        // An image is flattened once: the same watch in another process is the same event.
        (verb::FLATTENED, format!("flatten/{spec}"))
    } else {
        (
            verb::FLATTEN_FAILED,
            format!("flatten-failed/{spec}/{}", now_millis()),
        )
    };
    let mut builder = Event::builder(component::CONTROLLER, object::VOLUME, verb)
        .operation_key(key)
        .driver(driver)
        .duration(elapsed)
        .outcome(outcome);
    if let Some(id) = &waiter.volume_id {
        builder = builder.volume_id(id.clone());
    }
    if let Some(id) = &waiter.snapshot_id {
        builder = builder.snapshot_id(id.clone());
    }
    if let Some(name) = &waiter.request_name {
        builder = builder.request_name(name.clone());
    }
    if let Some(name) = &waiter.claim_name {
        builder = builder.kubernetes(KubernetesRef {
            kind: CLAIM.to_owned(),
            namespace: waiter.claim_namespace.clone(),
            name: name.clone(),
            uid: None,
        });
    }
    builder.build()
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter() -> Waiter {
        Waiter {
            request_name: Some("pvc-1".into()),
            snapshot_id: Some("0001-snap".into()),
            volume_id: None,
            claim_name: Some("restored".into()),
            claim_namespace: Some("default".into()),
        }
    }

    #[test]
    fn a_finished_flatten_names_the_waiting_claim_and_its_source() {
        let event = event(
            "rbd.csi.ceph.com",
            "rbd/ns/csi-snap-1",
            &waiter(),
            Outcome::ok(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(
            event.subject().unwrap().as_str(),
            "sepia.controller.volume.flattened"
        );
        assert_eq!(event.driver.as_deref(), Some("rbd.csi.ceph.com"));
        assert_eq!(event.csi.snapshot_id.as_deref(), Some("0001-snap"));
        assert_eq!(event.csi.request_name.as_deref(), Some("pvc-1"));
        let claim = event.kubernetes.unwrap();
        assert_eq!(
            (
                claim.kind.as_str(),
                claim.namespace.as_deref(),
                claim.name.as_str()
            ),
            ("PersistentVolumeClaim", Some("default"), "restored")
        );
    }

    #[test]
    fn the_same_flatten_is_one_event_and_each_failure_its_own() {
        let build = |outcome: Outcome| {
            event("d", "rbd/csi-snap-1", &waiter(), outcome, Duration::ZERO)
                .unwrap()
                .id
        };
        assert_eq!(build(Outcome::ok()), build(Outcome::ok()));
        let failed = event(
            "d",
            "rbd/csi-snap-1",
            &Waiter::default(),
            Outcome::error("NotFound", "gone"),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(failed.verb, "flatten-failed");
        assert!(failed.kubernetes.is_none());
    }
}
