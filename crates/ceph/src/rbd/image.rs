//! An open RBD image (`rbd_image_t`) and its simple properties. The handle holds an `Arc` of
//! its I/O context (and so of the cluster): `rbd_close` always runs before `rados_ioctx_destroy`.

use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ceph_sys as sys;

use crate::blocking::{Call, drop_off_executor};
use crate::c_text::{c_string, from_buf};
use crate::error::Result;
use crate::ioctx::{IoCtx, IoCtxInner};
use crate::rbd::features::Features;

/// Owns an `rbd_image_t` and the ioctx it was opened on, released in that order.
pub(crate) struct RawImage {
    handle: sys::rbd_image_t,
    _io: Arc<IoCtxInner>,
}

// SAFETY: librbd serialises access to an image internally (ImageCtx locks); its C API may be
// called on one handle from several threads.
unsafe impl Send for RawImage {}
// SAFETY: as above.
unsafe impl Sync for RawImage {}

impl RawImage {
    /// Closes now and reports librbd's result (Drop would close too, silently).
    fn close(mut self) -> c_int {
        let handle = std::mem::replace(&mut self.handle, ptr::null_mut());
        // SAFETY: open handle, closed exactly once (Drop sees NULL afterwards).
        unsafe { sys::rbd_close(handle) }
    }
}

impl Drop for RawImage {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            // SAFETY: open handle, closed once; the ioctx is still alive (field drops later).
            unsafe { sys::rbd_close(self.handle) };
        }
    }
}

pub(crate) struct ImageInner {
    raw: Option<RawImage>,
    pub io: Arc<IoCtxInner>,
    pub name: String,
}

impl ImageInner {
    pub fn handle(&self) -> sys::rbd_image_t {
        self.raw.as_ref().map_or(ptr::null_mut(), |r| r.handle)
    }
}

impl Drop for ImageInner {
    fn drop(&mut self) {
        // rbd_close flushes and releases the watch and exclusive lock: not on the executor.
        if let Some(raw) = self.raw.take() {
            drop_off_executor(raw);
        }
    }
}

/// An open image. Clones share one handle; the image is closed when the last clone (or
/// in-flight call) drops it, or explicitly with [`Image::close`].
#[derive(Clone)]
pub struct Image {
    pub(crate) inner: Arc<ImageInner>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("name", &self.inner.name)
            .field("pool", &self.inner.io.describe())
            .finish()
    }
}

/// Opens image `name` read-write. Missing -> NotFound.
pub async fn open(io: &IoCtx, name: &str) -> Result<Image> {
    let name_c = c_string("image name", name)?;
    let name = name.to_string();
    let io = Arc::clone(&io.inner);
    image_target_call(&io, "open", &name)
        .run(move |call| {
            let mut handle: sys::rbd_image_t = ptr::null_mut();
            // SAFETY: valid ioctx; out-pointer to a local; NULL snapshot = the head.
            let rc =
                unsafe { sys::rbd_open(io.handle(), name_c.as_ptr(), &mut handle, ptr::null()) };
            call.check(rc)?;
            let raw = RawImage {
                handle,
                _io: Arc::clone(&io),
            };
            Ok(Image {
                inner: Arc::new(ImageInner {
                    raw: Some(raw),
                    io,
                    name,
                }),
            })
        })
        .await
}

/// A call on image `name` in `io`'s pool/namespace, under the op deadline.
pub(crate) fn image_target_call(io: &IoCtxInner, op: &'static str, name: &str) -> Call {
    Call::new(
        op,
        format!("image {name:?} in {}", io.describe()),
        io.cluster.timeouts.op,
    )
}

/// A librbd progress callback that ignores progress. librbd calls the callback it is given
/// without a NULL check, so "no callback" must be this, never NULL.
pub(crate) unsafe extern "C" fn no_progress(_offset: u64, _total: u64, _arg: *mut c_void) -> c_int {
    0
}

impl Image {
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn call(&self, op: &'static str) -> Call {
        image_target_call(&self.inner.io, op, &self.inner.name)
    }

    /// Runs `f` with the raw handle on the blocking pool, keeping the image alive meanwhile.
    pub(crate) async fn with_handle<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(sys::rbd_image_t, &Call) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        self.call(op).run(move |call| f(inner.handle(), call)).await
    }

    /// Closes the image and waits for it, so e.g. its watch is gone when this returns. If other
    /// clones are still alive, only this reference is dropped.
    pub async fn close(self) -> Result<()> {
        let call = self.call("close");
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            return Ok(());
        };
        let Some(raw) = inner.raw.take() else {
            return Ok(());
        };
        call.run(move |call| call.check(raw.close()).map(drop))
            .await
    }

    /// The image id (the part of the RADOS object names after `rbd_data.`).
    pub async fn id(&self) -> Result<String> {
        self.with_handle("get_id", |image, call| {
            let mut buf = vec![0u8; 64];
            loop {
                // SAFETY: open image; buffer of buf.len() bytes.
                let rc = unsafe { sys::rbd_get_id(image, buf.as_mut_ptr().cast(), buf.len()) };
                if rc == -libc::ERANGE && buf.len() < 4096 {
                    buf.resize(buf.len() * 4, 0);
                    continue;
                }
                call.check(rc)?;
                return Ok(from_buf(&buf));
            }
        })
        .await
    }

    pub async fn size(&self) -> Result<u64> {
        self.with_handle("get_size", |image, call| {
            let mut size = 0u64;
            // SAFETY: open image; out-pointer to a local.
            call.check(unsafe { sys::rbd_get_size(image, &mut size) })?;
            Ok(size)
        })
        .await
    }

    pub async fn features(&self) -> Result<Features> {
        self.with_handle("get_features", |image, call| {
            let mut bits = 0u64;
            // SAFETY: open image; out-pointer to a local.
            call.check(unsafe { sys::rbd_get_features(image, &mut bits) })?;
            Ok(Features::from_bits_retain(bits))
        })
        .await
    }

    /// Grows the image. Shrinking is refused by librbd (allow_shrink = false): a CSI resize
    /// never shrinks, and a shrink would destroy data.
    pub async fn resize(&self, size: u64) -> Result<()> {
        self.with_handle("resize", move |image, call| {
            // SAFETY: open image; progress callback that ignores its NULL argument.
            let rc =
                unsafe { sys::rbd_resize2(image, size, false, Some(no_progress), ptr::null_mut()) };
            call.check(rc).map(drop)
        })
        .await
    }

    pub async fn create_timestamp(&self) -> Result<SystemTime> {
        self.with_handle("get_create_timestamp", |image, call| {
            let mut ts = sys::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: open image; out-pointer to a local.
            call.check(unsafe { sys::rbd_get_create_timestamp(image, &mut ts) })?;
            let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
            let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
            Ok(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
        })
        .await
    }

    /// Copies all data from the parent so the image no longer depends on it.
    pub async fn flatten(&self) -> Result<()> {
        self.with_handle("flatten", |image, call| {
            // SAFETY: open image.
            call.check(unsafe { sys::rbd_flatten(image) }).map(drop)
        })
        .await
    }
}
