//! The end of a mgr flatten a restore or clone at the hard clone-depth limit waits for,
//! announced as `sepia.controller.volume.flattened` / `.flatten-failed` so the claim answered
//! ABORTED is retried at once instead of after its backoff. Watched through
//! [`crate::background_watch`]: a flattened image has no parent.

use std::time::Duration;

use events::vocabulary::{component, verb};
use events::{Event, Outcome};

pub use crate::background_watch::Waiter;
use crate::background_watch::{built, ending_event};
use crate::error::{Error, Result};
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::state::State;

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
    ending_event(
        component::CONTROLLER,
        (verb::FLATTENED, verb::FLATTEN_FAILED),
        &format!("flatten/{spec}"),
        driver,
        waiter,
        outcome,
        elapsed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use journal::records::source::ContentSource;

    fn waiter() -> Waiter {
        Waiter {
            request_name: "pvc-1".into(),
            source: Some(ContentSource::Snapshot("0001-snap".into())),
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
