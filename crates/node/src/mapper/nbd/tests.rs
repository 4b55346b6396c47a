//! The rbd-nbd sequences against a fake `rbd-nbd` (the nbd module is not available where the
//! tests run): a script that records each command line and answers the way rbd-nbd does,
//! from files beside it. The fake is for the order and form of the calls only.

use std::path::PathBuf;

use super::*;
use crate::mapper_kind::MapperChoice;
use crate::secret::Secret;
use crate::settings::Deadlines;

const VOLUME: &str = "0001-0009-rook-ceph-0000000000000002-b0a3d8f4-8f5e-11ee-9d6b-0242ac120002";
const KEY: &str = "AQBfakekeyfortests==";

/// `rbd-nbd` as a shell script. `calls` gets one line per invocation; `mapped.json` is what
/// list-mapped prints; `attach` puts the device it attached there, `unmap` empties it. Files
/// that change its answers: `no-cookie-support` (the kernel keeps no cookies), `attach-fails`,
/// `map-fails`; `map-hangs` makes a map hang until it is killed, leaving a "daemon" that maps
/// /dev/nbd7 as list-mapped is asked the number of times `map-hangs` holds (never when
/// empty), with the cookie in `late-cookie` if there is one, else the map's.
const FAKE: &str = r#"#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$*" >> "$dir/calls"
command=$1
shift
entry() { # pool/[namespace/]image device cookie
    IFS=/
    set -- $1 "$2" "$3"
    if [ $# -eq 5 ]; then pool=$1 ns=$2 image=$3; shift 3; else pool=$1 ns= image=$2; shift 2; fi
    printf '[{"id":4242,"pool":"%s","namespace":"%s","image":"%s","snap":"-","device":"%s","cookie":"%s"}]\n' \
        "$pool" "$ns" "$image" "$1" "$2"
}
case "$command" in
list-mapped)
    if [ -s "$dir/late-countdown" ]; then
        left=$(($(cat "$dir/late-countdown") - 1))
        if [ "$left" -eq 0 ]; then
            mv "$dir/late-entry" "$dir/mapped.json"
            rm "$dir/late-countdown"
        else
            echo "$left" > "$dir/late-countdown"
        fi
    fi
    cat "$dir/mapped.json" 2>/dev/null
    exit 0
    ;;
map)
    spec=$1 cookie=
    for arg; do
        case "$arg" in --cookie=*) cookie=${arg#--cookie=} ;; esac
    done
    if [ -e "$dir/map-fails" ]; then
        echo "rbd-nbd: failed to map: (13) Permission denied" >&2
        exit 13
    fi
    if [ -e "$dir/map-hangs" ]; then
        [ -e "$dir/late-cookie" ] && cookie=$(cat "$dir/late-cookie")
        entry "$spec" /dev/nbd7 "$cookie" > "$dir/late-entry"
        cp "$dir/map-hangs" "$dir/late-countdown"
        exec sleep 600
    fi
    entry "$spec" /dev/nbd7 "$cookie" > "$dir/mapped.json"
    echo /dev/nbd7
    ;;
unmap)
    echo '[]' > "$dir/mapped.json"
    ;;
attach)
    device= spec= cookie= keyfile=
    while [ $# -gt 0 ]; do
        case "$1" in
        --device) device=$2; shift ;;
        --keyfile) keyfile=$2; shift ;;
        -c|--id|-m) shift ;;
        --cookie=*) cookie=${1#--cookie=} ;;
        -*) ;;
        *) spec=$1 ;;
        esac
        shift
    done
    if [ -n "$cookie" ] && [ -e "$dir/no-cookie-support" ]; then
        echo "rbd-nbd: kernel does not have cookie support" >&2
        exit 22
    fi
    if [ -e "$dir/attach-fails" ]; then
        echo "rbd-nbd: failed to open device: $device" >&2
        exit 22
    fi
    cat "$keyfile" > "$dir/key-seen"
    entry "$spec" "$device" "$cookie" > "$dir/mapped.json"
    echo "$device"
    ;;
