//! What this node shows of a volume, read where an administrator would look: the mount table
//! (`/proc/self/mountinfo`, what `findmnt` prints), loop devices and their backing files
//! (sysfs, what `losetup -a` prints), rbd-fuse processes (`/proc`), and file system sizes
//! (`statvfs`, and `df -h` itself for the reader).
//!
//! Loop devices are read from sysfs, never by opening the backing file: on a dead rbd-fuse
//! mount that open hangs or fails, and the check for leftovers must still see the device.

use std::path::{Path, PathBuf};

use crate::bounded::{blocking, command};
use crate::error::Result;

const MOUNTINFO: &str = "/proc/self/mountinfo";
const SYS_BLOCK: &str = "/sys/block";

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    /// Path inside the mounted file system (`/` for a whole file system).
    pub root: String,
    pub options: String,
    pub fs_type: String,
    pub source: String,
}

/// A loop device and the file behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub device: String,
    pub backing_file: PathBuf,
}

/// A running rbd-fuse, and the image it serves (its `-r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbdFuse {
    pub pid: u32,
    pub image: String,
    pub mount_point: String,
}

/// The current mount table.
pub async fn mount_table() -> Result<Vec<Mount>> {
    let text = blocking("read /proc/self/mountinfo", || {
        std::fs::read_to_string(MOUNTINFO)
    })
    .await?;
    Ok(parse_mountinfo(&text))
}

/// The mount at exactly `path`, the newest when stacked.
pub fn mount_at<'a>(table: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    table.iter().rev().find(|m| m.mount_point == path)
}

/// Parses mountinfo: `id parent major:minor root mount_point options [optional...] - fstype
/// source super_options`. Lines that do not parse are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut l = left.split(' ').skip(3);
            let root = unescape(l.next()?);
            let mount_point = PathBuf::from(unescape(l.next()?));
            let options = l.next()?.to_owned();
            let mut r = right.split(' ');
            Some(Mount {
                mount_point,
                root,
                options,
                fs_type: r.next()?.to_owned(),
                source: unescape(r.next()?),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|o| std::str::from_utf8(o).ok())
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every attached loop device with its backing file.
pub async fn loop_devices() -> Result<Vec<LoopDevice>> {
    blocking("read loop devices from /sys/block", || {
        let mut devices = Vec::new();
        for entry in std::fs::read_dir(SYS_BLOCK)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            let file = Path::new(SYS_BLOCK).join(&name).join("loop/backing_file");
            match std::fs::read_to_string(&file) {
                Ok(backing) => devices.push(LoopDevice {
                    device: format!("/dev/{name}"),
                    backing_file: PathBuf::from(backing.trim_end_matches('\n')),
                }),
                // Not attached: sysfs has no `loop/` directory for it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        devices.sort_by(|a, b| a.device.cmp(&b.device));
        Ok(devices)
    })
    .await
}

/// Every rbd-fuse process of this machine, with the image it serves.
pub async fn rbd_fuse_processes() -> Result<Vec<RbdFuse>> {
    Ok(command_lines()
        .await?
        .into_iter()
        .filter_map(|(pid, cmdline)| parse_rbd_fuse(pid, &cmdline))
        .collect())
}

/// The ceph-fuse processes whose command line names a path below `root` (their mount
/// point): pid and arguments, space-separated.
pub async fn ceph_fuse_processes(root: &Path) -> Result<Vec<(u32, String)>> {
    let root = root.display().to_string();
    Ok(command_lines()
        .await?
        .into_iter()
        .filter_map(|(pid, cmdline)| {
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let program = Path::new(args.first()?).file_name()?;
            (program == "ceph-fuse" && args.iter().any(|a| a.starts_with(&root)))
                .then(|| (pid, args.join(" ")))
        })
        .collect())
}

/// Every process of this machine with its raw command line, by pid.
async fn command_lines() -> Result<Vec<(u32, Vec<u8>)>> {
    blocking("read processes from /proc", || {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc")? {
            let Some(pid) = entry?.file_name().to_str().and_then(|p| p.parse().ok()) else {
                continue;
            };
            // Gone between the listing and the read, or not ours to read: skipped.
            if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                found.push((pid, cmdline));
            }
        }
        found.sort_by_key(|(pid, _)| *pid);
        Ok(found)
    })
    .await
}

