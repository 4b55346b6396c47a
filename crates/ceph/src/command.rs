//! mon and mgr commands: the JSON command interface the `ceph` CLI uses. CephFS subvolumes and
//! `rbd task` (background trash purge, flatten) exist only there.

use std::os::raw::c_char;
use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;
use serde::de::DeserializeOwned;

use crate::blocking::Call;
use crate::c_text::{bytes_from_c, c_string};
use crate::cluster::{Cluster, ClusterInner};
use crate::error::{Error, Result};

/// What a command answered: `data` is the payload (JSON when `"format": "json"` was asked for),
/// `status` the human-readable status line ("" on many successes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub data: Vec<u8>,
    pub status: String,
}

impl CommandOutput {
    /// Parses `data` as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.data).map_err(|e| Error::InvalidResponse {
            op: "command output".to_string(),
            message: format!("not the expected JSON: {e}"),
        })
    }
}

#[derive(Clone, Copy)]
enum Target {
    Mon,
    Mgr,
}

impl Cluster {
    /// Sends a mon command, e.g. `{"prefix": "osd pool ls", "format": "json"}`.
    /// A non-zero return becomes `Error::Command { prefix, errno, status }`.
    pub async fn mon_command(&self, cmd: serde_json::Value) -> Result<CommandOutput> {
        self.command(Target::Mon, cmd).await
    }

    /// Sends a mgr command, e.g. `{"prefix": "fs subvolume ls", "vol_name": "cephfs"}`.
    pub async fn mgr_command(&self, cmd: serde_json::Value) -> Result<CommandOutput> {
        self.command(Target::Mgr, cmd).await
    }

    async fn command(&self, target: Target, cmd: serde_json::Value) -> Result<CommandOutput> {
        let prefix = cmd
            .get("prefix")
            .and_then(|p| p.as_str())
            .ok_or_else(|| {
                Error::invalid("command: must be a JSON object with a string \"prefix\"")
            })?
            .to_string();
        let cmd_c = c_string("command", &cmd.to_string())?;
        let (op, daemon) = match target {
            Target::Mon => ("mon_command", "mon"),
            Target::Mgr => ("mgr_command", "mgr"),
        };
        // Only the prefix is named: other arguments may carry values we must not log.
        let call = self.call(op, format!("{daemon} command {prefix:?}"));
        let inner = Arc::clone(&self.inner);
        call.run(move |call| run_command(&inner, target, &cmd_c, &prefix, call))
            .await
    }
}

/// Frees a buffer librados allocated for a command's output.
struct CephBuffer(*mut c_char);

impl Drop for CephBuffer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by rados_{mon,mgr}_command, freed exactly once here.
            unsafe { sys::rados_buffer_free(self.0) };
        }
    }
}

fn run_command(
    inner: &ClusterInner,
    target: Target,
    cmd: &std::ffi::CStr,
    prefix: &str,
    call: &Call,
) -> Result<CommandOutput> {
    let mut cmds = [cmd.as_ptr()];
    let mut outbuf: *mut c_char = ptr::null_mut();
    let mut outbuf_len = 0usize;
    let mut outs: *mut c_char = ptr::null_mut();
    let mut outs_len = 0usize;
    let command = match target {
        Target::Mon => sys::rados_mon_command,
        Target::Mgr => sys::rados_mgr_command,
    };
    // SAFETY: connected handle (kept alive by the caller's Arc); one NUL-terminated command;
    // no input buffer; out-pointers to locals, whose buffers are freed below.
    let rc = unsafe {
        command(
            inner.handle(),
            cmds.as_mut_ptr(),
            1,
            ptr::null(),
            0,
            &mut outbuf,
            &mut outbuf_len,
            &mut outs,
            &mut outs_len,
        )
    };
    let out_guard = CephBuffer(outbuf);
    let status_guard = CephBuffer(outs);
    // SAFETY: librados set each pointer to NULL or a buffer of the reported length.
    let data = unsafe { bytes_from_c(out_guard.0, outbuf_len) };
    // SAFETY: as above.
    let status = unsafe { bytes_from_c(status_guard.0, outs_len) };
    let status = String::from_utf8_lossy(&status).trim_end().to_string();
    if rc < 0 {
        if rc == -libc::ETIMEDOUT {
            return Err(call.error(libc::ETIMEDOUT));
        }
        return Err(Error::Command {
            prefix: prefix.to_string(),
            errno: -rc,
            status,
        });
    }
    Ok(CommandOutput { data, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_parses_or_reports_invalid_response() {
        let out = CommandOutput {
            data: br#"["rbd","cephfs"]"#.to_vec(),
            status: String::new(),
        };
        let pools: Vec<String> = out.json().expect("valid JSON");
        assert_eq!(pools, ["rbd", "cephfs"]);
        let bad = CommandOutput {
            data: b"not json".to_vec(),
            status: String::new(),
        };
        assert!(matches!(
            bad.json::<Vec<String>>(),
            Err(Error::InvalidResponse { .. })
        ));
    }
}