*)
    echo "rbd-nbd: unknown command: $command" >&2
    exit 22
    ;;
esac
"#;

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    /// The script is written by a child `sh`, never through a file descriptor of this
    /// process: a child another test forks meanwhile would inherit that descriptor, and until
    /// it execs, running the script fails with ETXTBSY.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("rbd-nbd");
        let written = std::process::Command::new("sh")
            .args([
                "-c",
                r#"printf '%s' "$FAKE" > "$1" && chmod 755 "$1""#,
                "sh",
            ])
            .arg(&program)
            .env("FAKE", FAKE)
            .status()
            .unwrap();
        assert!(written.success());
        Self { dir }
    }

    fn nbd(&self) -> Nbd {
        self.nbd_with(Deadlines::default())
    }

    fn nbd_with(&self, deadlines: Deadlines) -> Nbd {
        let settings = NodeSettings {
            node_id: "node-a".into(),
            driver_name: "rbd.csi.sepia.io".into(),
            state_dir: self.dir.path().join("state"),
            kubelet_root: "/var/lib/kubelet".into(),
            ceph_conf: None,
            mapper: MapperChoice::Auto,
            max_volumes_per_node: 0,
            deadlines,
        };
        Nbd::new(&settings, &KeyDir::new(self.keys()))
            .with_program(self.dir.path().join("rbd-nbd").display().to_string())
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("state/keys")
    }

    fn set(&self, file: &str, content: &str) {
        std::fs::write(self.dir.path().join(file), content).unwrap();
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default()
    }

    /// The recorded command lines, the key file's path replaced by `<keyfile>`.
    fn calls(&self) -> Vec<String> {
        let keys = self.keys().display().to_string();
        self.read("calls")
            .lines()
            .map(|line| {
                line.split(' ')
                    .map(|arg| {
                        if arg.starts_with(&keys) {
                            "<keyfile>"
                        } else {
                            arg
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// Key files left in the key directory.
    fn key_files(&self) -> usize {
        std::fs::read_dir(self.keys())
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn image() -> ImageSpec {
    ImageSpec {
        pool: "replicapool".into(),
        namespace: "team-a".into(),
        image: "csi-vol-1".into(),
    }
}

fn access() -> CephAccess {
    CephAccess {
        monitors: "10.0.0.1:6789".into(),
        user: "csi-rbd-node".into(),
        key: Secret::new(KEY),
    }
}

fn request<'a>(
    image: &'a ImageSpec,
    access: Result<&'a CephAccess, &'a str>,
    options: &'a [String],
) -> ReattachRequest<'a> {
    ReattachRequest {
        volume_id: VOLUME,
        image,
        device: "/dev/nbd3",
        access,
        read_only: false,
        options,
    }
}

const LIST: &str = "list-mapped --format json";

fn attach_line(cookie: bool) -> String {
    let cookie = if cookie {
        format!(" --cookie={VOLUME}")
    } else {
        String::new()
    };
    format!(
        "attach --device /dev/nbd3{cookie} replicapool/team-a/csi-vol-1 -c /dev/null \
         --id csi-rbd-node -m 10.0.0.1:6789 --keyfile <keyfile> --client_mount_timeout=45 \
         --try-netlink --reattach-timeout=300 --io-timeout=0 --exclusive"
    )
}

/// A re-attach of the volume, mapped with `exclusive`, with credentials.
async fn reattach_exclusive(fake: &Fake) -> Recovered {
    let (image, access) = (image(), access());
    let options = vec!["exclusive".to_string()];
    fake.nbd()
        .reattach(&request(&image, Ok(&access), &options))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_orphaned_device_gets_a_new_daemon_with_the_volume_cookie_and_options() {
    let fake = Fake::new();
    let outcome = reattach_exclusive(&fake).await;
    assert_eq!(outcome, Recovered::Reattached);
    assert_eq!(
        fake.calls(),
        [LIST.to_string(), attach_line(true), LIST.into()]
    );
    // The key reached the daemon through its file, never its command line, and the file is
    // gone once the daemon connected.
    assert_eq!(fake.read("key-seen"), KEY);
    assert!(!fake.read("calls").contains(KEY));
    assert_eq!(fake.key_files(), 0);
}

#[tokio::test]
async fn a_device_a_live_daemon_serves_is_left_alone() {
    let fake = Fake::new();
    fake.set(
        "mapped.json",
        r#"[{"id":77,"pool":"replicapool","namespace":"team-a","image":"csi-vol-1","snap":"-","device":"/dev/nbd3","cookie":"x"}]"#,
    );
    let (image, access) = (image(), access());
    let outcome = fake
        .nbd()
        .reattach(&request(&image, Ok(&access), &[]))
        .await
        .unwrap();
    assert_eq!(outcome, Recovered::DaemonAlive);
    assert_eq!(fake.calls(), [LIST]);
}

#[tokio::test]
async fn another_images_device_or_the_image_at_another_device_is_not_touched() {
    let (image, access) = (image(), access());
    for (listed, expected) in [
        (
            r#"[{"id":77,"pool":"replicapool","namespace":"","image":"other","snap":"-","device":"/dev/nbd3"}]"#,
            "is served by rbd-nbd for replicapool/other",
        ),
        (
            r#"[{"id":77,"pool":"replicapool","namespace":"team-a","image":"csi-vol-1","snap":"-","device":"/dev/nbd5"}]"#,
            "is mapped at /dev/nbd5, not at the recorded /dev/nbd3",
        ),
    ] {
        let fake = Fake::new();
        fake.set("mapped.json", listed);
        let outcome = fake
            .nbd()
            .reattach(&request(&image, Ok(&access), &[]))
            .await
            .unwrap();
        match outcome {
            Recovered::Lost(why) => assert!(why.contains(expected), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.calls(), [LIST], "nothing is attached");
    }
}

#[tokio::test]
async fn without_credentials_no_daemon_is_started_and_the_volume_is_lost() {
    let fake = Fake::new();
    let image = image();
    let outcome = fake
        .nbd()
        .reattach(&request(&image, Err("no --node-credentials-dir"), &[]))
        .await
        .unwrap();
    match outcome {
        Recovered::Lost(why) => assert!(why.contains("no --node-credentials-dir"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.calls(), [LIST]);
    assert_eq!(fake.key_files(), 0);
}

#[tokio::test]
async fn a_kernel_without_cookies_is_attached_without_one() {
    let fake = Fake::new();
    fake.set("no-cookie-support", "");
    let outcome = reattach_exclusive(&fake).await;
    assert_eq!(outcome, Recovered::Reattached);
    assert_eq!(
        fake.calls(),
        [
            LIST.to_string(),
            attach_line(true),
            attach_line(false),
            LIST.into()
        ]
    );
}

#[tokio::test]
async fn a_failed_attach_is_an_error_naming_the_command_and_leaves_no_key() {
    let fake = Fake::new();
    fake.set("attach-fails", "");
    let (image, access) = (image(), access());
    let err = fake
        .nbd()
        .reattach(&request(&image, Ok(&access), &[]))
        .await
        .unwrap_err();
    match &err {
        NodeError::CommandFailed {
            command, output, ..
        } => {
            assert!(command.contains("attach --device /dev/nbd3"), "{command}");
            assert!(output.contains("failed to open device"), "{output}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.key_files(), 0);
    assert!(!err.to_string().contains(KEY));
}

fn map_request<'a>(image: &'a ImageSpec, access: &'a CephAccess) -> MapRequest<'a> {
    MapRequest {
        volume_id: VOLUME,
        image,
        access,
        read_only: false,
        options: Vec::new(),
    }
}

/// A map killed after a second, and a few seconds to watch for its daemon.
fn quick_deadlines() -> Deadlines {
    Deadlines {
        map: Duration::from_secs(1),
        connect: Duration::from_secs(3),
        ..Deadlines::default()
    }
}

/// A map through `fake` that fails; with `map-hangs` set, it is killed at its deadline.
async fn failed_map(fake: &Fake) -> NodeError {
    let (image, access) = (image(), access());
    fake.nbd_with(quick_deadlines())
        .map(&map_request(&image, &access))
        .await
        .unwrap_err()
}

async fn killed_map(fake: &Fake) {
    let err = failed_map(fake).await;
    assert!(matches!(err, NodeError::CommandTimedOut { .. }), "{err:?}");
}

/// The calls by their command (`map` without its arguments, `unmap` with its device).
fn commands(fake: &Fake) -> Vec<String> {
    fake.calls()
        .into_iter()
        .map(|call| {
            if call.starts_with("map ") {
                assert!(
                    call.starts_with(&format!(
                        "map replicapool/team-a/csi-vol-1 --cookie={VOLUME} "
                    )),
                    "{call}"
                );
                "map".into()
            } else if call.starts_with(LIST) {
                "list".into()
            } else {
                call
            }
        })
        .collect()
}

#[tokio::test]
async fn the_device_a_killed_maps_daemon_maps_later_is_unmapped() {
    let fake = Fake::new();
    // The daemon gets through on the second look after the map was killed.
    fake.set("map-hangs", "2");
    killed_map(&fake).await;
    assert_eq!(
        commands(&fake),
        ["list", "map", "list", "list", "unmap /dev/nbd7"]
    );
    assert_eq!(fake.read("mapped.json").trim(), "[]", "nothing left mapped");
    assert_eq!(fake.key_files(), 0);
}

#[tokio::test]
async fn after_a_killed_map_list_mapped_is_watched_until_the_connect_timeout() {
    let fake = Fake::new();
    // A daemon that never gets through.
    fake.set("map-hangs", "");
    killed_map(&fake).await;
    let commands = commands(&fake);
    assert_eq!(commands[..2], ["list", "map"]);
    // Looked more than once (at the start and at the end of the window), unmapped nothing.
    assert!(commands.len() >= 4, "{commands:?}");
    assert!(commands[2..].iter().all(|c| c == "list"), "{commands:?}");
}

#[tokio::test]
async fn a_late_mapping_of_the_image_with_another_cookie_is_not_touched() {
    let fake = Fake::new();
    fake.set("map-hangs", "1");
    fake.set("late-cookie", "another-volume");
    killed_map(&fake).await;
    let commands = commands(&fake);
    assert!(
        !commands.iter().any(|c| c.starts_with("unmap")),
        "{commands:?}"
    );
    assert!(fake.read("mapped.json").contains("another-volume"));
}

#[tokio::test]
async fn a_map_rbd_nbd_says_failed_is_checked_once_not_watched() {
    let fake = Fake::new();
    fake.set("map-fails", "");
    match &failed_map(&fake).await {
        NodeError::CommandFailed { code, output, .. } => {
            assert_eq!(*code, Some(13));
            assert!(output.contains("Permission denied"), "{output}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(commands(&fake), ["list", "map", "list"]);
    assert_eq!(fake.key_files(), 0);
}

#[tokio::test]
async fn a_map_that_answers_maps_once() {
    let fake = Fake::new();
    let (image, access) = (image(), access());
    let mapping = fake.nbd().map(&map_request(&image, &access)).await.unwrap();
    assert_eq!(mapping.device.as_deref(), Some("/dev/nbd7"));
    assert_eq!(commands(&fake), ["list", "map"]);
    assert_eq!(fake.key_files(), 0);
}
