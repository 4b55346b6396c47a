//! The end of a CephFS clone a CreateVolume answered ABORTED for, announced as
//! `sepia.cephfs-controller.volume.cloned` / `.clone-failed`, so the waiting claim is retried at
//! once instead of after its backoff. Watched through `controller::background_watch` (one
//! watcher per subvolume, no request lock held): the mgr's `fs clone status` says when it ends.

use std::time::Duration;

pub use controller::background_watch::Waiter;
use controller::background_watch::{built, ending_event};
use controller::error::Result;
use events::vocabulary::{component, verb};
use events::{Event, EventsError, Outcome};

use crate::driver::Driver;
use crate::fs::Fs;
use crate::mgr::CloneState;
use crate::volume::request::CreateRequest;

/// Who waits on the clone `req` started.
pub fn waiter(req: &CreateRequest) -> Waiter {
    Waiter {
        request_name: req.name.clone(),
        source: req.source.clone(),
        claim_name: req.params.claim_name.clone(),
        claim_namespace: req.params.owner.clone(),
    }
}

/// Watches clone `target` of `fs` (unless this process already does) and announces its end to
/// the request `req`.
pub fn watch(driver: &Driver, req: &CreateRequest, fs: &Fs, target: &str) {
    let state = &driver.state;
    let spec = fs.spec(target);
    let (look_fs, look_target) = (fs.clone(), target.to_owned());
    let name = state.settings.driver_name.clone();
    let waiter = waiter(req);
    state.background.start(
        format!("clone/{spec}"),
        &state.settings,
        move || {
            let (fs, target) = (look_fs.clone(), look_target.clone());
            async move { look(&fs, &target).await }
        },
        move |outcome, elapsed| built(event(&name, &spec, &waiter, outcome, elapsed)),
    );
}

/// `Some` once the clone has ended: complete, failed, canceled or gone.
async fn look(fs: &Fs, target: &str) -> Result<Option<Outcome>> {
    Ok(match fs.clone_status(target).await? {
        Some(CloneState::Pending | CloneState::InProgress) => None,
        Some(CloneState::Complete) => Some(Outcome::ok()),
        Some(CloneState::Failed(why)) => Some(Outcome::error(
            "Internal",
            format!("the mgr could not copy {}: {why}", fs.spec(target)),
        )),
        Some(CloneState::Canceled) => Some(Outcome::error(
            "Aborted",
            format!("the clone {} was canceled", fs.spec(target)),
        )),
        None => Some(Outcome::error(
            "NotFound",
            format!("the clone {} is gone", fs.spec(target)),
        )),
    })
}

/// The announcement of the end of clone `spec`. Pure.
pub fn event(
    driver: &str,
    spec: &str,
    waiter: &Waiter,
    outcome: Outcome,
    elapsed: Duration,
) -> std::result::Result<Event, EventsError> {
    ending_event(
        component::CEPHFS_CONTROLLER,
        (verb::CLONED, verb::CLONE_FAILED),
        &format!("clone/{spec}"),
        driver,
        waiter,
        outcome,
        elapsed,
    )
}

#[cfg(test)]
mod tests {
    use journal::records::source::ContentSource;

    use super::*;

    #[test]
    fn a_finished_clone_names_its_request_claim_and_source() {
        let waiter = Waiter {
            request_name: "pvc-1".into(),
            source: Some(ContentSource::Snapshot("0001-snap".into())),
            claim_name: Some("restored".into()),
            claim_namespace: Some("default".into()),
        };
        let event = event(
            "cephfs.csi.ceph.com",
            "fs/csi/v1",
            &waiter,
            Outcome::ok(),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(
            event.subject().unwrap().as_str(),
            "sepia.cephfs-controller.volume.cloned"
        );
        assert_eq!(event.driver.as_deref(), Some("cephfs.csi.ceph.com"));
        assert_eq!(event.csi.request_name.as_deref(), Some("pvc-1"));
        assert_eq!(event.csi.snapshot_id.as_deref(), Some("0001-snap"));
        let claim = event.kubernetes.unwrap();
        assert_eq!(
            (claim.name.as_str(), claim.namespace.as_deref()),
            ("restored", Some("default"))
        );
        let failed = super::event(
            "d",
            "fs/csi/v1",
            &Waiter::default(),
            Outcome::error("Internal", "no space"),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(failed.verb, "clone-failed");
        assert!(failed.kubernetes.is_none());
    }
}
