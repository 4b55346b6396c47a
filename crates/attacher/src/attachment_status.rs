//! The VolumeAttachment status kubelet waits on: `attached` + `attachmentMetadata` (handed to
//! NodeStage as the publish context), and `attachError` / `detachError` with time, message and
//! the gRPC code (`errorCode`, which kubelet reads to react to RESOURCE_EXHAUSTED). Pure and
//! idempotent: an unchanged error keeps its time, so a retry writes nothing new.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::storage::v1::{VolumeAttachmentStatus, VolumeError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Published: attached with the driver's publish context; any attach error is cleared.
pub fn attached(status: &mut VolumeAttachmentStatus, publish_context: HashMap<String, String>) {
    status.attached = true;
    status.attachment_metadata = if publish_context.is_empty() {
        None
    } else {
        Some(publish_context.into_iter().collect::<BTreeMap<_, _>>())
    };
    status.attach_error = None;
}

/// `code` is the gRPC code (`None` when no call was made).
pub fn attach_failed(
    status: &mut VolumeAttachmentStatus,
    message: &str,
    code: Option<i32>,
    now: Timestamp,
) {
    set_error(&mut status.attach_error, message, code, now);
}

pub fn detach_failed(
    status: &mut VolumeAttachmentStatus,
    message: &str,
    code: Option<i32>,
    now: Timestamp,
) {
    set_error(&mut status.detach_error, message, code, now);
}

/// Unpublished: no longer attached, nothing to report.
pub fn detached(status: &mut VolumeAttachmentStatus) {
    status.attached = false;
    status.attachment_metadata = None;
    status.detach_error = None;
}

fn set_error(slot: &mut Option<VolumeError>, message: &str, code: Option<i32>, now: Timestamp) {
    if let Some(existing) = slot
        && existing.message.as_deref() == Some(message)
        && existing.error_code == code
    {
        return;
    }
    *slot = Some(VolumeError {
        message: Some(message.to_owned()),
        error_code: code,
        time: Some(Time(now)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn attach_sets_metadata_and_clears_the_error() {
        let mut s = VolumeAttachmentStatus::default();
        attach_failed(&mut s, "no node", None, t(1));
        attached(&mut s, HashMap::from([("k".to_owned(), "v".to_owned())]));
        assert!(s.attached);
        assert_eq!(s.attachment_metadata.unwrap()["k"], "v");
        assert!(s.attach_error.is_none());
    }

    #[test]
    fn a_repeated_error_keeps_its_time_and_a_new_one_replaces_it() {
        let mut s = VolumeAttachmentStatus::default();
        attach_failed(&mut s, "busy", Some(9), t(1));
        attach_failed(&mut s, "busy", Some(9), t(2));
        let e = s.attach_error.clone().unwrap();
        assert_eq!((e.time, e.error_code), (Some(Time(t(1))), Some(9)));
        attach_failed(&mut s, "other", Some(13), t(3));
        let e = s.attach_error.unwrap();
        assert_eq!(e.message.as_deref(), Some("other"));
        assert_eq!(e.time, Some(Time(t(3))));
    }

    #[test]
    fn detach_errors_do_not_touch_attached_and_detach_clears_all() {
        let mut s = VolumeAttachmentStatus::default();
        attached(&mut s, HashMap::new());
        detach_failed(&mut s, "unreachable", Some(14), t(1));
        assert!(s.attached);
        assert_eq!(s.detach_error.as_ref().unwrap().error_code, Some(14));
        detached(&mut s);
        assert!(!s.attached && s.detach_error.is_none() && s.attachment_metadata.is_none());
    }
}
