//! The OSD's `lock` object class (cls_lock), encoded by hand so its steps can sit inside a
//! compound write op next to omap and existence steps: librados' `rados_lock_*` calls are
//! single-step ops, while a fenced write needs "this lock is still ours" and "write this" to
//! succeed or fail together.
//!
//! Wire form (Ceph's `cls_lock_ops.h`, unchanged since before Pacific): each input is wrapped
//! in `ENCODE_START(1, 1)` — version byte, compat byte, little-endian u32 payload length — and
//! the payload's strings are a little-endian u32 length plus the bytes, `utime_t` is two u32
//! (seconds, nanoseconds). The OSD answers EINVAL to anything it cannot decode.
//!
//! Behaviour the callers build on (Ceph's `cls_lock.cc`):
//! - a locker is (RADOS client entity, cookie): lock, renew, assert and unlock must come over
//!   the same connection with the same cookie;
//! - locking a missing object creates it (the lock is an xattr `lock.<name>`), so a lock on an
//!   object whose absence matters must carry an existence assertion in the same op;
//! - every call first drops expired lockers, so `assert_locked` fails once our lock expired,
//!   and a renewal with [`Renewal::MustRenew`] fails (ENOENT) once it is gone;
//! - an exclusive-ephemeral lock removes its object when its last locker unlocks.

use std::ffi::CStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// The object class and its methods.
pub(crate) const CLASS: &CStr = c"lock";
pub(crate) const LOCK: &CStr = c"lock";
pub(crate) const UNLOCK: &CStr = c"unlock";
pub(crate) const ASSERT_LOCKED: &CStr = c"assert_locked";

/// Prefix of the xattr holding a lock's state (`lock.<name>`).
pub(crate) const XATTR_PREFIX: &str = "lock.";

/// cls_lock's `ClsLockType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// One holder.
    Exclusive,
    /// Any number of shared holders, no exclusive one.
    Shared,
    /// Exclusive, and the object is removed when the holder unlocks (Ceph Octopus and later).
    ExclusiveEphemeral,
}

impl LockKind {
    fn code(self) -> u8 {
        match self {
            LockKind::Exclusive => 1,
            LockKind::Shared => 2,
            LockKind::ExclusiveEphemeral => 3,
        }
    }
}

/// cls_lock's `LOCK_FLAG_*`: what to do when this locker (entity + cookie) already holds it.
/// (`LOCK_FLAG_MAY_RENEW`, "take or extend", is not used: a renewal must never re-take a lock
/// that was lost meanwhile.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// A new lock: EEXIST when this locker holds it already.
    New,
    /// Extend it; ENOENT when this locker no longer holds it (`LOCK_FLAG_MUST_RENEW`).
    MustRenew,
}

impl Renewal {
    fn flags(self) -> u8 {
        match self {
            Renewal::New => 0,
            Renewal::MustRenew => 2,
        }
    }
}

/// Identity of one holding: lock name, kind, cookie and tag, as `assert_locked` and `unlock`
/// need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub name: String,
    pub kind: LockKind,
    pub cookie: String,
    pub tag: String,
}

impl Holding {
    /// Refuses what the OSD would refuse or misread: an empty name, NULs (the name becomes an
    /// xattr name, a C string), or strings too long for their u32 length.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("lock name: must not be empty"));
        }
        for (field, value) in [
            ("lock name", &self.name),
            ("lock cookie", &self.cookie),
            ("lock tag", &self.tag),
        ] {
            if value.contains('\0') {
                return Err(Error::invalid(format!(
                    "{field}: must not contain NUL bytes"
                )));
            }
            if value.len() > MAX_TEXT {
                return Err(Error::invalid(format!(
                    "{field}: longer than {MAX_TEXT} bytes"
                )));
            }
        }
        Ok(())
    }

    /// The xattr name of this lock's state.
    pub(crate) fn xattr(&self) -> String {
        format!("{XATTR_PREFIX}{}", self.name)
    }
}

/// Longest name, cookie, tag or description we send (far above any real one; keeps every
/// length well inside u32).
const MAX_TEXT: usize = 64 * 1024;

