//! A real tonic server on a real unix socket, bound with `csi::server` and dialed with
//! `csi::client`: serving, socket permissions, stale-socket replacement, refusal to delete
//! regular files, and cleanup when serving stops.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use csi::v1::identity_client::IdentityClient;
use csi::v1::identity_server::{Identity, IdentityServer};
use csi::v1::{GetPluginCapabilitiesRequest, GetPluginInfoRequest, GetPluginInfoResponse};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::{Code, Request, Response, Status};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Implements only GetPluginInfo; everything else falls back to the generated
/// UNIMPLEMENTED stubs.
struct TestIdentity;

#[tonic::async_trait]
impl Identity for TestIdentity {
    async fn get_plugin_info(
        &self,
        _request: Request<GetPluginInfoRequest>,
    ) -> Result<Response<GetPluginInfoResponse>, Status> {
        Ok(Response::new(GetPluginInfoResponse {
            name: "rbd.csi.sepia.io".into(),
            vendor_version: "0.1.0-test".into(),
            manifest: [("build".to_string(), "test".to_string())].into(),
        }))
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

async fn serve(endpoint: &str) -> Running {
    let incoming = csi::server::bind(endpoint).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IdentityServer::new(TestIdentity))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    Running { stop, task }
}

async fn plugin_name(endpoint: &str) -> String {
    let channel = csi::client::connect(endpoint, CONNECT_TIMEOUT)
        .await
        .unwrap();
    IdentityClient::new(channel)
        .get_plugin_info(GetPluginInfoRequest {})
        .await
        .unwrap()
        .into_inner()
        .name
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn identity(path: &Path) -> (u64, i64, i64) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.ino(), meta.ctime(), meta.ctime_nsec())
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[tokio::test]
async fn identity_rpc_round_trips_over_the_socket_and_the_file_goes_away_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    // The parent directory does not exist yet: bind must create it.
    let path = dir
        .path()
        .join("plugins")
        .join("rbd.csi.sepia.io")
        .join("csi.sock");
    let endpoint = format!("unix://{}", path.display());
    let server = serve(&endpoint).await;

    assert!(is_socket(&path));
    assert_eq!(mode_of(&path), 0o660, "default socket mode");
    assert_eq!(
        mode_of(path.parent().unwrap()),
        0o750,
        "created socket directory mode"
    );

    let channel = csi::client::connect(&endpoint, CONNECT_TIMEOUT)
        .await
        .unwrap();
    let mut client = IdentityClient::new(channel);
    let info = client
        .get_plugin_info(GetPluginInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.name, "rbd.csi.sepia.io");
    assert_eq!(info.vendor_version, "0.1.0-test");
    assert_eq!(info.manifest.get("build").map(String::as_str), Some("test"));

    // RPCs the plugin does not implement answer UNIMPLEMENTED, as CSI requires.
    let err = client
        .get_plugin_capabilities(GetPluginCapabilitiesRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);

    drop(client);
    server.shutdown().await;
    assert!(
        !path.exists(),
        "socket file must be removed when serving stops"
    );
}

#[tokio::test]
async fn plain_path_endpoint_and_custom_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registration.sock");
    let endpoint = path.to_str().unwrap().to_string();
    let incoming = csi::server::bind_with_mode(&endpoint, 0o600).await.unwrap();
    assert_eq!(incoming.path(), path.as_path());
    assert_eq!(mode_of(&path), 0o600);
    drop(incoming);
    assert!(
        !path.exists(),
        "dropping the incoming stream removes the socket"
    );
}

#[tokio::test]
async fn stale_socket_from_a_dead_server_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csi.sock");
    // A crashed driver leaves its socket file behind: bound once, never unlinked.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(is_socket(&path));
    let refused = std::os::unix::net::UnixStream::connect(&path).unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "nobody listens on a stale socket"
    );

    let endpoint = format!("unix://{}", path.display());
    let server = serve(&endpoint).await;
    // Only a freshly bound socket answers.
    assert_eq!(plugin_name(&endpoint).await, "rbd.csi.sepia.io");
    server.shutdown().await;
}

#[tokio::test]
async fn a_regular_file_at_the_socket_path_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csi.sock");
    std::fs::write(&path, b"not a socket: precious data").unwrap();

    let err = csi::server::bind(&format!("unix://{}", path.display()))
        .await
        .unwrap_err();
    match &err {
        csi::Error::NotASocket { path: p } => assert_eq!(p, &path),
        other => panic!("expected NotASocket, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(path.to_str().unwrap()) && message.contains("not a unix socket"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"not a socket: precious data"
    );
}

#[tokio::test]
async fn a_directory_at_the_socket_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csi.sock");
    std::fs::create_dir(&path).unwrap();
    let err = csi::server::bind(path.to_str().unwrap()).await.unwrap_err();
    assert!(matches!(err, csi::Error::NotASocket { .. }), "{err:?}");
    assert!(path.is_dir());
}

#[tokio::test]
async fn guard_leaves_alone_a_socket_another_process_bound_since() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csi.sock");
    let incoming = csi::server::bind(path.to_str().unwrap()).await.unwrap();
    let (listener, guard) = incoming.into_parts();
    drop(listener);

    // A newer driver instance takes over the path. Filesystems reuse the freed inode number
    // and a coarse clock may stamp both files alike; rebind until the newer socket is
    // distinguishable (what a real takeover, seconds later, always is).
    let ours = identity(&path);
    std::fs::remove_file(&path).unwrap();
    let mut newer = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut attempts = 0;
    while identity(&path) == ours {
        attempts += 1;
        assert!(attempts < 100_000, "the filesystem clock never advanced");
        drop(newer);
        std::fs::remove_file(&path).unwrap();
        std::thread::yield_now();
        newer = std::os::unix::net::UnixListener::bind(&path).unwrap();
    }
    drop(guard);
    assert!(
        is_socket(&path),
        "the newer instance's socket must survive the old guard"
    );
    drop(newer);
}

#[tokio::test]
async fn connecting_to_a_missing_socket_is_a_connect_error_naming_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix://{}", dir.path().join("absent.sock").display());
    let err = csi::client::connect(&endpoint, CONNECT_TIMEOUT)
        .await
        .unwrap_err();
    match &err {
        csi::Error::Connect { endpoint: e, .. } => assert_eq!(e, &endpoint),
        other => panic!("expected Connect error, got {other:?}"),
    }
    assert!(err.to_string().contains(&endpoint));
}

#[tokio::test]
async fn non_unix_endpoints_are_rejected_before_dialing() {
    let err = csi::client::connect("tcp://127.0.0.1:1", CONNECT_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, csi::Error::InvalidEndpoint { .. }), "{err:?}");
    let err = csi::server::bind("dns:///csi").await.unwrap_err();
    assert!(matches!(err, csi::Error::InvalidEndpoint { .. }), "{err:?}");
}

#[test]
fn binding_outside_a_runtime_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("csi.sock");
    let fut = csi::server::bind(path.to_str().unwrap());
    // Poll the future to completion without a tokio runtime.
    let err = futures_lite_block_on(fut).unwrap_err();
    assert!(matches!(err, csi::Error::NoRuntime { .. }), "{err:?}");
    assert!(!path.exists());
}

/// Minimal executor: `bind` never awaits anything, so one poll decides it.
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("bind unexpectedly suspended"),
    }
}
