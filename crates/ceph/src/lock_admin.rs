//! Who holds a lock, and taking it from them: what an operator does about a lock whose holder
//! is gone for good (rather than wait for it to expire), and what tests do to stand in for an
//! expiry. Never on a request path: a request does not take another's lock away.

use std::os::raw::{c_char, c_int};
use std::sync::Arc;

use ceph_sys as sys;

use crate::c_text::{c_string, object_name};
use crate::error::Result;
use crate::ioctx::IoCtx;

/// One holder of a lock, as `rados lock info` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The RADOS client entity, e.g. `client.4123`.
    pub client: String,
    pub cookie: String,
    pub address: String,
}

/// First buffer size for the lists; librados says how much it needs when it is too small.
const FIRST_GUESS: usize = 1024;

impl IoCtx {
    /// The current holders of lock `name` on `oid` (expired ones are not listed); NotFound
    /// when the object is missing.
    pub async fn lock_holders(&self, oid: &str, name: &str) -> Result<Vec<LockHolder>> {
        let oid_c = object_name(oid)?;
        let name_c = c_string("lock name", name)?;
        let io = Arc::clone(&self.inner);
        self.object_call("list_lockers", oid)
            .run(move |call| {
                let mut sizes = [FIRST_GUESS; 4];
                loop {
                    let [mut tag_len, mut clients_len, mut cookies_len, mut addrs_len] = sizes;
                    let (mut tag, mut clients, mut cookies, mut addrs) = (
                        vec![0u8; tag_len],
                        vec![0u8; clients_len],
                        vec![0u8; cookies_len],
                        vec![0u8; addrs_len],
                    );
                    let mut exclusive: c_int = 0;
                    // SAFETY: valid ioctx; each buffer is as long as the length passed with
                    // it; librados writes the needed lengths back.
                    let rc = unsafe {
                        sys::rados_list_lockers(
                            io.handle(),
                            oid_c.as_ptr(),
                            name_c.as_ptr(),
                            &mut exclusive,
                            tag.as_mut_ptr().cast::<c_char>(),
                            &mut tag_len,
                            clients.as_mut_ptr().cast::<c_char>(),
                            &mut clients_len,
                            cookies.as_mut_ptr().cast::<c_char>(),
                            &mut cookies_len,
                            addrs.as_mut_ptr().cast::<c_char>(),
                            &mut addrs_len,
                        )
                    };
                    let wanted = [tag_len, clients_len, cookies_len, addrs_len];
                    if rc == -(libc::ERANGE as isize) && wanted != sizes {
                        sizes = wanted.map(|len| len.max(1));
                        continue;
                    }
                    let count = call.check_i64(rc as i64)?;
                    let count = usize::try_from(count).unwrap_or(0);
                    let (clients, cookies, addrs) = (
                        split(&clients, count),
                        split(&cookies, count),
                        split(&addrs, count),
                    );
                    return Ok(clients
                        .into_iter()
                        .zip(cookies)
                        .zip(addrs)
                        .map(|((client, cookie), address)| LockHolder {
                            client,
                            cookie,
                            address,
                        })
                        .collect());
                }
            })
            .await
    }

    /// Removes `holder` from lock `name` on `oid`: its fenced writes fail from then on and its
    /// next renewal finds the lock lost. NotFound when it no longer holds it.
    pub async fn break_lock(&self, oid: &str, name: &str, holder: &LockHolder) -> Result<()> {
        let oid_c = object_name(oid)?;
        let name_c = c_string("lock name", name)?;
        let client_c = c_string("lock holder", &holder.client)?;
        let cookie_c = c_string("lock cookie", &holder.cookie)?;
        let io = Arc::clone(&self.inner);
        self.object_call("break_lock", oid)
            .run(move |call| {
                // SAFETY: valid ioctx; NUL-terminated strings owned by this closure.
                let rc = unsafe {
                    sys::rados_break_lock(
                        io.handle(),
                        oid_c.as_ptr(),
                        name_c.as_ptr(),
                        client_c.as_ptr(),
                        cookie_c.as_ptr(),
                    )
                };
                call.check(rc).map(drop)
            })
            .await
    }
}

impl IoCtx {
    /// Breaks every current holding of lock `name` on `oid`; how many there were.
    pub async fn break_lock_holders(&self, oid: &str, name: &str) -> Result<usize> {
        let holders = self.lock_holders(oid, name).await?;
        for holder in &holders {
            match self.break_lock(oid, name, holder).await {
                // Released or expired meanwhile.
                Err(e) if e.is_not_found() => {}
                other => other?,
            }
        }
        Ok(holders.len())
    }
}

/// The first `count` NUL-terminated strings of `buf`.
fn split(buf: &[u8], count: usize) -> Vec<String> {
    buf.split(|&b| b == 0)
        .take(count)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_nul_separated() {
        assert_eq!(
            split(b"client.1\0client.22\0\0\0", 2),
            ["client.1", "client.22"]
        );
        assert!(split(b"\0\0", 0).is_empty());
    }
}
