//! A nats-server owned by one test (JetStream on, loopback, its own port and store), apart
//! from the bed's shared one: the test can stop and restart it — a restart keeps port and
//! store, like a server restart — and what its stream holds is the test's alone.

use std::time::Duration;

use tempfile::TempDir;
use tokio::process::Command;

use crate::process::{Process, free_port, wait_tcp};

/// How long a stopping server may take to flush JetStream before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

pub struct NatsServer {
    port: u16,
    /// Declared before `dir`, so the server is killed before its store is removed.
    process: Option<Process>,
    /// Holds the JetStream store and the server's log.
    dir: TempDir,
}

impl NatsServer {
    /// Picks a free port and a store without starting the server, for tests of a client that
    /// starts before NATS does ([`NatsServer::run`] starts it).
    pub fn reserve() -> Self {
        Self {
            port: free_port(),
            process: None,
            dir: tempfile::tempdir().expect("a temp dir for nats-server"),
        }
    }

    /// Starts a server; returns once it listens.
    pub async fn start() -> Self {
        let mut server = Self::reserve();
        server.run().await;
        server
    }

    /// Deletes everything the stopped server stored, as if it came back with a fresh volume.
    pub fn wipe_store(&self) {
        assert!(
            self.process.is_none(),
            "stop the server before wiping its store"
        );
        let store = self.dir.path().join("store");
        if store.exists() {
            std::fs::remove_dir_all(&store).expect("remove the JetStream store");
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and store; returns once it listens.
    pub async fn run(&mut self) {
        assert!(self.process.is_none(), "nats-server already running");
        let mut command = Command::new("nats-server");
        command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.path().join("store"));
        self.process = Some(Process::start("nats-server", command, self.dir.path()));
        wait_tcp(self.port).await;
    }

    /// SIGTERM (JetStream flushes its store), then waits for the exit.
    pub async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop(STOP_GRACE).await;
        }
    }
}
