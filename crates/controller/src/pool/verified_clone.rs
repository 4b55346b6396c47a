//! Clones proven complete before anything relies on them.
//!
//! `rbd_clone` is several RADOS writes: the child's id object, directory entry and header, its
//! parent link, and last (clone v2) its registration as a child of the parent snapshot. A crash,
//! a call abandoned at its deadline whose thread runs on, or a second process at the same step
//! can leave an image that opens but is not yet registered. Removing the parent snapshot then
//! deletes it for good instead of moving it to the trash namespace, and the "clone" reads
//! nothing where the snapshot's data was. So an existing image never counts as the clone on
//! its own: its parent must be exactly the snapshot, and the snapshot must list it as a child.
//! An image that fails the proof is removed and cloned again.
//!
//! Snapshot preparation, restore and PVC clone all make their clones here.

use std::time::Duration;

use ceph::rbd::{self, CreateOptions, Image};
use tracing::warn;

use crate::error::{Error, Result};
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::state::State;

/// A snapshot `image@snap` in `pool`: what a clone is made from.
#[derive(Clone, Copy)]
pub struct Parent<'a> {
    pub pool: &'a Pool,
    pub image: &'a str,
    pub snap: &'a str,
}

impl Parent<'_> {
    /// `pool/namespace/image@snap`, for messages.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.pool.spec(self.image), self.snap)
    }
}

/// One clone step of an operation: the name of the step in errors, and its failpoints.
pub struct CloneStep {
    /// The step in errors, e.g. "clone snapshot".
    pub what: &'static str,
    /// Right before `rbd_clone` (for tests that hold or kill a process there).
    pub before_clone: &'static str,
    /// After `rbd_clone` returned.
    pub after_clone: &'static str,
    /// After a half-made child was removed, before it is cloned again.
    pub after_half_made_removed: &'static str,
}

/// What [`ensure`] left.
pub enum Cloned {
    /// The child is a complete clone of the parent snapshot; here open.
    Proven(Image),
    /// The parent snapshot (or its image) is gone, so nothing can be proven or cloned. A child
    /// that exists was proven before the snapshot went: only removals that prove first take a
    /// source snapshot away. The caller decides whether a missing child is an error.
    ParentGone,
}

/// Makes `child` in `pool` a complete clone of `parent`: proves an existing child, removes one
/// that fails the proof, clones when none is left, and proves the fresh clone.
pub async fn ensure(
    state: &State,
    parent: Parent<'_>,
    pool: &Pool,
    child: &str,
    options: &CreateOptions,
    step: &CloneStep,
) -> Result<Cloned> {
    if image::exists(pool, child).await? {
        match prove(parent, pool, child).await? {
            Proof::Complete(img) => return Ok(Cloned::Proven(img)),
            Proof::ParentGone => return Ok(Cloned::ParentGone),
            Proof::Incomplete(why) => {
                warn!(
                    child = %pool.spec(child),
                    parent = %parent.spec(),
                    why,
                    "not a complete clone: removing it to clone again"
                );
                remove_half_made(pool, child).await?;
                state.failpoint(step.after_half_made_removed).await?;
            }
        }
    }
    state.failpoint(step.before_clone).await?;
    let mut attempts = 0;
    loop {
        match rbd::clone(
            &parent.pool.io,
            parent.image,
            parent.snap,
            &pool.io,
            child,
            options,
        )
        .await
        {
            Ok(()) => break,
            // Made meanwhile (an earlier call of ours that outlived its deadline): proven below.
            Err(e) if e.is_already_exists() => break,
            // Opening the parent can fail "not found" for a moment though its snapshot is
            // there: a flatten of the parent detaches it from its own parent, whose trashed
            // snapshot then goes away while the open still follows the old link. So a parent
            // counts as gone only when it stays gone.
            Err(e) if e.is_not_found() => {
                let Some(pause) = NOT_FOUND_PAUSES.get(attempts) else {
                    return Ok(Cloned::ParentGone);
                };
                warn!(parent = %parent.spec(), child = %pool.spec(child), error = %e,
                    "clone found no parent: looking again");
                tokio::time::sleep(*pause).await;
                attempts += 1;
            }
            Err(e) => return Err(Error::ceph(step.what, parent.spec(), e)),
        }
    }
    state.failpoint(step.after_clone).await?;
    match prove(parent, pool, child).await? {
        Proof::Complete(img) => Ok(Cloned::Proven(img)),
        Proof::ParentGone => Err(Error::Internal {
            what: format!(
                "{} was removed while {} was cloned from it",
                parent.spec(),
                pool.spec(child)
            ),
        }),
        Proof::Incomplete(why) => Err(Error::Internal {
            what: format!(
                "{} is not a complete clone of {} right after cloning: {why}",
                pool.spec(child),
                parent.spec()
            ),
        }),
    }
}

/// Pauses before a clone that found no parent is tried again.
const NOT_FOUND_PAUSES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(600),
];

/// The verdict on an existing child.
enum Proof {
    Complete(Image),
    ParentGone,
    /// Why not (for the log and errors).
    Incomplete(String),
}

/// Whether `child` is a registered clone of `parent`, from both sides: the snapshot lists it
/// and its parent link names exactly that pool, namespace, image and snapshot.
async fn prove(parent: Parent<'_>, pool: &Pool, child: &str) -> Result<Proof> {
    let children = match rbd::children(&parent.pool.io, parent.image, parent.snap).await {
        Ok(children) => children,
        Err(e) if e.is_not_found() => return Ok(Proof::ParentGone),
        Err(e) => return Err(Error::ceph("list the clones of", parent.spec(), e)),
    };
    let listed = children.iter().any(|c| {
        !c.trash
            && c.pool_id == pool.io.pool_id()
            && c.namespace == pool.io.namespace()
            && c.image_name == child
    });
    let Some(img) = image::open(pool, child).await? else {
        return Ok(Proof::Incomplete("it does not open".to_owned()));
    };
    let linked = img
        .parent()
        .await
        .map_err(|e| Error::ceph("get parent", pool.spec(child), e));
    // What disqualifies it, if anything.
    let flaw = match linked {
        Err(e) => Err(e),
        Ok(None) => Ok(Some("it has no parent".to_owned())),
        Ok(Some(p)) => {
            let exact = p.pool_id == parent.pool.io.pool_id()
                && p.namespace == parent.pool.io.namespace()
                && p.image_name == parent.image
                && p.snap_name == parent.snap;
            if !exact {
                Ok(Some(format!(
                    "its parent is {}@{} in pool {} namespace {:?}",
                    p.image_name, p.snap_name, p.pool_name, p.namespace
                )))
            } else if !listed {
                Ok(Some("the snapshot does not list it as a child".to_owned()))
            } else {
                Ok(None)
            }
        }
    };
    match flaw {
        Ok(None) => Ok(Proof::Complete(img)),
        Ok(Some(why)) => {
            image::close(pool, img).await?;
            Ok(Proof::Incomplete(why))
        }
        Err(e) => {
            // The error that matters is the parent lookup's; the close is best effort.
            let _ = image::close(pool, img).await;
            Err(e)
        }
    }
}

/// Removes a child that failed the proof. Nothing else uses it: the name is reserved for this
/// clone by the journal entry.
async fn remove_half_made(pool: &Pool, child: &str) -> Result<()> {
    match rbd::remove(&pool.io, child).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::ceph("remove a half-made clone", pool.spec(child), e)),
    }
}
