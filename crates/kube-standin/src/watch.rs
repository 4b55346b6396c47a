//! WATCH: a chunked stream of newline-delimited `{"type": …, "object": …}` events.
//!
//! Mirrors the real server's watch contract as kube-runtime's watcher depends on it:
//! - `resourceVersion=N` streams every change after N, in revision order; N older than the
//!   history window gets one `ERROR` event carrying a 410 `Expired` Status, then the stream ends
//!   (the watcher relists on exactly that);
//! - `resourceVersion` unset or `"0"` starts with synthetic ADDED events for the current objects;
//! - `sendInitialEvents=true` (streaming lists) sends the current objects as ADDED, then a
//!   BOOKMARK annotated `k8s.io/initial-events-end: "true"`;
//! - with `allowWatchBookmarks=true`, BOOKMARKs carry the revision the watch has caught up to,
//!   periodically and just before the watch ends;
//! - `timeoutSeconds` (capped by the stand-in's maximum) ends the stream cleanly;
//! - selector-filtered watches see an object that stops matching as DELETED and one that starts
//!   matching as ADDED.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::http_io::{ApiRequest, Body};
use crate::metadata_only::to_partial;
use crate::resources::ResourceInfo;
use crate::selectors::Selectors;
use crate::shared::Shared;
use crate::status::ApiError;
use crate::store::history::{Change, ChangeKind};

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchStart {
    /// Synthetic ADDED events for the current state, then changes.
    CurrentState,
    /// Changes after this revision.
    After(u64),
}

#[derive(Debug, Clone)]
pub(crate) struct WatchRequest {
    pub(crate) info: ResourceInfo,
    pub(crate) namespace: Option<String>,
    pub(crate) selectors: Selectors,
    pub(crate) start: WatchStart,
    pub(crate) send_initial_events: bool,
    pub(crate) bookmarks: bool,
    pub(crate) timeout: Duration,
    pub(crate) metadata_only: bool,
}

impl WatchRequest {
    fn in_scope(&self, change: &Change) -> bool {
        change.gvr == self.info.gvr
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == change.namespace)
    }

    fn line(&self, event_type: &str, object: &Value) -> Bytes {
        let object = if self.metadata_only {
            to_partial(object)
        } else {
            object.clone()
        };
        let mut line = json!({ "type": event_type, "object": object }).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({
            "kind": self.info.kind,
            "apiVersion": self.info.gvr.api_version(),
            "metadata": metadata,
        });
        let mut line = json!({ "type": "BOOKMARK", "object": object }).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    /// The event a change produces for this watch, if any.
    fn event_for(&self, change: &Change) -> Option<Bytes> {
        if !self.in_scope(change) {
            return None;
        }
        let now = self.selectors.matches(&change.object);
        let before = change
            .previous
            .as_deref()
            .is_some_and(|p| self.selectors.matches(p));
        let event_type = match (change.kind, before, now) {
            (ChangeKind::Added, _, true) => "ADDED",
            (ChangeKind::Deleted, true, _) => "DELETED",
            (ChangeKind::Modified, true, true) => "MODIFIED",
            (ChangeKind::Modified, false, true) => "ADDED",
            (ChangeKind::Modified, true, false) => "DELETED",
            _ => return None,
        };
        Some(self.line(event_type, &change.object))
    }
}

fn too_old(requested: u64, oldest: u64) -> Bytes {
    let status =
        ApiError::gone(format!("too old resource version: {requested} ({oldest})")).to_status();
    let mut line = json!({ "type": "ERROR", "object": status }).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// Run one watch, sending lines into `tx` until timeout, client disconnect or shutdown.
pub(crate) async fn run(shared: Arc<Shared>, req: WatchRequest, tx: mpsc::Sender<Bytes>) {
    let deadline = Instant::now() + req.timeout;
    let mut wake = shared.store.lock().subscribe();
    let (initial, mut cursor) = {
        let store = shared.store.lock();
        let cursor = match req.start {
            WatchStart::After(rv) if !req.send_initial_events => rv,
            _ => store.current_rv(),
        };
        let initial: Vec<Bytes> =
            if req.start == WatchStart::CurrentState || req.send_initial_events {
                store
                    .iter_resource(&req.info.gvr, req.namespace.as_deref())
                    .filter(|(_, obj)| req.selectors.matches(obj))
                    .map(|(_, obj)| req.line("ADDED", obj))
                    .collect()
            } else {
                Vec::new()
            };
        (initial, cursor)
    };
    for line in initial {
        if tx.send(line).await.is_err() {
            return;
        }
    }
    if req.send_initial_events
        && req.bookmarks
        && tx.send(req.bookmark(cursor, true)).await.is_err()
    {
        return;
    }
    let interval = shared.config.bookmark_interval;
    let mut next_bookmark = Instant::now() + interval;
    let mut bookmarked = cursor;
    loop {
        wake.borrow_and_update();
        let batch = {
            let store = shared.store.lock();
            store
                .history()
                .since(cursor)
                .map(|changes| (changes, store.current_rv()))
        };
        let (changes, caught_up_to) = match batch {
            Ok(batch) => batch,
            Err(compacted) => {
                let _ = tx.send(too_old(cursor, compacted.oldest_available)).await;
                return;
            }
        };
        for change in &changes {
            if let Some(line) = req.event_for(change)
                && tx.send(line).await.is_err()
            {
                return;
            }
            cursor = change.rv;
        }
        cursor = cursor.max(caught_up_to);
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = sleep_until(deadline) => {
                if req.bookmarks {
                    let _ = tx.send(req.bookmark(cursor, false)).await;
                }
                return;
            }
            () = sleep_until(next_bookmark), if req.bookmarks => {
                next_bookmark = Instant::now() + interval;
                if cursor != bookmarked {
                    bookmarked = cursor;
                    if tx.send(req.bookmark(cursor, false)).await.is_err() {
                        return;
                    }
                }
            }
            () = tx.closed() => return,
            () = shared.shutdown.cancelled() => return,
        }
    }
}

/// Answer a `?watch=true` request: parse its parameters and stream from a spawned task.
pub(crate) fn start(
    shared: &Arc<Shared>,
    req: &ApiRequest,
    info: ResourceInfo,
    namespace: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let start = match req.query.get("resourceVersion") {
        None | Some("0") => WatchStart::CurrentState,
        Some(rv) => WatchStart::After(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let send_initial_events = req.query.flag("sendInitialEvents");
    let bookmarks = req.query.flag("allowWatchBookmarks");
    if send_initial_events && !bookmarks {
        return Err(ApiError::unprocessable(
            "ListOptions.meta.k8s.io \"\" is invalid: allowWatchBookmarks: Required value: allowWatchBookmarks must be set to true when sendInitialEvents is set",
        ));
    }
    let requested = req
        .query
        .number("timeoutSeconds")?
        .map_or(shared.config.max_watch_timeout, Duration::from_secs);
    let watch_req = WatchRequest {
        info,
        namespace,
        selectors: req.selectors()?,
        start,
        send_initial_events,
        bookmarks,
        timeout: requested.min(shared.config.max_watch_timeout),
        metadata_only: req.metadata_only(),
    };
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(run(shared.clone(), watch_req, tx));
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|line| line.map(|b| Ok::<_, Infallible>(Frame::data(b))))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
