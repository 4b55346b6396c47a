//! Volume sizes: CSI capacity ranges and ceph-csi's rounding.
//!
//! ceph-csi rounds a request up to whole MiB below 1 GiB and to whole GiB from 1 GiB on
//! (`RoundOffBytes`), and creates 1 GiB when no size is asked for. We do the same, so the same
//! PVC gets the same image size from either driver — except that we respect `limit_bytes`
//! (ceph-csi ignores it): when GiB rounding would pass the limit, MiB rounding is used.

use crate::error::{Error, Result};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// The largest size a volume can have: CSI's sizes are int64, and so are librbd's offsets.
pub const MAX_BYTES: u64 = i64::MAX as u64;

/// What a request asks for when it names no size.
pub const DEFAULT_SIZE: u64 = GIB;

/// ceph-csi's rounding: up to MiB below 1 GiB, up to GiB from there.
pub fn round_up(bytes: u64) -> u64 {
    if bytes < GIB {
        bytes.div_ceil(MIB).saturating_mul(MIB)
    } else {
        bytes.div_ceil(GIB).saturating_mul(GIB)
    }
}

/// A validated `CapacityRange` (0 = unset for both bounds, as in CSI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    pub required: u64,
    pub limit: u64,
}

impl Capacity {
    /// From the request's range; negative bounds are refused, a limit below the requirement
    /// cannot be met.
    pub fn from_csi(range: Option<&csi::v1::CapacityRange>) -> Result<Capacity> {
        let Some(range) = range else {
            return Ok(Capacity::default());
        };
        let bound = |value: i64, field: &str| {
            u64::try_from(value).map_err(|_| {
                Error::invalid(format!("capacity_range.{field}"), "must not be negative")
            })
        };
        let capacity = Capacity {
            required: bound(range.required_bytes, "required_bytes")?,
            limit: bound(range.limit_bytes, "limit_bytes")?,
        };
        if capacity.limit != 0 && capacity.limit < capacity.required {
            return Err(Error::OutOfRange {
                rule: format!(
                    "limit_bytes {} is below required_bytes {}",
                    capacity.limit, capacity.required
                ),
            });
        }
        Ok(capacity)
    }

    /// Size of a new empty volume: the requirement (or 1 GiB) rounded as ceph-csi does,
    /// within the limit.
    pub fn new_volume_size(&self) -> Result<u64> {
        let wanted = match (self.required, self.limit) {
            (0, 0) => DEFAULT_SIZE,
            (0, limit) => DEFAULT_SIZE.min(limit),
            (required, _) => required,
        };
        self.fit(wanted)
    }

    /// Size of a volume restored or cloned from content of `source_size` bytes: at least the
    /// source (a volume cannot be smaller than its content), grown to the requirement.
    pub fn content_volume_size(&self, source_size: u64) -> Result<u64> {
        if self.required != 0 && self.required < source_size {
            return Err(Error::OutOfRange {
                rule: format!(
                    "required_bytes {} is smaller than the source's {source_size} bytes",
                    self.required
                ),
            });
        }
        if self.limit != 0 && self.limit < source_size {
            return Err(Error::OutOfRange {
                rule: format!(
                    "limit_bytes {} is smaller than the source's {source_size} bytes",
                    self.limit
                ),
            });
        }
        if self.required <= source_size {
            return Ok(source_size);
        }
        self.fit(self.required).map(|size| size.max(source_size))
    }

    /// Size for an expansion: the requirement rounded, within the limit.
    pub fn expanded_size(&self) -> Result<u64> {
        self.fit(self.required)
    }

    /// Whether an existing image of `size` bytes answers this range (idempotent CreateVolume).
    pub fn accepts(&self, size: u64) -> std::result::Result<(), String> {
        if size < self.required {
            return Err(format!(
                "has {size} bytes, less than the {} bytes required",
                self.required
            ));
        }
        if self.limit != 0 && size > self.limit {
            return Err(format!(
                "has {size} bytes, more than the limit of {} bytes",
                self.limit
            ));
        }
        Ok(())
    }

