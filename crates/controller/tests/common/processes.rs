//! Real `sepia-controller` processes (this package's built binary) on one shared namespace:
//! what production runs, one replica per sidecar pod, all acting on the same pool and RADOS
//! namespace. Each process serves its own socket and has its own log; every process shares the
//! test's cluster config and standing credentials, so each also runs the start-up resume pass.
//!
//! Two kinds of tests use it: races driven through two processes at once (a step of one held
//! with a `pause_until(<file>)` failpoint while the other acts, then released), and real
//! crashes (a process held at a step, then `kill -9`ed, and the request retried through a
//! fresh process). A process learns its failpoints from the hidden `--failpoints` flag and
//! logs [`failpoint::REACHED`] when one acts, which is how a test knows it is there.

use controller::advertised::AlphaCapabilities;
use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use csi::v1::controller_client::ControllerClient;
use csi::v1::{CreateSnapshotRequest, CreateVolumeRequest, Snapshot};
use futures::FutureExt as _;
use parking_lot::Mutex;
use sepia_testbed::Process;
use tokio::process::Command;
use tonic::Code;
use tonic::transport::Channel;

use super::calls::{self, until_ok};
use super::namespace::Namespace;
use super::{
    BEFORE_CUT, CLUSTER_ID, DATA_OFFSET, DATA_VOLUME, bed, cluster_entry, uuid_of, volume_image,
    write_config,
};

/// The controller binary cargo built for these tests.
const BINARY: &str = env!("CARGO_BIN_EXE_sepia-controller");
/// How long a process may take to serve its socket.
const STARTUP: Duration = Duration::from_secs(60);
/// How long a process may take to reach a held failpoint.
const REACH: Duration = Duration::from_secs(60);
/// How long a retry may take to converge: generous, since a lock left by a killed process
/// may have to expire first.
pub const CONVERGE: Duration = Duration::from_secs(120);
/// Answers a retry waits out: contention (ABORTED), and what an image still watched by a
/// killed process causes until the OSD drops the watch (its watch timeout, 30 s by default):
/// a delete refused as in use (FAILED_PRECONDITION), a snapshot creation whose notification
/// waits for the dead watcher past the call's deadline (DEADLINE_EXCEEDED).
const PASSING: [Code; 3] = [
    Code::Aborted,
    Code::FailedPrecondition,
    Code::DeadlineExceeded,
];
/// What a create waits out: a create is never refused as in use.
const PASSING_CREATE: [Code; 2] = [Code::Aborted, Code::DeadlineExceeded];
/// The lock duration asked of every process when the binary has the flag: short, so a retry
/// after a `kill -9` does not wait out the 30 s default.
const LOCK_DURATION: &str = "--lock-duration=5s";

/// The test's namespace and the controller replicas (processes) started on it.
pub struct Processes {
    pub ns: Namespace,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    creds_dir: PathBuf,
    started: Arc<Mutex<Vec<Arc<tokio::sync::Mutex<Process>>>>>,
}

impl Deref for Processes {
    type Target = Namespace;

    fn deref(&self) -> &Namespace {
        &self.ns
    }
}

