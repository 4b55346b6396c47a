//! A nats-server child owned by one test (JetStream on, loopback, its own port and store), so
//! the test can stop and restart it; restarting keeps port and store, like a server restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

pub struct NatsServer {
    port: u16,
    store: TempDir,
    child: Option<Child>,
}

impl NatsServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let mut server = Self {
            port,
            store: tempfile::tempdir().expect("store dir"),
            child: None,
        };
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

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

    /// SIGTERM (JetStream flushes its store), then wait.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) with a pid we spawned and own; no memory is touched.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
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

/// Every event stored in the `SEPIA` stream under `filter`, in stream order, read through a
/// JetStream consumer (what NATS really holds, not the publisher's bookkeeping).
pub async fn stored_events(url: &str, filter: &str) -> Vec<events::Event> {
    use async_nats::jetstream::{self, consumer};
    use futures::StreamExt;
    let client = async_nats::connect(url)
        .await
        .expect("test client connects");
    let js = jetstream::new(client);
    let Ok(stream) = js.get_stream("SEPIA").await else {
        return Vec::new();
    };
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            filter_subject: filter.to_owned(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let pending = consumer.cached_info().num_pending;
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while (out.len() as u64) < pending {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("message within 30 s")
            .expect("stream open")
            .expect("message");
        out.push(serde_json::from_slice(&message.payload).expect("payload is an Event"));
    }
    out
}
