//! One measurement in flight per volume for NodeGetVolumeStats, and what a measurement is
//! ([`VolumeStats`]): the gate keeps each volume's last one, so the type lives here, below
//! `operation::stats` (which measures) and the driver (which holds the gate).
//!
//! `statvfs`, and the `stat` of an rbd-fuse image file behind a loop device, block in the
//! kernel when the mount's daemon or device is dead or stopped, and a blocked thread cannot be
//! taken back: the request gives up at its deadline, the thread stays. kubelet asks for stats
//! every period, so without a limit each period would leave one more thread in the kernel,
//! until the blocking pool is exhausted and every stage and unstage on the node waits behind
//! them. So a volume whose measurement has not come back is not measured again: the call
//! answers at once from the last measurement that did, marked abnormal, saying since when the
//! measurement hangs. The slot is held by the measurement itself ([`Ticket`], moved onto the
//! blocking thread), so it frees when the kernel lets go, not when the request gives up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;

/// One quantity of a volume (bytes or inodes), as statvfs or a device size tells it; the
/// CephFS node plugin reports the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub total: u64,
    pub available: u64,
    pub used: u64,
}

/// One measurement of a volume, as NodeGetVolumeStats answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeStats {
    /// Bytes; for a block volume only `total` is known (no file system to ask).
    pub bytes: Option<Usage>,
    pub inodes: Option<Usage>,
    /// `Some(message)` when the volume is not healthy.
    pub abnormal: Option<String>,
}