    /// `wanted` rounded ceph-csi's way, or to MiB when that passes the limit or [`MAX_BYTES`].
    fn fit(&self, wanted: u64) -> Result<u64> {
        let ceiling = match self.limit {
            0 => MAX_BYTES,
            limit => limit.min(MAX_BYTES),
        };
        let rounded = round_up(wanted);
        if rounded <= ceiling {
            return Ok(rounded);
        }
        let fine = wanted.div_ceil(MIB).saturating_mul(MIB);
        if fine <= ceiling {
            return Ok(fine);
        }
        let rule = if fine > MAX_BYTES {
            format!(
                "{wanted} bytes rounded to whole MiB ({fine}) is past the largest size RBD and CSI can express ({MAX_BYTES} bytes)"
            )
        } else {
            format!(
                "{wanted} bytes rounded to whole MiB ({fine}) exceeds limit_bytes {}",
                self.limit
            )
        };
        Err(Error::OutOfRange { rule })
    }
}

/// Bytes as CSI's int64.
pub fn to_csi(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_follows_ceph_csi() {
        assert_eq!(round_up(1), MIB);
        assert_eq!(round_up(MIB), MIB);
        assert_eq!(round_up(MIB + 1), 2 * MIB);
        assert_eq!(round_up(GIB - 1), GIB);
        assert_eq!(round_up(GIB), GIB);
        assert_eq!(round_up(GIB + 1), 2 * GIB);
        assert_eq!(round_up(10 * GIB), 10 * GIB);
    }

    #[test]
    fn new_volumes_default_to_one_gib_within_the_limit() {
        assert_eq!(Capacity::default().new_volume_size().unwrap(), GIB);
        let limited = Capacity {
            required: 0,
            limit: 100 * MIB,
        };
        assert_eq!(limited.new_volume_size().unwrap(), 100 * MIB);
        let tight = Capacity {
            required: GIB + MIB,
            limit: GIB + 10 * MIB,
        };
        assert_eq!(tight.new_volume_size().unwrap(), GIB + MIB);
        let impossible = Capacity {
            required: GIB + 1,
            limit: GIB + 2,
        };
        assert!(matches!(
            impossible.new_volume_size(),
            Err(Error::OutOfRange { .. })
        ));
    }

    #[test]
    fn content_volumes_are_never_smaller_than_their_source() {
        let c = Capacity {
            required: GIB,
            limit: 0,
        };
        assert!(matches!(
            c.content_volume_size(2 * GIB),
            Err(Error::OutOfRange { .. })
        ));
        assert_eq!(
            Capacity::default().content_volume_size(3 * MIB).unwrap(),
            3 * MIB
        );
        let bigger = Capacity {
            required: 3 * GIB,
            limit: 0,
        };
        assert_eq!(bigger.content_volume_size(GIB).unwrap(), 3 * GIB);
    }

    #[test]
    fn existing_sizes_are_checked_against_both_bounds() {
        let c = Capacity {
            required: GIB,
            limit: 2 * GIB,
        };
        assert!(c.accepts(GIB).is_ok());
        assert!(c.accepts(GIB - 1).is_err());
        assert!(c.accepts(3 * GIB).is_err());
    }

    #[test]
    fn sizes_past_int64_are_out_of_range() {
        let huge = Capacity {
            required: MAX_BYTES,
            limit: 0,
        };
        for size in [
            huge.new_volume_size(),
            huge.expanded_size(),
            huge.content_volume_size(GIB),
        ] {
            match size {
                Err(Error::OutOfRange { rule }) => {
                    assert!(rule.contains(&MAX_BYTES.to_string()), "{rule}")
                }
                other => panic!("{other:?}"),
            }
        }
        // Whole GiB would pass the largest size; whole MiB does not.
        let below = Capacity {
            required: MAX_BYTES - 2 * MIB,
            limit: 0,
        };
        let size = below.new_volume_size().unwrap();
        assert!(size <= MAX_BYTES && size.is_multiple_of(MIB), "{size}");
        // A limit past it changes nothing.
        let limited = Capacity {
            required: MAX_BYTES,
            limit: MAX_BYTES,
        };
        assert!(matches!(
            limited.expanded_size(),
            Err(Error::OutOfRange { .. })
        ));
    }

    #[test]
    fn negative_bounds_are_invalid() {
        let range = csi::v1::CapacityRange {
            required_bytes: -1,
            limit_bytes: 0,
        };
        assert!(matches!(
            Capacity::from_csi(Some(&range)),
            Err(Error::Invalid { .. })
        ));
    }
}
