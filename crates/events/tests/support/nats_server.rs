//! A nats-server child process owned by one test: JetStream on, loopback only, its own port and
//! store directory. Stopping and starting it again keeps port and store, like a server restart.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use tempfile::TempDir;

pub struct NatsServer {
    port: u16,
    store: TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Picks a free port and a store directory without starting the server, for tests of a
    /// publisher that starts before NATS does.
    pub fn reserve() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        Self {
            port,
            store: tempfile::tempdir().expect("store dir"),
            child: None,
        }
    }

    pub async fn start() -> Self {
        let mut server = Self::reserve();
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn store(&self) -> &Path {
        self.store.path()
    }

    /// Deletes everything the stopped server stored, as if it came back with a fresh volume.
    pub fn wipe_store(&self) {
        assert!(
            self.child.is_none(),
            "stop the server before wiping its store"
        );
        for entry in std::fs::read_dir(self.store.path()).expect("store dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("remove store dir");
            } else {
                std::fs::remove_file(&path).expect("remove store file");
            }
        }
    }

    /// Starts the server and waits (at most 20 s) until it accepts connections.
    pub async fn run(&mut self) {
        assert!(self.child.is_none(), "nats-server already running");
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (apt-get install nats-server)");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nats-server did not listen on {addr} within 20 s");
    }

    /// Stops the server gracefully (SIGTERM, so JetStream flushes its store), killing it if it
    /// has not exited within 20 s.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = kill_process(Pid::from_child(&child), Signal::TERM);
        for _ in 0..200 {
            if child.try_wait().expect("wait").is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
