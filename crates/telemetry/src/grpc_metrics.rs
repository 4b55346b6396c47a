//! [`GrpcMetrics`]: what a gRPC server (the CSI plugins) did, as a tower layer every plugin puts
//! in front of its services, so all four plugins count the same way:
//!
//! - `grpc_server_handled_total{grpc_service,grpc_method,grpc_code}` — finished calls;
//! - `grpc_server_handling_seconds{grpc_service,grpc_method,grpc_code}` — their durations;
//! - `grpc_server_in_flight_requests{grpc_service,grpc_method}` — calls being served now.
//!
//! Names and labels are go-grpc-prometheus' (`grpc_code` spelled as Go spells codes), which
//! gRPC dashboards already query; the duration also carries the code because a refused call
//! (ABORTED on a held lock) takes microseconds and would hide the slow successful ones.
//!
//! The code is read from the response headers: tonic answers a failed unary call with a
//! "trailers-only" response whose headers hold `grpc-status`, and a successful one with headers
//! without it (the `OK` comes in the trailers). CSI has no streaming RPCs, so the time until the
//! headers is the handler's time. Labels come from the request path, and only paths shaped
//! `/package.Service/Method` are used verbatim (others, which the router refuses, are counted
//! as `unknown`): volume ids and names never reach a label.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::csi_operation_metrics::{CSI_OPERATION_BUCKETS, grpc_code_name};

/// The label value of anything that is not a well-formed gRPC path.
const UNKNOWN: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_service: String,
    grpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_service: String,
    grpc_method: String,
    grpc_code: &'static str,
}

type Durations = Family<HandledLabels, Histogram, fn() -> Histogram>;

fn new_histogram() -> Histogram {
    Histogram::new(CSI_OPERATION_BUCKETS)
}

/// The server's call metrics. Cheap to clone; clones share the counters. [`GrpcMetrics::layer`]
/// measures a tonic server with them.
#[derive(Clone, Debug)]
pub struct GrpcMetrics {
    handled: Family<HandledLabels, Counter>,
    durations: Durations,
    in_flight: Family<MethodLabels, Gauge>,
}

impl Default for GrpcMetrics {
    /// Metrics nobody scrapes: for servers started without an HTTP endpoint (tests, embedding).
    fn default() -> Self {
        Self {
            handled: Family::default(),
            durations: Durations::new_with_constructor(new_histogram),
            in_flight: Family::default(),
        }
    }
}

impl GrpcMetrics {
    /// Registers the three families in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "grpc_server_handled",
            "RPCs completed on the server, by method and gRPC status code",
            metrics.handled.clone(),
        );
        registry.register_with_unit(
            "grpc_server_handling",
            "Time the server took to answer an RPC, by method and gRPC status code",
            Unit::Seconds,
            metrics.durations.clone(),
        );
        registry.register(
            "grpc_server_in_flight_requests",
            "RPCs the server is handling now",
            metrics.in_flight.clone(),
        );
        metrics
    }

    /// A tower layer for `tonic::transport::Server::builder().layer(..)`.
    pub fn layer(&self) -> GrpcMetricsLayer {
        GrpcMetricsLayer {
            metrics: self.clone(),
        }
    }

    fn start(&self, path: &str) -> InFlight {
        let method = method_labels(path);
        let gauge = self.in_flight.get_or_create(&method).clone();
        gauge.inc();
        InFlight {
            metrics: self.clone(),
            method,
            gauge,
            started: Instant::now(),
        }
    }

    fn finish(&self, method: MethodLabels, code: tonic::Code, took: Duration) {
        let labels = HandledLabels {
            grpc_service: method.grpc_service,
            grpc_method: method.grpc_method,
            grpc_code: grpc_code_name(code),
        };
        self.handled.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// `/csi.v1.Controller/CreateVolume` → (`csi.v1.Controller`, `CreateVolume`).
fn method_labels(path: &str) -> MethodLabels {
    let well_formed = |part: &str| {
        !part.is_empty()
            && part.len() <= 64
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
    };
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .filter(|(service, method)| well_formed(service) && well_formed(method))
        .unwrap_or((UNKNOWN, UNKNOWN));
    MethodLabels {
        grpc_service: service.to_owned(),
        grpc_method: method.to_owned(),
    }
}

/// The status of a response as its headers tell it; no `grpc-status` header on a 200 is a
/// call whose `OK` follows in the trailers.
fn response_code<B>(response: &http::Response<B>) -> tonic::Code {
    match response.headers().get("grpc-status") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.parse::<i32>().ok())
            .map_or(tonic::Code::Unknown, tonic::Code::from_i32),
        None if response.status() == http::StatusCode::OK => tonic::Code::Ok,
        None => tonic::Code::Unknown,
    }
}

/// One call being served: counted in flight until dropped, also when the caller went away and
/// the server dropped the call's future.
struct InFlight {
    metrics: GrpcMetrics,
    method: MethodLabels,
    gauge: Gauge,
    started: Instant,
}

impl InFlight {
    fn finish(self, code: tonic::Code) {
        self.metrics
            .finish(self.method.clone(), code, self.started.elapsed());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// See [`GrpcMetrics::layer`].
#[derive(Clone, Debug)]
pub struct GrpcMetricsLayer {
    metrics: GrpcMetrics,
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: GrpcMetrics,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcMetricsService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = self.metrics.start(request.uri().path());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            // A transport error never reached a handler; tonic reports it as UNKNOWN.
            call.finish(match &response {
                Ok(response) => response_code(response),
                Err(_) => tonic::Code::Unknown,
            });
            response
        })
    }
}

#[cfg(test)]
mod tests;
