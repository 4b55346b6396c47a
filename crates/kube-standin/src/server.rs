//! The HTTP/1.1 server: accept loop, per-connection tasks, pause and shutdown.
//!
//! Plain HTTP on 127.0.0.1 (kube's connector speaks `http://` cluster URLs). Pausing closes
//! every open connection (watches included) and then accepts-and-drops new ones, which a client
//! sees as an unreachable API server: requests fail with a connection error and watches end
//! (a 503 would instead be retried transparently by kube's default retry policy).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::access;
use crate::api::handle;
use crate::faults::FaultAction;
use crate::http_io::{ApiRequest, Body, error_response};
use crate::request_log::RequestRecord;
use crate::shared::Shared;

/// Accept connections until shutdown.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            () = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Usually EMFILE under load; back off briefly instead of spinning.
                tracing::warn!(error = %e, "stand-in accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.paused.load(Ordering::SeqCst) {
            drop(stream);
            continue;
        }
        let token = shared.connections.lock().clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| on_request(shared.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = token.cancelled() => {}
            }
        });
    }
}

/// An injected fault's disconnect: returning an error makes hyper close the connection.
#[derive(Debug, thiserror::Error)]
#[error("injected disconnect")]
struct InjectedDisconnect;

async fn on_request(
    shared: Arc<Shared>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<Response<Body>, InjectedDisconnect> {
    let mut record = RequestRecord::new(&req);
    let fault = shared.faults.lock().take(req.method(), req.uri().path());
    match fault {
        Some(FaultAction::Disconnect) => {
            shared.requests.lock().push(record);
            return Err(InjectedDisconnect);
        }
        Some(FaultAction::Fail(err)) => {
            record.status = err.code;
            record.message.clone_from(&err.message);
            shared.requests.lock().push(record);
            return Ok(error_response(&err));
        }
        Some(FaultAction::Delay(by)) => tokio::time::sleep(by).await,
        None => {}
    }
    let served = match ApiRequest::read(req).await {
        Ok(api_req) => match access::authenticate(&shared.store, &shared.tokens, &api_req) {
            Ok(user) => {
                record.user.clone_from(&user.name);
                handle(shared.clone(), api_req, user).await
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let response = served.unwrap_or_else(|e| {
        record.message.clone_from(&e.message);
        error_response(&e)
    });
    record.status = response.status().as_u16();
    shared.requests.lock().push(record);
    Ok(response)
}

/// Bind 127.0.0.1 on an ephemeral port.
pub(crate) async fn bind() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
