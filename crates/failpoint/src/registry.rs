//! The [`Failpoints`] handle: a cheap clone of an optional shared registry.
//!
//! Disarmed handles (`Failpoints::default()`, what production code gets) hold no registry,
//! so a hit is one `Option` check. Armed handles count every hit of every name, configured or
//! not, which is what lets a test prove it iterated real points rather than typos.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::action::{Action, PAUSE_UNTIL_POLL};
use crate::error::{Injected, InvalidSpec};

/// The message logged (at info) when an armed point acts on a hit, with the point's name in
/// field `failpoint`: how a test sees that a child process reached a point.
pub const REACHED: &str = "failpoint reached";

/// Handle to a set of named failpoints; clone it into every component under test.
#[derive(Clone, Default)]
pub struct Failpoints {
    registry: Option<Arc<Registry>>,
}

#[derive(Default)]
struct Registry {
    points: Mutex<HashMap<String, Point>>,
}

/// State of one name. Both fields are watch channels so waiters can subscribe under the lock
/// and then wait without it, with no lost wake-up between "checked" and "waiting".
struct Point {
    action: Action,
    /// Number of hits so far.
    hits: watch::Sender<u64>,
    /// `true` while the point is paused.
    paused: watch::Sender<bool>,
}

impl Default for Point {
    fn default() -> Self {
        Point {
            action: Action::Off,
            hits: watch::Sender::new(0),
            paused: watch::Sender::new(false),
        }
    }
}

/// What a hit must do once the registry lock is released.
enum Outcome {
    Pass,
    Fail,
    Sleep(std::time::Duration),
    Wait(watch::Receiver<bool>),
    WaitForFile(PathBuf, watch::Receiver<bool>),
}

impl Failpoints {
    /// An armed registry with every point `Off` (counting only).
    pub fn new() -> Self {
        Failpoints {
            registry: Some(Arc::default()),
        }
    }

    /// A disarmed handle: hits pass at once and nothing is counted.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Parses `name=action;name=action` (also `,`-separated), e.g.
    /// `journal.volume.reserve.after_uuid_object=fail;controller.create.before_image=delay(2s)`.
    /// An empty string gives an armed registry with nothing configured.
    pub fn from_spec(spec: &str) -> Result<Self, InvalidSpec> {
        let failpoints = Self::new();
        for entry in spec
            .split([';', ','])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (name, action) = entry.split_once('=').ok_or_else(|| InvalidSpec {
                entry: entry.to_owned(),
                rule: "expected name=action",
            })?;
            let name = name.trim();
            if name.is_empty() {
                return Err(InvalidSpec {
                    entry: entry.to_owned(),
                    rule: "the failpoint name must not be empty",
                });
            }
            failpoints.set(name, action.parse()?);
        }
        Ok(failpoints)
    }

    /// Builder form of [`Failpoints::set`].
    pub fn with(self, name: &str, action: Action) -> Self {
        self.set(name, action);
        self
    }

    /// Whether this handle has a registry (false for production's default).
    pub fn is_armed(&self) -> bool {
        self.registry.is_some()
    }

    /// Configures `name`. Replacing a `Pause` releases everything waiting on it. On a disarmed
    /// handle this does nothing: arm with [`Failpoints::new`] first.
    pub fn set(&self, name: &str, action: Action) {
        let Some(registry) = &self.registry else {
            return;
        };
        let mut points = registry.points.lock();
        let point = points.entry(name.to_owned()).or_default();
        point
            .paused
            .send_replace(matches!(action, Action::Pause | Action::PauseUntil(_)));
        point.action = action;
    }

    /// Sets `name` back to `Off`, releasing paused hits.
    pub fn resume(&self, name: &str) {
        self.set(name, Action::Off);
    }

    /// Number of times `name` was reached (0 on a disarmed handle).
    pub fn hits(&self, name: &str) -> u64 {
        let Some(registry) = &self.registry else {
            return 0;
        };
        registry
            .points
            .lock()
            .get(name)
            .map_or(0, |point| *point.hits.borrow())
    }

    /// Waits until `name` has been reached at least `count` times, e.g. to know that a request
    /// is now parked on a `Pause`. Returns at once on a disarmed handle. Callers bound it with
    /// their own timeout.
    pub async fn wait_for_hits(&self, name: &str, count: u64) {
        let Some(registry) = &self.registry else {
            return;
        };
        let mut hits = registry
            .points
            .lock()
            .entry(name.to_owned())
            .or_default()
            .hits
            .subscribe();
        // The sender lives in the registry for as long as `registry`, so this cannot fail.
        let _ = hits.wait_for(|hits| *hits >= count).await;
    }

    /// Marks that execution reached `name` and applies its action.
    ///
    /// `Err(Injected)` means "the process crashed here": propagate it untouched.
    pub async fn hit(&self, name: &'static str) -> Result<(), Injected> {
        let Some(registry) = &self.registry else {
            return Ok(());
        };
        let outcome = registry.record(name);
        if !matches!(outcome, Outcome::Pass) {
            tracing::info!(failpoint = name, "{REACHED}");
        }
        match outcome {
            Outcome::Pass => Ok(()),
            Outcome::Fail => Err(Injected { name }),
            Outcome::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
            Outcome::Wait(mut paused) => {
                // An error means the sender is gone, which only happens with the registry:
                // nothing can hold the pause any more, so pass.
                let _ = paused.wait_for(|paused| !*paused).await;
                Ok(())
            }
            Outcome::WaitForFile(path, mut paused) => {
                while *paused.borrow_and_update() && !path.exists() {
                    // Re-arming the point releases the hold at once, as for `Pause`.
                    let _ = tokio::time::timeout(PAUSE_UNTIL_POLL, paused.changed()).await;
                }
                Ok(())
            }
        }
    }
}

impl Registry {
    fn record(&self, name: &str) -> Outcome {
        let mut points = self.points.lock();
        let point = points.entry(name.to_owned()).or_default();
        point.hits.send_modify(|hits| *hits += 1);
        match &mut point.action {
            Action::Off => Outcome::Pass,
            Action::Fail => Outcome::Fail,
            Action::FailTimes(0) => Outcome::Pass,
            Action::FailTimes(left) => {
                *left -= 1;
                Outcome::Fail
            }
            Action::Delay(duration) => Outcome::Sleep(*duration),
            Action::Pause => Outcome::Wait(point.paused.subscribe()),
            Action::PauseUntil(path) => {
                Outcome::WaitForFile(path.clone(), point.paused.subscribe())
            }
        }
    }
}

impl fmt::Debug for Failpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(registry) = &self.registry else {
            return f.write_str("Failpoints(disarmed)");
        };
        let points = registry.points.lock();
        let mut map = f.debug_map();
        for (name, point) in points.iter() {
            map.entry(name, &(&point.action, *point.hits.borrow()));
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests;
