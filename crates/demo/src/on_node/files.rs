//! The files the story writes into a mounted volume and reads back, as a pod would.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::bounded::blocking;
use crate::error::Result;

/// Written before the snapshot: a restore of the snapshot must hold it.
pub const BEFORE_SNAPSHOT: (&str, &str) = (
    "before-snapshot.txt",
    "written into PVC demo/data before VolumeSnapshot demo/data-snap was taken\n",
);
/// Written after the snapshot: a restore of the snapshot must not hold it.
pub const AFTER_SNAPSHOT: (&str, &str) = (
    "after-snapshot.txt",
    "written into PVC demo/data after VolumeSnapshot demo/data-snap was taken\n",
);

/// Writes `text` to `dir/name` and makes it durable: the file and its directory are fsync'd,
/// so the data and the directory entry are in Ceph before this returns.
pub async fn write_durably(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    let dir = dir.to_path_buf();
    let text = text.to_owned();
    blocking(format!("write {}", path.display()), move || {
        let mut file = std::fs::File::create(&path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::File::open(&dir)?.sync_all()
    })
    .await
}

/// The content of `dir/name`, `None` when there is no such file.
pub async fn read_text(dir: &Path, name: &str) -> Result<Option<String>> {
    let path = dir.join(name);
    blocking(
        format!("read {}", path.display()),
        move || match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
    )
    .await
}

/// `ls -l`-like lines of `dir`: size and name of each entry, sorted by name.
pub async fn listing(dir: &Path) -> Result<Vec<String>> {
    let owned: PathBuf = dir.to_path_buf();
    blocking(format!("list {}", dir.display()), move || {
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(&owned)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            lines.push((entry.file_name().to_string_lossy().into_owned(), meta.len()));
        }
        lines.sort();
        Ok(lines
            .into_iter()
            .map(|(name, len)| format!("{len:>6} bytes  {name}"))
            .collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn written_files_read_back_and_absent_ones_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let (name, text) = BEFORE_SNAPSHOT;
        write_durably(dir.path(), name, text).await.unwrap();
        assert_eq!(
            read_text(dir.path(), name).await.unwrap().as_deref(),
            Some(text)
        );
        assert_eq!(read_text(dir.path(), AFTER_SNAPSHOT.0).await.unwrap(), None);
        let listed = listing(dir.path()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].ends_with(name), "{listed:?}");
    }
}
