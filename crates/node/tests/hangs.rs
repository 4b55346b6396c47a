//! Hangs (issue 14, item 5; issue 15, item 3): an rbd-fuse that never answers (a user without
//! caps on the pool, a stopped daemon) must not hold a request, a teardown or a later request,
//! nor pile up threads in the kernel. Each test asserts
//! the answer's code and that nothing is left mounted, mapped or running; none measures time.
//! Each is wrapped in a generous client deadline only so a regression fails instead of
//! hanging the suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::time::Duration;

use csi::v1::volume_capability::access_mode::Mode;
use harness::*;
use node::error::NodeError;
use node::process::ChildCommand;
use node::settings::Deadlines;
use tonic::Code;

/// A client deadline far beyond every server-side one in these tests.
const CLIENT_DEADLINE: Duration = Duration::from_secs(300);

/// A cephx user the monitors accept, with OSD caps only on a pool that does not exist: librbd
/// opening an image of the test's pool waits for ever. Removed on drop.
struct CapLessUser {
    name: String,
    key: String,
}

impl CapLessUser {
    fn create(h: &Harness) -> Self {
        let name = h.bed.unique_name("sepia-nocaps");
        let entity = format!("client.{name}");
        let caps_pool = format!("{name}-no-such-pool");
        h.bed.cli(
            "ceph",
            &[
                "auth",
                "get-or-create",
                &entity,
                "mon",
                "profile rbd",
                "osd",
                &format!("profile rbd pool={caps_pool}"),
            ],
        );
        let key = h
            .bed
            .cli("ceph", &["auth", "print-key", &entity])
            .trim()
            .to_string();
        Self { name, key }
    }
}

impl Drop for CapLessUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("timeout")
            .args([
                "60",
                "ceph",
                "auth",
                "del",
                &format!("client.{}", self.name),
            ])
            .env("CEPH_CONF", &sepia_testbed::Bed::get().conf_path)
            .output();
    }
}

