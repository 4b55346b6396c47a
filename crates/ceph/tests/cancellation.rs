//! Callers may give up on a call at any time (deadline, dropped future). A blocking call that
//! has started keeps its own references to the Ceph handles, so it completes safely even when
//! the caller has already dropped the cluster, ioctx and image: no use-after-free, no lost
//! write. (A call still queued for a thread when its caller leaves never starts; that half is
//! `blocking::a_call_whose_caller_gave_up_before_it_started_never_runs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::pin::pin;
use std::sync::OnceLock;
use std::thread::ThreadId;
use std::time::Duration;

use ceph::rbd::{self, CreateOptions};
use tokio::sync::watch;
use tracing::span::{Attributes, Id};
use tracing::{Subscriber, field};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

const MIB: u64 = 1 << 20;

/// The `op` of every Ceph call whose blocking thread has begun its work: the call's span is
/// entered on a thread other than the test's own (a current-thread runtime runs every async
/// poll on the test's thread, so any other thread is the blocking pool's).
struct Started {
    async_thread: ThreadId,
    ops: watch::Sender<Vec<String>>,
}

struct Op(String);

impl field::Visit for Op {
    fn record_str(&mut self, f: &field::Field, value: &str) {
        if f.name() == "op" {
            self.0 = value.to_string();
        }
    }
    fn record_debug(&mut self, f: &field::Field, value: &dyn std::fmt::Debug) {
        if f.name() == "op" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Started {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "ceph" {
            return;
        }
        let mut op = Op(String::new());
        attrs.record(&mut op);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(op);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if std::thread::current().id() == self.async_thread {
            return;
        }
        if let Some(span) = ctx.span(id)
            && let Some(op) = span.extensions().get::<Op>()
        {
            let op = op.0.clone();
            self.ops.send_modify(|ops| ops.push(op));
        }
    }
}

fn started_calls() -> watch::Receiver<Vec<String>> {
    static STARTED: OnceLock<watch::Sender<Vec<String>>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            let ops = watch::Sender::new(Vec::new());
            let layer = Started {
                async_thread: std::thread::current().id(),
                ops: ops.clone(),
            };
            tracing::subscriber::set_global_default(Registry::default().with(layer))
                .expect("the only subscriber of this test binary");
            ops
        })
        .subscribe()
}

/// Polls `call` until its blocking thread has started `op`, then drops it mid-call. Returns
/// whether it was abandoned (false: it finished before the start was seen).
async fn abandon_once_started<F: Future>(
    started: &mut watch::Receiver<Vec<String>>,
    op: &str,
    call: F,
) -> bool {
    let before = started.borrow().iter().filter(|o| *o == op).count();
    let mut call = pin!(call);
    tokio::select! {
        biased;
        _ = &mut call => false,
        seen = started.wait_for(|ops| ops.iter().filter(|o| *o == op).count() > before) => {
            seen.expect("the layer outlives the test");
            true
        }
    }
}

#[test]
fn started_calls_complete_after_their_callers_and_handles_are_gone() {
    let mut started = started_calls();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(common::in_namespace("cancel", true, |ns| async move {
        let pool = common::bed().pool.clone();
        rbd::create(&ns.io, "img", 4 * MIB, &CreateOptions::default())
            .await
            .unwrap();
        let mut abandoned = 0;
        for i in 0..10u64 {
            // A private connection whose every handle is dropped right after giving up.
            let cluster = common::connect().await;
            let io = cluster.ioctx(&pool, &ns.name).await.unwrap();
            let image = rbd::open(&io, "img").await.unwrap();
            let oid = format!("o{i}");
            let kvs: [(&str, &[u8]); 1] = [("k", b"v")];
            let write = io.omap_set_creating(&oid, &kvs);
            abandoned +=
                usize::from(abandon_once_started(&mut started, "omap_set_creating", write).await);
            let grow = image.resize((5 + i) * MIB);
            abandoned += usize::from(abandon_once_started(&mut started, "resize", grow).await);
            drop((image, io, cluster));
        }
        assert!(
            abandoned > 0,
            "every call finished before its start was seen; the test proves nothing"
        );
        let io = &ns.io;
        let all_written = common::eventually(Duration::from_secs(20), || async {
            let mut objects = io.list_objects().await.unwrap();
            objects.retain(|o| o.starts_with('o') && o.len() == 2);
            objects.len() == 10
        })
        .await;
        assert!(all_written, "abandoned omap writes did not all land");
        let grown = common::eventually(Duration::from_secs(20), || async {
            let img = rbd::open(io, "img").await.unwrap();
            let size = img.size().await.unwrap();
            img.close().await.unwrap();
            size == 14 * MIB
        })
        .await;
        // Whatever order they landed in, shrinks are refused, so the largest size wins.
        assert!(grown, "the largest abandoned resize did not land");
        // And the abandoned image handles were closed: no watcher is left behind.
        let closed = common::eventually(Duration::from_secs(20), || async {
            let img = rbd::open(io, "img").await.unwrap();
            let n = img.watchers().await.unwrap().len();
            img.close().await.unwrap();
            n == 1
        })
        .await;
        assert!(closed, "abandoned image handles still watch the image");
    }));
}