/// An rbd-fuse command line (NUL-separated): its `-r` image and its last argument, the mount
/// point.
pub fn parse_rbd_fuse(pid: u32, cmdline: &[u8]) -> Option<RbdFuse> {
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let program = args.first()?;
    if Path::new(program).file_name()? != "rbd-fuse" {
        return None;
    }
    let image = args
        .iter()
        .position(|a| a == "-r")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    Some(RbdFuse {
        pid,
        image,
        mount_point: args.last().cloned().unwrap_or_default(),
    })
}

/// Total bytes of the file system holding `path` (what `df` calls its size).
pub async fn fs_size(path: &Path) -> Result<u64> {
    let owned = path.to_path_buf();
    blocking(format!("statvfs {}", path.display()), move || {
        let stat = rustix::fs::statvfs(&owned)?;
        Ok(stat.f_blocks.saturating_mul(stat.f_frsize))
    })
    .await
}

/// Whether `path` exists; a dead mount there is an error (ENOTCONN), not an answer.
pub async fn path_exists(path: &Path) -> Result<bool> {
    let owned = path.to_path_buf();
    blocking(
        format!("stat {}", path.display()),
        move || match std::fs::symlink_metadata(&owned) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        },
    )
    .await
}

/// `df -h` of `path`: the header and the file system's line.
pub async fn df(path: &Path) -> Result<String> {
    command(
        "df",
        [
            "-h".as_ref(),
            "--output=source,fstype,size,used,avail,pcent".as_ref(),
            path.as_os_str(),
        ],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_parse_with_escapes_and_optional_fields() {
        let text = "36 25 7:3 / /k/pods/p\\040q/mount rw,relatime shared:1 - xfs /dev/loop3 rw,nouuid\n\
                    37 25 0:52 / /state/fuse/vol rw,nosuid - fuse.rbd-fuse rbd-fuse rw\n\
                    garbage\n";
        let table = parse_mountinfo(text);
        assert_eq!(table.len(), 2);
        assert_eq!(table[0].mount_point, PathBuf::from("/k/pods/p q/mount"));
        assert_eq!(table[0].fs_type, "xfs");
        assert_eq!(table[0].source, "/dev/loop3");
        assert_eq!(table[0].options, "rw,relatime");
        assert_eq!(table[1].fs_type, "fuse.rbd-fuse");
        assert_eq!(
            mount_at(&table, Path::new("/state/fuse/vol")).map(|m| m.source.as_str()),
            Some("rbd-fuse")
        );
        assert!(mount_at(&table, Path::new("/state")).is_none());
    }

    #[test]
    fn rbd_fuse_command_lines_name_their_image_and_mount_point() {
        let cmdline = b"rbd-fuse\0-c\0/dev/null\0-p\0rbd\0-r\0csi-vol-1\0-o\0ro\0/state/fuse/v\0";
        assert_eq!(
            parse_rbd_fuse(7, cmdline),
            Some(RbdFuse {
                pid: 7,
                image: "csi-vol-1".into(),
                mount_point: "/state/fuse/v".into()
            })
        );
        assert_eq!(parse_rbd_fuse(8, b"/usr/bin/rbd\0ls\0"), None);
    }

    #[tokio::test]
    async fn df_and_statvfs_agree_that_the_root_file_system_has_a_size() {
        assert!(fs_size(Path::new("/")).await.unwrap() > 0);
        let out = df(Path::new("/")).await.unwrap();
        assert!(out.lines().count() >= 2, "{out}");
    }
}