impl VolumeStats {
    pub(crate) fn abnormal(message: String) -> Self {
        Self {
            abnormal: Some(message),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct StatsGate {
    volumes: Arc<Mutex<HashMap<String, Slot>>>,
}

#[derive(Debug, Default)]
struct Slot {
    /// When the measurement now in the kernel started.
    in_flight: Option<SystemTime>,
    /// The last measurement that came back.
    last: Option<VolumeStats>,
    /// Bumped when the volume is unstaged, so a measurement of the old mount that returns
    /// later is not kept as the new one's.
    epoch: u64,
}

/// What a stats call may do.
#[derive(Debug)]
pub enum Admission {
    /// Measure, holding the ticket until the measurement returns.
    Measure(Ticket),
    /// A measurement is still in the kernel.
    Busy(Hung),
}

/// A measurement that has not come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hung {
    pub since: SystemTime,
    /// The last measurement that did come back, if any.
    pub last: Option<VolumeStats>,
}

impl Hung {
    /// The answer for a call that cannot measure: the last usage, abnormal.
    pub fn answer(self, path: &Path) -> VolumeStats {
        VolumeStats {
            abnormal: Some(format!(
                "{} does not answer: the stat of it has hung in the kernel since {} (mount's \
                 daemon or device stopped?); usage is the last one measured",
                path.display(),
                humantime::format_rfc3339_seconds(self.since)
            )),
            ..self.last.unwrap_or_default()
        }
    }
}

/// The right to measure one volume; frees the volume's slot when dropped.
#[derive(Debug)]
pub struct Ticket {
    volumes: Arc<Mutex<HashMap<String, Slot>>>,
    volume_id: String,
    since: SystemTime,
    epoch: u64,
}

impl StatsGate {
    pub fn admit(&self, volume_id: &str) -> Admission {
        let mut volumes = self.volumes.lock();
        let slot = volumes.entry(volume_id.to_string()).or_default();
        if let Some(since) = slot.in_flight {
            return Admission::Busy(Hung {
                since,
                last: slot.last.clone(),
            });
        }
        let since = SystemTime::now();
        slot.in_flight = Some(since);
        Admission::Measure(Ticket {
            volumes: self.volumes.clone(),
            volume_id: volume_id.to_string(),
            since,
            epoch: slot.epoch,
        })
    }

    /// The last measurement of `volume_id` that came back.
    pub fn last(&self, volume_id: &str) -> Option<VolumeStats> {
        self.volumes
            .lock()
            .get(volume_id)
            .and_then(|slot| slot.last.clone())
    }

    /// Measurements in the kernel now, over all volumes: at most one per volume. Exposed so
    /// tests (and a reader of the plugin's state) can see that hung stats do not pile up.
    pub fn in_flight(&self) -> usize {
        self.volumes
            .lock()
            .values()
            .filter(|slot| slot.in_flight.is_some())
            .count()
    }

    /// The volume was unstaged: its measurements describe nothing any more. One still in the
    /// kernel keeps the slot (its thread is still there) but will not be kept as the last.
    pub fn forget(&self, volume_id: &str) {
        let mut volumes = self.volumes.lock();
        if let Some(slot) = volumes.get_mut(volume_id) {
            if slot.in_flight.is_none() {
                volumes.remove(volume_id);
            } else {
                slot.last = None;
                slot.epoch += 1;
            }
        }
    }
}

impl Ticket {
    /// When this measurement started.
    pub fn since(&self) -> SystemTime {
        self.since
    }

    /// Keeps `stats` as the volume's last measurement.
    pub fn record(&self, stats: &VolumeStats) {
        if let Some(slot) = self.volumes.lock().get_mut(&self.volume_id)
            && slot.epoch == self.epoch
        {
            slot.last = Some(stats.clone());
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut volumes = self.volumes.lock();
        if let Some(slot) = volumes.get_mut(&self.volume_id) {
            slot.in_flight = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(total: u64) -> VolumeStats {
        VolumeStats {
            bytes: Some(Usage {
                total,
                available: total / 2,
                used: total / 2,
            }),
            inodes: None,
            abnormal: None,
        }
    }

    fn measure(gate: &StatsGate, volume_id: &str) -> Ticket {
        match gate.admit(volume_id) {
            Admission::Measure(ticket) => ticket,
            Admission::Busy(hung) => panic!("{volume_id} is busy: {hung:?}"),
        }
    }

    fn busy(gate: &StatsGate, volume_id: &str) -> Hung {
        match gate.admit(volume_id) {
            Admission::Busy(hung) => hung,
            Admission::Measure(_) => panic!("a second measurement of {volume_id}"),
        }
    }

    #[test]
    fn one_measurement_per_volume_and_the_last_one_answers_meanwhile() {
        let gate = StatsGate::default();
        let first = measure(&gate, "v1");
        first.record(&measured(100));
        drop(first);
        assert_eq!(gate.in_flight(), 0);
        let stuck = measure(&gate, "v1");
        // While `stuck` is in the kernel, every call answers from the last measurement,
        // with the time `stuck` started.
        for _ in 0..3 {
            assert_eq!(
                busy(&gate, "v1"),
                Hung {
                    since: stuck.since(),
                    last: Some(measured(100))
                }
            );
        }
        assert_eq!(gate.in_flight(), 1);
        // Other volumes are measured as usual.
        let other = measure(&gate, "v2");
        assert_eq!(gate.in_flight(), 2);
        drop(other);
        drop(stuck);
        assert_eq!(gate.in_flight(), 0);
        drop(measure(&gate, "v1"));
    }

    #[test]
    fn the_answer_while_hung_is_the_last_usage_marked_abnormal_with_the_time() {
        let since = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let answer = Hung {
            since,
            last: Some(measured(100)),
        }
        .answer(Path::new("/var/lib/kubelet/pods/p/volumes/v"));
        assert_eq!(answer.bytes, measured(100).bytes);
        let why = answer.abnormal.unwrap();
        assert!(
            why.starts_with("/var/lib/kubelet/pods/p/volumes/v does not answer"),
            "{why}"
        );
        assert!(why.contains("since 2027-01-15T08:00:00Z"), "{why}");
        // Nothing measured yet: no usage, still abnormal.
        let answer = Hung { since, last: None }.answer(Path::new("/p"));
        assert_eq!((answer.bytes, answer.inodes), (None, None));
        assert!(answer.abnormal.is_some());
    }

    #[test]
    fn forgetting_a_volume_drops_its_last_measurement_even_while_one_is_in_flight() {
        let gate = StatsGate::default();
        let ticket = measure(&gate, "v1");
        ticket.record(&measured(100));
        gate.forget("v1");
        assert_eq!(gate.last("v1"), None);
        assert_eq!(busy(&gate, "v1").last, None);
        // The measurement of the unstaged mount comes back late: not kept.
        ticket.record(&measured(200));
        assert_eq!(gate.last("v1"), None);
        drop(ticket);
        let again = measure(&gate, "v1");
        again.record(&measured(300));
        drop(again);
        assert_eq!(gate.last("v1"), Some(measured(300)));
        gate.forget("v1");
        assert_eq!(gate.last("v1"), None);
        assert_eq!(gate.in_flight(), 0);
    }
}
