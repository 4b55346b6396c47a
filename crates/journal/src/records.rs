//! Sepia's own records, kept as `sepia.*` omap keys next to ceph-csi's `csi.*` keys.
//!
//! ceph-csi reads only its `csi.*` keys on the entry objects, so these records are invisible to
//! it and never change how it sees a volume or snapshot. This module owns their byte format
//! (keys, encode/decode) and their reads and writes, so every crate that reads one — the
//! controller, the node plugin, the CLI, the demo — goes through one definition:
//! - [`source`]: `sepia.volume.source` on `csi.volume.<uuid>`, what a volume was made from;
//! - [`snapshot`]: `sepia.snapshot.created` / `sepia.snapshot.size` on `csi.snap.<uuid>`;
//! - [`publication`]: `sepia.publish.<node id>` on `csi.volume.<uuid>`, which node holds it;
//! - [`node_registry`]: the object `sepia.nodes.<instance id>`, which node plugins are alive.
//!
//! Writes to entry objects use [`ceph::IoCtx::omap_set`] / `omap_remove_keys`, which assert
//! the object exists (a late writer never re-creates a deleted entry) and, inside a
//! `ceph::lock_scope`, the scope's locks on the object (a caller that lost its lock cannot
//! write). When to write and under which lock is the caller's decision.

pub mod node_registry;
pub mod publication;
pub mod snapshot;
pub mod source;

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use crate::kind::Kind;
    use crate::layout::Layout;

    #[test]
    fn entry_objects_are_the_journals() {
        let uuid = Uuid::from_u128(0x566a_36f5_0000_4000_8000_0000_0000_0001);
        for kind in [Kind::Volume, Kind::Snapshot] {
            let layout = Layout::new(kind, "default").unwrap();
            assert_eq!(kind.entry_oid(&uuid), layout.entry_oid(&uuid));
        }
        assert_eq!(
            Kind::Snapshot.entry_oid(&uuid),
            "csi.snap.566a36f5-0000-4000-8000-000000000001"
        );
    }
}