impl Processes {
    /// Runs `body` with a fresh namespace; afterwards kills every process it started, removes
    /// everything left in the namespace and re-raises the body's panic, if any.
    pub async fn run<F, Fut, T>(body: F) -> T
    where
        F: FnOnce(Processes) -> Fut,
        Fut: Future<Output = T>,
    {
        let px = Self::new().await;
        let cleanup = px.ns.cleaner();
        let started = Arc::clone(&px.started);
        let outcome = AssertUnwindSafe(body(px)).catch_unwind().await;
        let processes: Vec<_> = started.lock().drain(..).collect();
        for process in processes {
            process.lock().await.kill().await;
        }
        cleanup.clean().await;
        match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn new() -> Processes {
        let ns = Namespace::create().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.json");
        write_config(
            &config_path,
            &[cluster_entry(CLUSTER_ID, &bed().monitors, &ns.namespace)],
        );
        let creds_dir = dir.path().join("controller-secret");
        std::fs::create_dir(&creds_dir).unwrap();
        std::fs::write(creds_dir.join("userID"), &bed().user).unwrap();
        std::fs::write(creds_dir.join("userKey"), &bed().key).unwrap();
        Processes {
            ns,
            dir,
            config_path,
            creds_dir,
            started: Arc::default(),
        }
    }

    /// Starts a replica named `name` (its socket and log are named after it) with the
    /// failpoint spec `failpoints` (`name=action;…`, may be empty) and waits until it serves.
    pub async fn start(&self, name: &str, failpoints: &str) -> Replica {
        self.start_with(name, failpoints, &[]).await
    }

    /// [`Processes::start`] with `extra` flags appended.
    pub async fn start_with(&self, name: &str, failpoints: &str, extra: &[String]) -> Replica {
        let socket = self.dir.path().join(format!("{name}.sock"));
        let endpoint = format!("unix://{}", socket.display());
        let mut command = Command::new(BINARY);
        command
            .arg(format!("--endpoint={endpoint}"))
            .arg(format!("--cluster-config={}", self.config_path.display()))
            .arg(format!(
                "--controller-credentials-dir={}",
                self.creds_dir.display()
            ))
            // Direct purges: the bed's mgr runs trash tasks one at a time for everyone.
            .arg("--trash-purge=direct")
            .arg(format!(
                "--alpha-capabilities={}",
                AlphaCapabilities::SHIPPED
            ))
            .args(lock_duration_args())
            .args(extra)
            .env("RUST_LOG", "info")
            .env_remove("SEPIA_FAILPOINTS");
        if !failpoints.is_empty() {
            command.arg(format!("--failpoints={failpoints}"));
        }
        let mut process = Process::start(name, command, self.dir.path());
        process.wait_for_unix_socket(&socket, STARTUP).await;
        let channel = csi::client::connect(&endpoint, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("connect to {name}: {e}\n{}", process.log_tail()));
        let process = Arc::new(tokio::sync::Mutex::new(process));
        self.started.lock().push(Arc::clone(&process));
        Replica {
            name: name.to_owned(),
            client: ControllerClient::new(channel),
            process,
        }
    }

    /// The cluster config file every process reads (tests rewrite it).
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// The action `pause_until(<file>)` of a hold named `label`: a process reaching a point
    /// armed with it waits there until [`Processes::release`] of the same label.
    pub fn hold(&self, label: &str) -> String {
        format!("pause_until({})", self.hold_file(label).display())
    }

    /// Ends the hold `label` in every process.
    pub fn release(&self, label: &str) {
        std::fs::write(self.hold_file(label), b"").unwrap();
    }

    fn hold_file(&self, label: &str) -> PathBuf {
        self.dir.path().join(format!("release-{label}"))
    }
}

/// What the tests do through the processes, with the retries a sidecar makes.
impl Processes {
    /// A volume made through `via`, holding [`BEFORE_CUT`]; its id.
    pub async fn volume_with_data(&self, via: &Replica, name: &str) -> String {
        let volume =
            calls::create_volume(via.client(), self.create_request(name, DATA_VOLUME)).await;
        self.write_data(&volume_image(&volume.volume_id), DATA_OFFSET, BEFORE_CUT);
        volume.volume_id
    }

    /// The restore of `snapshot_id` every test asks for (the same name on every attempt).
    pub fn restore_of(&self, snapshot_id: &str, size: i64) -> CreateVolumeRequest {
        let name = format!("pvc-from-{}", uuid_of(snapshot_id));
        self.restore_request(&name, size, snapshot_id)
    }

