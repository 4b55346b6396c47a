//! The librados configuration Sepia connects with, built only from [`Credentials`] and
//! [`Timeouts`]. Nothing comes from a ceph.conf, `CEPH_CONF`, `CEPH_ARGS` or a keyring file:
//! the handle is made with `rados_create2` and never given `rados_conf_read_file` or
//! `rados_conf_parse_env`, and the options below switch off every default that would read or
//! write a file (keyring search path, log file, admin socket) or wait without bound.

use std::os::raw::c_char;

use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::timeouts::{Timeouts, whole_seconds};

/// One `rados_conf_set` pair. Values are NUL-terminated and wiped on drop (one of them is the key).
pub(crate) struct ConfOption {
    pub name: &'static str,
    name_c: Vec<u8>,
    value_c: Zeroizing<Vec<u8>>,
}

impl ConfOption {
    fn new(name: &'static str, value: &str) -> Result<ConfOption> {
        if value.as_bytes().contains(&0) {
            return Err(Error::invalid(format!(
                "{name}: must not contain NUL bytes"
            )));
        }
        let mut value_c = Zeroizing::new(Vec::with_capacity(value.len() + 1));
        value_c.extend_from_slice(value.as_bytes());
        value_c.push(0);
        let mut name_c = name.as_bytes().to_vec();
        name_c.push(0);
        Ok(ConfOption {
            name,
            name_c,
            value_c,
        })
    }

    pub fn name_ptr(&self) -> *const c_char {
        self.name_c.as_ptr().cast()
    }

    pub fn value_ptr(&self) -> *const c_char {
        self.value_c.as_ptr().cast()
    }
}

/// The options, in the order they are applied.
pub(crate) fn connect_options(creds: &Credentials, timeouts: &Timeouts) -> Result<Vec<ConfOption>> {
    let mount = whole_seconds(timeouts.connect).to_string();
    let op = whole_seconds(timeouts.op).to_string();
    let pairs: [(&'static str, &str); 26] = [
        ("mon_host", creds.monitors.trim()),
        // An empty keyring path means "no keyring file": the key below is the only credential.
        ("keyring", ""),
        ("keyfile", ""),
        ("key", creds.key()),
        ("auth_cluster_required", "cephx"),
        ("auth_service_required", "cephx"),
        ("auth_client_required", "cephx"),
        ("client_mount_timeout", &mount),
        // No librados timeout for mon and mgr commands: in Pacific, a mgr command that times
        // out inside librados and is answered later writes into freed memory (seen as SIGSEGV in
        // MgrClient::handle_command_reply under slow `fs subvolume` calls). Our own deadline
        // answers the caller; the blocking thread returns when the command does.
        ("rados_mon_op_timeout", "0"),
        ("rados_osd_op_timeout", &op),
        // Logging: librados must write nothing anywhere (a decode failure would log key text).
        ("log_to_stderr", "false"),
        ("err_to_stderr", "false"),
        ("log_to_syslog", "false"),
        ("err_to_syslog", "false"),
        ("log_to_file", "false"),
        ("log_file", ""),
        // No admin socket file per client handle.
        ("admin_socket", ""),
        // Memory: the controller only does metadata operations, so an RBD cache per open image
        // is pure overhead.
        ("rbd_cache", "false"),
        // The in-memory ring of recent log entries (10000 by default) and the gather levels that
        // fill it are the largest per-handle allocation after the messenger; nothing reads them
        // since nothing is logged anywhere.
        ("log_max_recent", "100"),
        ("debug_ms", "0/0"),
        ("debug_monc", "0/0"),
        ("debug_objecter", "0/0"),
        ("debug_rados", "0/0"),
        ("debug_rbd", "0/0"),
        ("debug_auth", "0/0"),
        ("debug_client", "0/0"),
    ];
    pairs
        .into_iter()
        .map(|(name, value)| ConfOption::new(name, value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_carry_timeouts_and_no_file_paths() {
        let creds = Credentials::new(
            "127.0.0.1:6789",
            "admin",
            "AQBQm1xmAAAAABAAVbKvOpJ0+Vn3rc9tHdqZgA==",
        );
        let t = Timeouts {
            connect: std::time::Duration::from_millis(2500),
            op: std::time::Duration::from_secs(7),
        };
        let opts = connect_options(&creds, &t).expect("valid");
        let get = |n: &str| {
            opts.iter()
                .find(|o| o.name == n)
                .map(|o| String::from_utf8_lossy(&o.value_c[..o.value_c.len() - 1]).into_owned())
        };
        assert_eq!(get("client_mount_timeout").as_deref(), Some("3"));
        assert_eq!(get("rados_osd_op_timeout").as_deref(), Some("7"));
        assert_eq!(get("rados_mon_op_timeout").as_deref(), Some("0"));
        assert_eq!(get("keyring").as_deref(), Some(""));
        assert_eq!(get("log_file").as_deref(), Some(""));
        assert_eq!(get("mon_host").as_deref(), Some("127.0.0.1:6789"));
        assert_eq!(get("rbd_cache").as_deref(), Some("false"));
        assert_eq!(get("log_max_recent").as_deref(), Some("100"));
        for subsys in ["ms", "monc", "objecter", "rados", "rbd", "auth", "client"] {
            assert_eq!(
                get(&format!("debug_{subsys}")).as_deref(),
                Some("0/0"),
                "debug_{subsys}"
            );
        }
    }
}
