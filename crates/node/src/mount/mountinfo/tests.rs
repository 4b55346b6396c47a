use super::*;

const SAMPLE: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
61 29 7:3 / /var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.sepia.io/abc/globalmount/vol-1 rw,relatime shared:300 - ext4 /dev/loop3 rw
62 29 7:3 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pvc-1/mount ro,relatime shared:300 - ext4 /dev/loop3 rw
70 29 0:55 / /var/lib/sepia-node/fuse/vol\\0401 rw,nosuid,nodev,relatime shared:310 - fuse.rbd-fuse rbd-fuse rw,user_id=0,group_id=0
71 29 0:5 /loop4 /staging/vol-2 rw,nosuid shared:2 - devtmpfs udev rw,size=10240k
";

#[test]
fn parses_fields_and_per_mount_options() {
    let entries = parse(SAMPLE);
    assert_eq!(entries.len(), 5);
    let staged = &entries[1];
    assert_eq!((staged.major, staged.minor), (7, 3));
    assert_eq!(staged.fs_type, "ext4");
    assert_eq!(staged.source, "/dev/loop3");
    assert!(!staged.read_only());
    assert!(entries[2].read_only());
}

#[test]
fn octal_escapes_are_decoded() {
    let entries = parse(SAMPLE);
    assert_eq!(
        entries[3].mount_point,
        Path::new("/var/lib/sepia-node/fuse/vol 1")
    );
    assert_eq!(unescape("a\\134b\\011c"), "a\\b\tc");
    // A truncated escape is kept as written, never a panic.
    assert_eq!(unescape("x\\04"), "x\\04");
    assert_eq!(unescape("é\\"), "é\\");
}

#[test]
fn block_bind_mount_shows_the_device_as_root() {
    let entries = parse(SAMPLE);
    let block = find(&entries, Path::new("/staging/vol-2")).unwrap();
    assert_eq!(block.root, "/loop4");
    assert_eq!(block.fs_type, "devtmpfs");
}

#[test]
fn find_and_under_match_whole_paths() {
    let entries = parse(SAMPLE);
    assert!(find(&entries, Path::new("/staging/vol")).is_none());
    assert_eq!(under(&entries, Path::new("/var/lib/sepia-node")).len(), 1);
    assert_eq!(under(&entries, Path::new("/var/lib/kubelet")).len(), 2);
}

#[test]
fn garbage_lines_are_skipped() {
    assert!(parse("not a mountinfo line\n\n1 2 x\n").is_empty());
}

#[tokio::test]
async fn root_is_a_mount_point_and_a_fresh_dir_is_not() {
    assert!(is_mount_point(Path::new("/")).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    assert!(!is_mount_point(dir.path()).await.unwrap());
}

#[tokio::test]
async fn resolve_cleans_relative_and_dotted_paths() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(base.join("a")).unwrap();
    let link = base.join("link");
    std::os::unix::fs::symlink(base.join("a"), &link).unwrap();
    assert_eq!(
        resolve(&link.join("x/../y")).await.unwrap(),
        base.join("a/y")
    );
    assert!(resolve(Path::new("some/path")).await.unwrap().is_absolute());
}
