//! The cephx key must never reach a log line, an error message, or stderr: capture all tracing
//! output (TRACE, with span open/close events) and the process' stderr across successful work
//! and the failure paths, then look for the key in all of it.
//!
//! One test in this binary on purpose: it installs the global subscriber and redirects fd 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ceph::rbd::{self, CreateOptions};
use ceph::{Cluster, ConnectionCache, Credentials, Error, Timeouts};
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

const WRONG_KEY: &str = "AQBKqwNr0aFhKxAAXD53fkfa5BAcBk1oDL/50g==";

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Redirects fd 2 into a temp file until dropped.
struct StderrCapture {
    saved: i32,
    file: std::fs::File,
}

impl StderrCapture {
    fn start() -> StderrCapture {
        let file = tempfile::tempfile().unwrap();
        // SAFETY: plain fd juggling on fds we own; restored in `finish`.
        let saved = unsafe { libc::dup(2) };
        assert!(saved >= 0);
        // SAFETY: as above.
        assert!(unsafe { libc::dup2(file.as_raw_fd(), 2) } >= 0);
        StderrCapture { saved, file }
    }

    fn finish(mut self) -> String {
        // SAFETY: restores the saved stderr.
        unsafe {
            libc::dup2(self.saved, 2);
            libc::close(self.saved);
        }
        let mut text = String::new();
        self.file.rewind().unwrap();
        self.file.read_to_string(&mut text).unwrap();
        text
    }
}

fn short() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(3),
        op: Duration::from_secs(3),
    }
}

/// Every error message and Debug form seen during the run.
async fn exercise(shown: &mut Vec<String>) {
    let bed = common::bed();
    // Successful work: connect, commands, omap, rbd.
    let creds = common::creds();
    shown.push(format!("{creds:?}"));
    let cluster = Cluster::connect(&creds, &short()).await.unwrap();
    cluster
        .mon_command(json!({"prefix": "osd pool ls", "format": "json"}))
        .await
        .unwrap();
    common::in_namespace("hygiene", true, |ns| async move {
        ns.io.create_exclusive("o").await.unwrap();
        ns.io.omap_set("o", &[("k", b"v")]).await.unwrap();
        ns.io.omap_get_by_keys("o", &["k"]).await.unwrap();
        rbd::create(&ns.io, "img", 1 << 20, &CreateOptions::default())
            .await
            .unwrap();
        let img = rbd::open(&ns.io, "img").await.unwrap();
        img.metadata_set("k", "v").await.unwrap();
        img.close().await.unwrap();
    })
    .await;

    let mut note = |e: &Error| shown.push(format!("{e} | {e:?}"));
    // Failures: missing things, wrong key, dead monitor, cache miss with a wrong key.
    let io = cluster.ioctx(&bed.pool, "hygiene-missing").await.unwrap();
    note(&io.read_full("missing").await.unwrap_err());
    note(&rbd::open(&io, "missing").await.unwrap_err());
    note(
        &cluster
            .mon_command(json!({"prefix": "osd pool get", "pool": "nope", "var": "size"}))
            .await
            .unwrap_err(),
    );

    let wrong = Credentials::new(bed.monitors.clone(), bed.user.clone(), WRONG_KEY);
    note(&Cluster::connect(&wrong, &short()).await.unwrap_err());
    let dead = Credentials::new("127.0.0.1:1", bed.user.clone(), bed.key.clone());
    note(&Cluster::connect(&dead, &short()).await.unwrap_err());
    let cache = ConnectionCache::new(short(), Duration::from_secs(60));
    note(&cache.get(&wrong).await.unwrap_err());
    let garbled = Credentials::new(
        bed.monitors.clone(),
        bed.user.clone(),
        format!("{}!", bed.key),
    );
    note(&Cluster::connect(&garbled, &short()).await.unwrap_err());
}

#[test]
fn the_key_reaches_no_log_line_error_or_stderr() {
    let logs = SharedBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let stderr = StderrCapture::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut shown = Vec::new();
    rt.block_on(exercise(&mut shown));
    drop(rt);
    let stderr = stderr.finish();

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let bed = common::bed();
    // The capture works: the spans of the calls above are there.
    for op in [
        "op=\"connect\"",
        "op=\"omap_set\"",
        "op=\"mon_command\"",
        "op=\"create\"",
        "op=\"metadata_set\"",
    ] {
        assert!(logs.contains(op), "no {op} span captured");
    }
    assert!(shown.len() >= 8);
    // Key fragments, so a truncated or re-wrapped key is caught too.
    for key in [bed.key.as_str(), WRONG_KEY] {
        let fragment = &key[..24];
        assert!(!logs.contains(fragment), "key in tracing output");
        assert!(!stderr.contains(fragment), "key on stderr");
        for s in &shown {
            assert!(!s.contains(fragment), "key in an error or Debug: {s}");
        }
    }
}
