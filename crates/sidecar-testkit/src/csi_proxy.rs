//! A gRPC (HTTP/2) proxy between one sidecar and its CSI driver that writes every call into a
//! [`CallLog`] shared by all proxies of a test: one total order of the calls of several
//! processes, as the driver side saw them begin and end. A test asserts on that order (which
//! replica called what, before or after whom) instead of on clocks.
//!
//! A call is `Started` when its request arrives, `Answered` when the driver's response
//! headers come back (a unary CSI handler answers only when it is done), and `Cancelled` when
//! the caller reset the stream or went away first (the proxy then resets the driver's stream
//! too, as the connection would).
//!
//! An [`AnswerHold`] keeps one method's answers from the sidecar while it is closed: the
//! driver has done the work, the sidecar does not know it (its deadline passes, it retries),
//! exactly as when an answer is lost — until the test opens it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Mutex;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Started,
    Answered,
    Cancelled,
}

/// One step of one call: who called (the proxy's label), the gRPC path
/// (`/csi.v1.Controller/CreateVolume`), and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub caller: String,
    pub method: String,
    pub phase: Phase,
}

/// Every call through every proxy that shares it, in the order the proxies saw them.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<CallEvent>>>);

impl CallLog {
    pub fn events(&self) -> Vec<CallEvent> {
        self.0.lock().unwrap().clone()
    }

    fn push(&self, caller: &str, method: &str, phase: Phase) {
        self.0.lock().unwrap().push(CallEvent {
            caller: caller.to_owned(),
            method: method.to_owned(),
            phase,
        });
    }
}

/// Holds the answers of calls to one method (`/csi.v1.Controller/CreateVolume`) while closed.
/// Clones share the state.
#[derive(Debug, Clone)]
pub struct AnswerHold {
    method: String,
    open: Arc<watch::Sender<bool>>,
}

impl AnswerHold {
    /// A closed hold on `method`.
    pub fn closed(method: &str) -> Self {
        Self {
            method: method.to_owned(),
            open: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Lets held and later answers through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    async fn pass(&self, method: &str) {
        if method == self.method {
            let mut open = self.open.subscribe();
            let _ = open.wait_for(|open| *open).await;
        }
    }
}

/// A proxy serving a unix socket of its own in front of the driver's.
pub struct CsiProxy {
    socket: PathBuf,
    task: JoinHandle<()>,
}

impl CsiProxy {
    /// Serves `socket`, forwarding to the driver at `upstream`; calls are logged as `caller`.
    pub fn start(caller: &str, upstream: &Path, socket: PathBuf, log: CallLog) -> Self {
        Self::start_holding(caller, upstream, socket, log, None)
    }

    /// [`CsiProxy::start`] whose answers to `hold`'s method wait while `hold` is closed.
    pub fn start_holding(
        caller: &str,
        upstream: &Path,
        socket: PathBuf,
        log: CallLog,
        hold: Option<AnswerHold>,
    ) -> Self {
        let listener = UnixListener::bind(&socket).unwrap();
        let upstream = upstream.to_owned();
        let caller = caller.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(serve(
                    inbound,
                    upstream.clone(),
                    caller.clone(),
                    log.clone(),
                    hold.clone(),
                ));
            }
        });
        Self { socket, task }
    }

    /// The `--csi-address` of the sidecar behind this proxy.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for CsiProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One sidecar connection: one driver connection, every stream forwarded on it.
async fn serve(
    inbound: UnixStream,
    upstream: PathBuf,
    caller: String,
    log: CallLog,
    hold: Option<AnswerHold>,
) {
    let Ok(outbound) = UnixStream::connect(&upstream).await else {
        return;
    };
    let Ok((sender, connection)) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(outbound)).await
    else {
        return;
    };
    tokio::spawn(connection);
    let service = service_fn(move |request| {
        forward(
            request,
            sender.clone(),
            caller.clone(),
            log.clone(),
            hold.clone(),
        )
    });
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(inbound), service)
        .await;
}

async fn forward(
    request: Request<Incoming>,
    mut sender: SendRequest<Incoming>,
    caller: String,
    log: CallLog,
    hold: Option<AnswerHold>,
) -> Result<Response<Incoming>, hyper::Error> {
    let mut call = Call {
        caller,
        method: request.uri().path().to_owned(),
        log,
        ended: false,
    };
    call.log.push(&call.caller, &call.method, Phase::Started);
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    if let Some(hold) = &hold {
        hold.pass(&call.method).await;
    }
    call.ended = true;
    call.log.push(&call.caller, &call.method, Phase::Answered);
    Ok(response)
}

/// Logs `Cancelled` when the forwarding future is dropped before the answer (the caller reset
/// the stream or its connection closed).
struct Call {
    caller: String,
    method: String,
    log: CallLog,
    ended: bool,
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.ended {
            self.log.push(&self.caller, &self.method, Phase::Cancelled);
        }
    }
}