    /// Restores `snapshot_id` through `via` (retrying what passes) and checks that the
    /// restored volume holds [`BEFORE_CUT`]; the new volume's id.
    pub async fn restore_holds_the_data(
        &self,
        via: &Replica,
        snapshot_id: &str,
        size: i64,
    ) -> String {
        let req = self.restore_of(snapshot_id, size);
        let volume = until_ok("restore", CONVERGE, &PASSING_CREATE, async || {
            via.client().create_volume(req.clone()).await
        })
        .await
        .volume
        .unwrap();
        assert_eq!(
            self.read_data(
                &volume_image(&volume.volume_id),
                DATA_OFFSET,
                BEFORE_CUT.len()
            ),
            BEFORE_CUT,
            "the restore of {snapshot_id} lost the data written before its cut"
        );
        volume.volume_id
    }

    /// CreateSnapshot through `via`, repeated as the snapshotter does (what passes retried),
    /// until the reply is ready and the entry records the image id (prepared).
    pub async fn snapshot_prepared(&self, via: &Replica, req: CreateSnapshotRequest) -> Snapshot {
        let oid_of = |id: &str| format!("csi.snap.{}", uuid_of(id));
        let deadline = tokio::time::Instant::now() + CONVERGE;
        loop {
            let snapshot = until_ok("CreateSnapshot", CONVERGE, &PASSING_CREATE, async || {
                via.client().create_snapshot(req.clone()).await
            })
            .await
            .snapshot
            .unwrap();
            if snapshot.ready_to_use
                && self
                    .omap(&oid_of(&snapshot.snapshot_id))
                    .await
                    .contains_key("csi.imageid")
            {
                return snapshot;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "snapshot {} was not prepared within {CONVERGE:?}",
                req.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Deletes the snapshots, then the volumes, through `via` (retrying what passes), then
    /// checks that nothing the controller made is left in the namespace.
    pub async fn delete_all(&self, via: &Replica, volumes: &[&str], snapshots: &[&str]) {
        for snapshot in snapshots {
            let req = self.delete_snapshot_request(snapshot);
            until_ok("DeleteSnapshot", CONVERGE, &PASSING, async || {
                via.client().delete_snapshot(req.clone()).await
            })
            .await;
        }
        for volume in volumes {
            let req = self.delete_volume_request(volume);
            until_ok("DeleteVolume", CONVERGE, &PASSING, async || {
                via.client().delete_volume(req.clone()).await
            })
            .await;
        }
        assert_eq!(self.leftovers().await, Vec::<String>::new(), "left behind");
    }
}

/// `--lock-duration=5s` when the binary has the flag (the RADOS locks' lease), else nothing.
fn lock_duration_args() -> &'static [String] {
    static ARGS: OnceLock<Vec<String>> = OnceLock::new();
    ARGS.get_or_init(|| {
        let help = std::process::Command::new(BINARY)
            .arg("--help")
            .output()
            .expect("sepia-controller --help");
        let flag = LOCK_DURATION.split('=').next().unwrap_or(LOCK_DURATION);
        if String::from_utf8_lossy(&help.stdout).contains(flag) {
            vec![LOCK_DURATION.to_owned()]
        } else {
            Vec::new()
        }
    })
}

/// One `sepia-controller` process among the test's replicas: a name, a client, its log, and
/// `kill -9`.
pub struct Replica {
    pub name: String,
    pub client: ControllerClient<Channel>,
    process: Arc<tokio::sync::Mutex<Process>>,
}

impl Replica {
    pub fn client(&self) -> ControllerClient<Channel> {
        self.client.clone()
    }

    /// Waits until the process logs that failpoint `point` acted (a hold is now holding).
    pub async fn wait_reached(&self, point: &str) {
        let quoted = format!("{point:?}");
        self.process
            .lock()
            .await
            .wait_for_log_line(&format!("failpoint {point}"), REACH, |line| {
                line.contains(failpoint::REACHED) && line.contains(&quoted)
            })
            .await;
    }

    /// `kill -9`, and waits until the process is gone: a crash, nothing cleaned up.
    pub async fn kill9(&self) {
        self.process.lock().await.kill().await;
    }

    /// Everything the process logged so far.
    pub async fn log(&self) -> String {
        self.process.lock().await.log()
    }
}