fn key_files(h: &Harness) -> usize {
    std::fs::read_dir(h.root.join("state/keys"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_whose_user_has_no_caps_on_the_pool_answers_and_leaves_nothing_mounted() {
    let deadlines = Deadlines {
        map: Duration::from_secs(3),
        command: Duration::from_secs(3),
        ..Deadlines::default()
    };
    let mut h = Harness::start_with("hang-nocaps", deadlines).await;
    let user = CapLessUser::create(&h);
    h.create_image("vol", 64);
    let mut request = h.stage_request("vol", mount_capability("ext4", Mode::SingleNodeWriter));
    request.secrets.insert("userID".into(), user.name.clone());
    request.secrets.insert("userKey".into(), user.key.clone());
    let mut request = tonic::Request::new(request);
    request.set_timeout(CLIENT_DEADLINE);

    let err = h.node.node_stage_volume(request).await.unwrap_err();
    // The server's own answer (a client-side timeout would be CANCELLED without our text).
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(err.message().contains("rbd-fuse"), "{}", err.message());
    h.assert_clean().await;
    assert!(!h.staging_path("vol").join("image-meta.json").exists());
    assert_eq!(key_files(&h), 0, "a key file outlived the stage");

    // Nothing is left for a later call to trip over.
    h.unstage("vol").await.unwrap();
    h.stage("vol", mount_capability("ext4", Mode::SingleNodeWriter))
        .await
        .unwrap();
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstage_over_a_stopped_rbd_fuse_answers_and_leaves_nothing_mounted() {
    let deadlines = Deadlines {
        command: Duration::from_secs(3),
        ..Deadlines::default()
    };
    let mut h = Harness::start_with("hang-stopped", deadlines).await;
    h.create_image("vol", 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.stage("vol", cap.clone()).await.unwrap();
    h.publish("vol", "pod", cap, false).await.unwrap();
    let target = h.target_path("vol", "pod");
    write_durably(&target.join("durable.txt"), b"reached Ceph");
    // Dirty pages the unmount has to write back through the stopped daemon.
    std::fs::write(target.join("dirty.bin"), vec![1u8; 4 << 20]).unwrap();

    let daemons = rbd_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    signal(daemons[0], "STOP");

    let mut request = tonic::Request::new(h.unpublish_request("vol", "pod"));
    request.set_timeout(CLIENT_DEADLINE);
    h.node.node_unpublish_volume(request).await.unwrap();
    let mut request = tonic::Request::new(h.unstage_request("vol"));
    request.set_timeout(CLIENT_DEADLINE);
    h.node.node_unstage_volume(request).await.unwrap();

    h.assert_clean().await;
    assert!(!h.staging_path("vol").join("image-meta.json").exists());
    // The killed daemon's watch would hold the image for 30 s: fence it like an operator would.
    h.blocklist_watchers("vol");
    h.remove_image("vol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expanding_past_the_images_size_is_out_of_range_and_grows_nothing() {
    let mut h = Harness::start("hang-expand").await;
    h.create_image("vol", 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.stage("vol", cap.clone()).await.unwrap();
    h.publish("vol", "pod", cap, false).await.unwrap();
    let target = h.target_path("vol", "pod");
    let before = fs_size(&target);

    // The controller never grew the image: asking for 1 GiB is refused without waiting.
    let err = h.expand("vol", &target, 1 << 30, false).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(err.message().contains("1073741824"), "{}", err.message());
    assert_eq!(fs_size(&target), before);
    // What the device holds is fine to ask for.
    assert_eq!(
        h.expand("vol", &target, 64 * MIB, false).await.unwrap() as u64,
        64 * MIB
    );

    h.unpublish("vol", "pod").await.unwrap();
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
}

/// The plugin's building blocks on a FUSE mount that does not answer: a child stuck in the
/// kernel on it is not waited for past its grace after SIGKILL, and aborting the connection
/// frees it so the mount can go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_stuck_in_the_kernel_does_not_hold_its_caller() {
    let h = Harness::start("hang-child").await;
    let user = CapLessUser::create(&h);
    h.create_image("vol", 64);
    let dir = h.root.join("stuck");
    std::fs::create_dir_all(&dir).unwrap();
    let key = h.root.join("nocaps.key");
    std::fs::write(&key, &user.key).unwrap();
    let mounted = std::process::Command::new("rbd-fuse")
        .args(["-c", "/dev/null", "-m", &h.bed.monitors, "--id", &user.name])
        .arg("--keyfile")
        .arg(&key)
        .args(["-p", &h.bed.pool, "-s", &h.namespace, "-r", "vol"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(mounted.success());
    let image = dir.join("vol");

    let err = ChildCommand::new("stat", Duration::from_secs(2))
        .arg(&image)
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, NodeError::CommandTimedOut { .. }), "{err:?}");
    let stat_of_image = || node::mount::fuse_connection::daemons_serving("stat", &image);
    let stuck = stat_of_image().await.unwrap();
    assert_eq!(
        stuck.len(),
        1,
        "the stat should still be in the kernel: {stuck:?}"
    );

    let mount = node::mount::mountinfo::mount_at(&dir)
        .await
        .unwrap()
        .unwrap();
    node::mount::fuse_connection::abort(&mount, &h.root.join("fusectl"), Duration::from_secs(10))
        .await
        .unwrap();
    let daemons = node::mount::fuse_connection::daemons_serving("rbd-fuse", &dir)
        .await
        .unwrap();
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    node::mount::fuse_connection::kill(&daemons);
    // A zombie has no command line: gone means freed from the kernel and exited.
    for _ in 0..100 {
        if stat_of_image().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stat_of_image().await.unwrap(), vec![]);
    node::mount::unmount(&dir, Duration::from_secs(10))
        .await
        .unwrap();
    h.assert_clean().await;
}

/// Threads of this process (and so of the in-process plugin) waiting in the kernel for a
/// FUSE daemon's answer, from their kernel stacks.
fn threads_waiting_on_fuse() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stack")).ok())
        .filter(|stack| stack.contains("fuse_"))
        .count()
}

/// How many kubelet stats periods the stopped daemon sits through.
const STATS_CALLS: usize = 60;

/// kubelet's periodic NodeGetVolumeStats on a volume whose rbd-fuse is stopped (SIGSTOP), 60
/// periods of it, while another volume is staged, written, unstaged: every stats call answers,
/// abnormal, saying since when the stat hangs, with the usage measured before the stop; the
/// other volume's calls all succeed; one measurement (one thread) at most is in the kernel.
/// The runtime has 8 blocking threads, as a small node's pool would be exhausted: without the
/// gate each period would leave one more thread in the kernel and the stage would never get
/// one. Once the daemon runs again (SIGCONT) the volume is normal again.
#[test]
fn stats_on_a_stopped_rbd_fuse_hold_one_thread_and_other_volumes_are_staged_meanwhile() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .unwrap()
        .block_on(stats_on_a_stopped_rbd_fuse());
}

/// NodeGetVolumeStats within [`CLIENT_DEADLINE`], from a client of its own.
async fn stats_of(
    mut node: csi::v1::node_client::NodeClient<tonic::transport::Channel>,
    volume_id: String,
    path: String,
) -> Result<csi::v1::NodeGetVolumeStatsResponse, tonic::Status> {
    let mut request = tonic::Request::new(csi::v1::NodeGetVolumeStatsRequest {
        volume_id,
        volume_path: path,
        staging_target_path: String::new(),
    });
    request.set_timeout(CLIENT_DEADLINE);
    node.node_get_volume_stats(request)
        .await
        .map(|r| r.into_inner())
}

async fn stats_call(
    h: &Harness,
    image: &str,
    path: &std::path::Path,
) -> csi::v1::NodeGetVolumeStatsResponse {
    stats_of(
        h.node.clone(),
        h.volume_id(image),
        path.display().to_string(),
    )
    .await
    .unwrap()
}

fn is_abnormal(stats: &csi::v1::NodeGetVolumeStatsResponse) -> bool {
    stats.volume_condition.as_ref().unwrap().abnormal
}

async fn stats_on_a_stopped_rbd_fuse() {
    let deadlines = Deadlines {
        command: Duration::from_secs(2),
        ..Deadlines::default()
    };
    let mut h = Harness::start_with("hang-stats", deadlines).await;
    h.create_image("stuck", 64);
    h.create_image("other", 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let target = h.stage_and_publish("stuck", "pod", cap.clone()).await;
    write_durably(&target.join("data.txt"), b"before the stop");
    let measured = stats_call(&h, "stuck", &target).await;
    assert!(!is_abnormal(&measured), "{measured:?}");

    let daemons = rbd_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    let stopped = Stopped::new(daemons[0]);

    // A measurement that needs nothing from the daemon (what the kernel has cached) may still
    // come back; the first that does not holds the volume's slot.
    let mut first = None;
    for _ in 0..30 {
        let stats = stats_call(&h, "stuck", &target).await;
        if is_abnormal(&stats) {
            first = Some(stats);
            break;
        }
    }
    let hung = first
        .expect("a stat on the stopped daemon hangs")
        .volume_condition
        .unwrap()
        .message;
    assert!(hung.contains("hung in the kernel since"), "{hung}");
    assert_eq!(h.driver().stats_gate.in_flight(), 1);

    // kubelet's pace, sped up: one call per period, each awaited.
    let periods = {
        let node = h.node.clone();
        let (volume_id, path) = (h.volume_id("stuck"), target.display().to_string());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut period = tokio::time::interval(Duration::from_millis(100));
            for _ in 0..STATS_CALLS {
                period.tick().await;
                answers.push(stats_of(node.clone(), volume_id.clone(), path.clone()).await);
            }
            answers
        })
    };
    // Meanwhile another volume goes through its whole life on this node.
    let other_target = h.stage_and_publish("other", "pod", cap).await;
    write_durably(&other_target.join("f"), b"other volume");
    assert!(!is_abnormal(&stats_call(&h, "other", &other_target).await));
    h.unpublish("other", "pod").await.unwrap();
    h.unstage("other").await.unwrap();

    let answers = periods.await.unwrap();
    assert_eq!(answers.len(), STATS_CALLS);
    for answer in answers {
        let stats = answer.unwrap();
        let condition = stats.volume_condition.unwrap();
        assert!(condition.abnormal, "{condition:?}");
        // The same hang, since the same time, as the first call saw.
        assert_eq!(condition.message, hung);
        // The last usage measured before the stop.
        assert_eq!(stats.usage, measured.usage);
    }
    assert_eq!(h.driver().stats_gate.in_flight(), 1, "one measurement");
    assert_eq!(threads_waiting_on_fuse(), 1, "one thread in the kernel");

    // The daemon runs again: the measurement comes back and frees the slot, and the volume
    // is measured, normal.
    drop(stopped);
    for _ in 0..300 {
        if h.driver().stats_gate.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.driver().stats_gate.in_flight(), 0);
    let after = stats_call(&h, "stuck", &target).await;
    assert!(!is_abnormal(&after), "{after:?}");
    assert_eq!(threads_waiting_on_fuse(), 0);
    assert_eq!(
        std::fs::read(target.join("data.txt")).unwrap(),
        b"before the stop"
    );

    h.unpublish("stuck", "pod").await.unwrap();
    h.unstage("stuck").await.unwrap();
    h.assert_clean().await;
    h.remove_image("stuck");
    h.remove_image("other");
}

/// A daemon stopped with SIGSTOP until this is dropped, also when the test fails: the
/// harness's clean-up, and the runtime's shutdown waiting for its blocking threads, would
/// otherwise wait on it for ever.
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Self {
        signal(pid, "STOP");
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

fn signal(pid: u32, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}
