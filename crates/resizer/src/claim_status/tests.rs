//! The resize as a sequence of statuses, checked field by field as kubelet reads them.

use sidecar::Progress;

use super::*;

const GI: u64 = 1 << 30;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

fn bound_1gi() -> PersistentVolumeClaimStatus {
    PersistentVolumeClaimStatus {
        phase: Some("Bound".into()),
        capacity: Some(BTreeMap::from([(
            STORAGE.to_owned(),
            Quantity("1Gi".into()),
        )])),
        ..Default::default()
    }
}

fn storage(map: &Option<BTreeMap<String, Quantity>>) -> Option<&str> {
    map.as_ref()?.get(STORAGE).map(|q| q.0.as_str())
}

fn resize_status(s: &PersistentVolumeClaimStatus) -> Option<&str> {
    s.allocated_resource_statuses
        .as_ref()?
        .get(STORAGE)
        .map(String::as_str)
}

fn condition_types(s: &PersistentVolumeClaimStatus) -> Vec<&str> {
    s.conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect()
}

#[test]
fn begin_allocates_the_target_and_marks_controller_resize() {
    let mut s = bound_1gi();
    begin(&mut s, 2 * GI, t(10));
    assert_eq!(storage(&s.allocated_resources), Some("2Gi"));
    assert_eq!(resize_status(&s), Some("ControllerResizeInProgress"));
    assert_eq!(condition_types(&s), ["Resizing"]);
    assert_eq!(
        storage(&s.capacity),
        Some("1Gi"),
        "capacity moves only when done"
    );
}

#[test]
fn repeating_a_step_changes_nothing() {
    let mut s = bound_1gi();
    begin(&mut s, 2 * GI, t(10));
    let first = s.clone();
    begin(&mut s, 2 * GI, t(20));
    assert_eq!(s, first, "times must not move on a repeated begin");
    failed(&mut s, Progress::InProgress, "deadline exceeded", t(30));
    let after_fail = s.clone();
    failed(&mut s, Progress::InProgress, "deadline exceeded", t(40));
    assert_eq!(s, after_fail);
}

#[test]
fn done_with_node_step_leaves_capacity_to_kubelet() {
    let mut s = bound_1gi();
    begin(&mut s, 2 * GI, t(10));
    controller_done(&mut s, 2 * GI, true, t(20));
    assert_eq!(resize_status(&s), Some("NodeResizePending"));
    assert_eq!(condition_types(&s), ["FileSystemResizePending"]);
    let cond = &s.conditions.as_ref().unwrap()[0];
    assert_eq!(
        cond.message.as_deref(),
        Some(keys::FS_RESIZE_PENDING_MESSAGE)
    );
    assert_eq!(cond.status, "True");
    assert_eq!(storage(&s.capacity), Some("1Gi"));
    assert_eq!(storage(&s.allocated_resources), Some("2Gi"));
}

#[test]
fn done_without_node_step_reaches_the_new_capacity() {
    let mut s = bound_1gi();
    begin(&mut s, 2 * GI, t(10));
    failed(&mut s, Progress::InProgress, "unavailable", t(15));
    controller_done(&mut s, 2 * GI, false, t(20));
    assert_eq!(storage(&s.capacity), Some("2Gi"));
    assert_eq!(resize_status(&s), None);
    assert!(s.allocated_resource_statuses.is_none());
    assert!(s.conditions.is_none(), "{:?}", s.conditions);
}

#[test]
fn any_final_failure_unlocks_the_target_and_only_a_running_call_keeps_it() {
    for (progress, want) in [
        (Progress::Infeasible, "ControllerResizeInfeasible"),
        (Progress::Final, "ControllerResizeInfeasible"),
        (Progress::InProgress, "ControllerResizeInProgress"),
    ] {
        let mut s = bound_1gi();
        begin(&mut s, 2 * GI, t(10));
        failed(&mut s, progress, "failed", t(20));
        assert_eq!(resize_status(&s), Some(want), "{progress:?}");
        assert_eq!(
            storage(&s.allocated_resources),
            Some("2Gi"),
            "the failed target stays recorded"
        );
        assert!(condition_types(&s).contains(&"ControllerResizeError"));
    }
}

#[test]
fn failures_split_into_infeasible_and_still_running() {
    let mut s = bound_1gi();
    begin(&mut s, 100 * GI, t(10));
    failed(&mut s, Progress::Infeasible, "too big", t(20));
    assert_eq!(resize_status(&s), Some("ControllerResizeInfeasible"));
    assert_eq!(condition_types(&s), ["ControllerResizeError"]);

    let mut s = bound_1gi();
    begin(&mut s, 2 * GI, t(10));
    failed(&mut s, Progress::InProgress, "timed out", t(20));
    assert_eq!(resize_status(&s), Some("ControllerResizeInProgress"));
    assert_eq!(condition_types(&s), ["Resizing", "ControllerResizeError"]);
    let resizing = &s.conditions.as_ref().unwrap()[0];
    assert_eq!(resizing.last_transition_time, Some(Time(t(10))));
}

#[test]
fn a_new_message_updates_the_error_condition_but_not_its_transition_time() {
    let mut s = bound_1gi();
    failed(&mut s, Progress::Infeasible, "first", t(10));
    failed(&mut s, Progress::Infeasible, "second", t(20));
    let c = &s.conditions.as_ref().unwrap()[0];
    assert_eq!(c.message.as_deref(), Some("second"));
    assert_eq!(c.last_transition_time, Some(Time(t(10))));
    assert_eq!(c.last_probe_time, Some(Time(t(20))));
}

#[test]
fn abandon_after_infeasible_clears_everything() {
    let mut s = bound_1gi();
    begin(&mut s, 100 * GI, t(10));
    failed(&mut s, Progress::Infeasible, "too big", t(20));
    abandon(&mut s, GI);
    assert_eq!(storage(&s.allocated_resources), Some("1Gi"));
    assert!(s.allocated_resource_statuses.is_none());
    assert!(s.conditions.is_none());
}

#[test]
fn a_new_resize_after_a_pending_node_step_replaces_the_pending_condition() {
    let mut s = bound_1gi();
    begin(&mut s, 2 * GI, t(10));
    controller_done(&mut s, 2 * GI, true, t(20));
    begin(&mut s, 3 * GI, t(30));
    assert_eq!(condition_types(&s), ["Resizing"]);
    assert_eq!(resize_status(&s), Some("ControllerResizeInProgress"));
    assert_eq!(storage(&s.allocated_resources), Some("3Gi"));
}