/// Input of `lock.lock`: take or renew `holding` for `duration` (zero = never expires).
pub(crate) fn lock_input(
    holding: &Holding,
    description: &str,
    duration: Duration,
    renewal: Renewal,
) -> Vec<u8> {
    let mut e = Encoder::default();
    e.string(&holding.name);
    e.u8(holding.kind.code());
    e.string(&holding.cookie);
    e.string(&holding.tag);
    e.string(truncated(description));
    e.utime(duration);
    e.u8(renewal.flags());
    e.versioned()
}

/// Input of `lock.unlock`.
pub(crate) fn unlock_input(holding: &Holding) -> Vec<u8> {
    let mut e = Encoder::default();
    e.string(&holding.name);
    e.string(&holding.cookie);
    e.versioned()
}

/// Input of `lock.assert_locked`: fails (EBUSY) unless `holding` is a current locker.
pub(crate) fn assert_input(holding: &Holding) -> Vec<u8> {
    let mut e = Encoder::default();
    e.string(&holding.name);
    e.u8(holding.kind.code());
    e.string(&holding.cookie);
    e.string(&holding.tag);
    e.versioned()
}

/// Descriptions are informational (shown by `rados lock info`); cut, never refused.
fn truncated(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Ceph's little-endian denc for the few types these ops use.
#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        // Lengths are bounded by MAX_TEXT (validated or truncated above).
        self.u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(s.as_bytes());
    }

    /// `utime_t`: whole seconds (saturating) and the nanoseconds.
    fn utime(&mut self, d: Duration) {
        self.u32(u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.u32(d.subsec_nanos());
    }

    /// `ENCODE_START(1, 1)` … `ENCODE_FINISH`.
    fn versioned(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 6);
        out.extend_from_slice(&[1, 1]);
        out.extend_from_slice(
            &u32::try_from(self.0.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(&self.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(kind: LockKind) -> Holding {
        Holding {
            name: "n".into(),
            kind,
            cookie: "ck".into(),
            tag: "".into(),
        }
    }

    #[test]
    fn lock_input_is_cls_lock_lock_op() {
        let bytes = lock_input(
            &holding(LockKind::Shared),
            "d",
            Duration::new(30, 500_000_000),
            Renewal::MustRenew,
        );
        let payload: Vec<u8> = [
            &[1, 0, 0, 0, b'n'][..],       // name
            &[2],                          // LOCK_SHARED
            &[2, 0, 0, 0, b'c', b'k'],     // cookie
            &[0, 0, 0, 0],                 // tag
            &[1, 0, 0, 0, b'd'],           // description
            &[30, 0, 0, 0],                // duration: seconds
            &500_000_000u32.to_le_bytes(), // nanoseconds
            &[2],                          // LOCK_FLAG_MUST_RENEW
        ]
        .concat();
        let mut expected = vec![1, 1];
        expected.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        expected.extend_from_slice(&payload);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn unlock_and_assert_inputs_are_framed() {
        assert_eq!(
            unlock_input(&holding(LockKind::Exclusive)),
            [1, 1, 11, 0, 0, 0, 1, 0, 0, 0, b'n', 2, 0, 0, 0, b'c', b'k']
        );
        assert_eq!(
            assert_input(&holding(LockKind::ExclusiveEphemeral)),
            [
                1, 1, 16, 0, 0, 0, 1, 0, 0, 0, b'n', 3, 2, 0, 0, 0, b'c', b'k', 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn flags_and_kinds_match_cls_lock() {
        assert_eq!(Renewal::New.flags(), 0);
        assert_eq!(Renewal::MustRenew.flags(), 2);
        assert_eq!(LockKind::Exclusive.code(), 1);
        assert_eq!(LockKind::Shared.code(), 2);
        assert_eq!(LockKind::ExclusiveEphemeral.code(), 3);
    }

    #[test]
    fn names_the_osd_cannot_store_are_refused() {
        let mut h = holding(LockKind::Exclusive);
        h.name = String::new();
        assert!(h.validate().is_err());
        h.name = "a\0b".into();
        assert!(h.validate().unwrap_err().to_string().contains("lock name"));
        h.name = "ok".into();
        h.cookie = "x".repeat(MAX_TEXT + 1);
        assert!(h.validate().unwrap_err().to_string().contains("cookie"));
        assert_eq!(holding(LockKind::Shared).xattr(), "lock.n");
    }
}
