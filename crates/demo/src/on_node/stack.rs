//! How a published volume sits on this node, top to bottom: the pod's bind mount, the staged
//! file system, the block device under it and, with the fuse mapper, the loop device's
//! backing file and the rbd-fuse process serving the image. Then `df -h` of the pod's path.

use std::path::Path;

use crate::error::{Error, Result};
use crate::on_node::mounted::{df, loop_devices, mount_table, rbd_fuse_processes};
use crate::table::{Table, indent};
use crate::world::Attachment;

/// The layers under `attachment`'s target path; kubelet paths are shown relative to
/// `kubelet_root`. Fails when the target or the staged file system is not mounted.
pub(crate) async fn describe_stack(kubelet_root: &Path, attachment: &Attachment) -> Result<String> {
    let table = mount_table().await?;
    let paths = &attachment.paths;
    let published = table
        .iter()
        .rev()
        .find(|m| m.mount_point == paths.target)
        .ok_or_else(|| {
            Error::on_node(format!(
                "nothing is mounted at the target path {}",
                paths.target.display()
            ))
        })?;
    let staged = table
        .iter()
        .rev()
        .find(|m| m.mount_point.starts_with(&paths.staging) && m.mount_point != paths.staging)
        .ok_or_else(|| {
            Error::on_node(format!(
                "nothing is mounted below the staging path {}",
                paths.staging.display()
            ))
        })?;
    let short = |path: &Path| match path.strip_prefix(kubelet_root) {
        Ok(rest) => format!("<kubelet>/{}", rest.display()),
        Err(_) => path.display().to_string(),
    };
    let mut layers = Table::new(["layer", "what"]);
    layers.row([
        "pod's mount".to_owned(),
        format!(
            "{} on {} type {} ({})",
            published.source,
            short(&published.mount_point),
            published.fs_type,
            published.options
        ),
    ]);
    layers.row([
        "staged".to_owned(),
        format!(
            "{} on {} type {} ({})",
            staged.source,
            short(&staged.mount_point),
            staged.fs_type,
            staged.options
        ),
    ]);
    let device = &staged.source;
    let backing = loop_devices()
        .await?
        .into_iter()
        .find(|l| &l.device == device);
    match backing {
        Some(backing) => {
            layers.row([
                "loop device".to_owned(),
                format!("{device} ← {}", backing.backing_file.display()),
            ]);
            let fuse_dir = backing.backing_file.parent().map(Path::to_path_buf);
            if let Some(fuse) = table
                .iter()
                .find(|m| Some(&m.mount_point) == fuse_dir.as_ref())
            {
                layers.row([
                    "rbd-fuse mount".to_owned(),
                    format!(
                        "{} on {} type {}",
                        fuse.source,
                        fuse.mount_point.display(),
                        fuse.fs_type
                    ),
                ]);
            }
            for process in rbd_fuse_processes()
                .await?
                .into_iter()
                .filter(|p| fuse_dir.as_deref() == Some(Path::new(&p.mount_point)))
            {
                layers.row([
                    "rbd-fuse".to_owned(),
                    format!(
                        "pid {} serves image {} (librbd, cache off)",
                        process.pid, process.image
                    ),
                ]);
            }
        }
        None => layers.row(["block device".to_owned(), device.clone()]),
    }
    Ok(format!(
        "On the node (findmnt, losetup -a, ps; <kubelet> = {}):\n{}df -h of the pod's path:\n{}",
        kubelet_root.display(),
        layers.render("  "),
        indent(&df(&paths.target).await?)
    ))
}
