//! What is mounted where, from `/proc/self/mountinfo`.
//!
//! Mount-point checks never `stat` the path itself: on a dead FUSE mount `stat` fails with
//! ENOTCONN (or hangs), while the mount table still answers. Paths are compared after
//! resolving the *parent* directory's symlinks (kubelet's root dir is often a symlink), never
//! the last component, which may be the dead mount.

use std::path::{Component, Path, PathBuf};

use crate::error::NodeError;
use crate::syscall;

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub major: u32,
    pub minor: u32,
    /// Path inside the source file system that is mounted here (`/` for a whole fs; the file
    /// name for a bind of a device node).
    pub root: String,
    pub mount_point: PathBuf,
    /// Per-mount options (`rw`/`ro`, `nosuid`, …).
    pub options: Vec<String>,
    pub fs_type: String,
    pub source: String,
}

impl MountEntry {
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// The current mount table.
pub async fn read() -> Result<Vec<MountEntry>, NodeError> {
    let path = Path::new(MOUNTINFO);
    let text = syscall::blocking("read", path, move || std::fs::read_to_string(MOUNTINFO)).await?;
    Ok(parse(&text))
}

/// Parses mountinfo text; malformed lines are skipped (the kernel does not write any).
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    // id parent major:minor root mount_point options [optional fields...] - fstype source super
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let _id = l.next()?;
    let _parent = l.next()?;
    let (major, minor) = l.next()?.split_once(':')?;
    let root = unescape(l.next()?);
    let mount_point = PathBuf::from(unescape(l.next()?));
    let options = l.next()?.split(',').map(str::to_string).collect();
    let mut r = right.split(' ');
    let fs_type = r.next()?.to_string();
    let source = unescape(r.next()?);
    Some(MountEntry {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root,
        mount_point,
        options,
        fs_type,
        source,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(oct) = bytes.get(i + 1..i + 4)
            && let Some(v) = std::str::from_utf8(oct)
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-most mount at `path`, if `path` is a mount point.
pub fn find<'a>(entries: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    entries.iter().rev().find(|e| e.mount_point == path)
}

/// Whether `path` is a mount point now.
pub async fn is_mount_point(path: &Path) -> Result<bool, NodeError> {
    Ok(mount_at(path).await?.is_some())
}

/// The top-most mount at `path`.
pub async fn mount_at(path: &Path) -> Result<Option<MountEntry>, NodeError> {
    let wanted = resolve(path).await?;
    let entries = read().await?;
    Ok(find(&entries, &wanted).cloned())
}

/// Every mount whose mount point is `dir` or below it (for leak checks and clean-up).
pub fn under<'a>(entries: &'a [MountEntry], dir: &Path) -> Vec<&'a MountEntry> {
    entries
        .iter()
        .filter(|e| e.mount_point.starts_with(dir))
        .collect()
}

/// Absolute, `.`/`..`-free form of `path` with the parent's symlinks resolved, as the kernel
/// writes it in mountinfo.
pub async fn resolve(path: &Path) -> Result<PathBuf, NodeError> {
    let absolute = lexical_absolute(path)?;
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return Ok(absolute);
    };
    let parent_owned = parent.to_path_buf();
    let name = name.to_os_string();
    let canonical = syscall::blocking_raw("resolve", parent, move || {
        std::fs::canonicalize(&parent_owned)
    })
    .await?;
    Ok(match canonical {
        Ok(parent) => parent.join(name),
        // A missing parent cannot hold a mount; the lexical form compares fine.
        Err(_) => absolute,
    })
}

fn lexical_absolute(path: &Path) -> Result<PathBuf, NodeError> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| NodeError::io("current directory for", path, &e))?
            .join(path)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
