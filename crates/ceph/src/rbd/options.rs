//! Image creation options and their translation into librbd's `rbd_image_options_t`.

use std::ffi::CString;
use std::os::raw::c_int;
use std::ptr;

use ceph_sys as sys;

use crate::c_text::c_string;
use crate::error::{Error, Result};
use crate::rbd::features::Features;

/// What `create`/`clone` may set; `None` leaves librbd's (pool/cluster config) default.
#[derive(Default, Clone, Debug)]
pub struct CreateOptions {
    pub features: Option<Features>,
    /// Object size as a power of two (22 = 4 MiB).
    pub order: Option<u32>,
    /// Pool for data objects (an erasure-coded pool, typically); metadata stays in the image pool.
    pub data_pool: Option<String>,
    pub stripe_unit: Option<u64>,
    pub stripe_count: Option<u64>,
}

/// Which call the options are for: clones take `CLONE_FORMAT`, plain creates take `FORMAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Create,
    Clone,
}

/// The options, validated and converted ahead of the blocking call.
#[derive(Debug)]
pub(crate) struct PreparedOptions {
    uints: Vec<(u32, u64)>,
    data_pool: Option<CString>,
}

impl PreparedOptions {
    pub fn new(opts: &CreateOptions, purpose: Purpose) -> Result<PreparedOptions> {
        let mut uints = Vec::new();
        match purpose {
            // Format 2 is what every feature after layering-v1 needs; format 1 is deprecated.
            Purpose::Create => uints.push((sys::RBD_IMAGE_OPTION_FORMAT, 2)),
            // Clone v2: no snapshot protection needed, and a snapshot with clones can be removed
            // (it moves to the trash namespace until the last clone is gone).
            Purpose::Clone => uints.push((sys::RBD_IMAGE_OPTION_CLONE_FORMAT, 2)),
        }
        if let Some(features) = opts.features {
            uints.push((sys::RBD_IMAGE_OPTION_FEATURES, features.bits()));
        }
        if let Some(order) = opts.order {
            if !(12..=25).contains(&order) {
                return Err(Error::invalid(format!(
                    "order: {order} is outside 12..=25 (4 KiB to 32 MiB objects)"
                )));
            }
            uints.push((sys::RBD_IMAGE_OPTION_ORDER, u64::from(order)));
        }
        match (opts.stripe_unit, opts.stripe_count) {
            (Some(unit), Some(count)) => {
                uints.push((sys::RBD_IMAGE_OPTION_STRIPE_UNIT, unit));
                uints.push((sys::RBD_IMAGE_OPTION_STRIPE_COUNT, count));
            }
            (None, None) => {}
            _ => {
                return Err(Error::invalid(
                    "stripe_unit/stripe_count: set both or neither",
                ));
            }
        }
        let data_pool = match &opts.data_pool {
            Some(pool) if pool.is_empty() => {
                return Err(Error::invalid("data_pool: must not be empty when set"));
            }
            Some(pool) => Some(c_string("data_pool", pool)?),
            None => None,
        };
        Ok(PreparedOptions { uints, data_pool })
    }

    /// Builds the librbd options object (on the blocking thread; it is plain memory).
    pub fn build(&self) -> Result<ImageOptions> {
        let opts = ImageOptions::new();
        for (name, value) in &self.uints {
            // SAFETY: live options object.
            let rc = unsafe { sys::rbd_image_options_set_uint64(opts.0, *name as c_int, *value) };
            if rc < 0 {
                return Err(Error::invalid(format!(
                    "image option {name}: refused by librbd"
                )));
            }
        }
        if let Some(pool) = &self.data_pool {
            // SAFETY: live options object; NUL-terminated value copied by librbd.
            let rc = unsafe {
                sys::rbd_image_options_set_string(
                    opts.0,
                    sys::RBD_IMAGE_OPTION_DATA_POOL as c_int,
                    pool.as_ptr(),
                )
            };
            if rc < 0 {
                return Err(Error::invalid("data_pool: refused by librbd"));
            }
        }
        Ok(opts)
    }
}

/// Owns an `rbd_image_options_t`.
pub(crate) struct ImageOptions(pub sys::rbd_image_options_t);

impl ImageOptions {
    fn new() -> ImageOptions {
        let mut opts: sys::rbd_image_options_t = ptr::null_mut();
        // SAFETY: out-pointer to a local; destroyed in Drop.
        unsafe { sys::rbd_image_options_create(&mut opts) };
        ImageOptions(opts)
    }
}

impl Drop for ImageOptions {
    fn drop(&mut self) {
        // SAFETY: created by rbd_image_options_create, destroyed once.
        unsafe { sys::rbd_image_options_destroy(self.0) };
    }
}

// SAFETY: plain heap data with no thread affinity; only moved into a blocking closure.
unsafe impl Send for ImageOptions {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_combinations_name_the_field() {
        let bad_order = CreateOptions {
            order: Some(40),
            ..Default::default()
        };
        let e = PreparedOptions::new(&bad_order, Purpose::Create).expect_err("order 40");
        assert!(e.to_string().contains("order"), "{e}");
        let half_striping = CreateOptions {
            stripe_unit: Some(65536),
            ..Default::default()
        };
        let e = PreparedOptions::new(&half_striping, Purpose::Create).expect_err("half striping");
        assert!(e.to_string().contains("stripe_count"), "{e}");
    }

    #[test]
    fn create_sets_format_two_and_clone_sets_clone_format_two() {
        let opts = CreateOptions {
            features: Some(Features::LAYERING),
            order: Some(22),
            ..Default::default()
        };
        let create = PreparedOptions::new(&opts, Purpose::Create).expect("valid");
        assert!(create.uints.contains(&(sys::RBD_IMAGE_OPTION_FORMAT, 2)));
        assert!(create.uints.contains(&(sys::RBD_IMAGE_OPTION_ORDER, 22)));
        let clone = PreparedOptions::new(&opts, Purpose::Clone).expect("valid");
        assert!(
            clone
                .uints
                .contains(&(sys::RBD_IMAGE_OPTION_CLONE_FORMAT, 2))
        );
        assert!(
            !clone
                .uints
                .iter()
                .any(|(n, _)| *n == sys::RBD_IMAGE_OPTION_FORMAT)
        );
        // The librbd object builds from them.
        assert!(create.build().is_ok());
    }
}
