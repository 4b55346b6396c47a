//! Trace context in gRPC metadata, so a sidecar's span and the driver's span of the same CSI call
//! share one trace. Client side: [`inject_trace_context`] as a tonic interceptor. Server side:
//! [`grpc_server_span`] as the tonic server's `trace_fn`, or [`set_parent_from_metadata`] in a
//! handler that builds its own span.

use opentelemetry::Context;
use tonic::codegen::http;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing::Span;

use crate::trace_context::{Extractor, Injector, extract_context, inject_current, set_parent_from};

/// Writes into tonic metadata; keys or values that are not valid ASCII metadata are skipped,
/// since a trace header must never fail the call it rides on.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => Some(key.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// HTTP/2 request headers as the tonic server's `trace_fn` sees them (before tonic builds its
/// `MetadataMap`).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_into_metadata(metadata: &mut MetadataMap) {
    inject_current(&mut MetadataInjector(metadata));
}

/// Reads the caller's trace context from incoming gRPC metadata.
pub fn extract_from_metadata(metadata: &MetadataMap) -> Context {
    extract_context(&MetadataExtractor(metadata))
}

/// Makes `span` a child of the caller's trace carried in `metadata`; returns whether one was found.
pub fn set_parent_from_metadata(span: &Span, metadata: &MetadataMap) -> bool {
    set_parent_from(span, &MetadataExtractor(metadata))
}

/// A tonic client interceptor: `CsiClient::with_interceptor(channel, inject_trace_context)`.
/// The interceptor runs inside the caller's span, so the request carries that span's context.
#[allow(clippy::result_large_err)] // the signature tonic's `Interceptor` requires
pub fn inject_trace_context(
    mut request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    inject_into_metadata(request.metadata_mut());
    Ok(request)
}

/// The span of one incoming gRPC request, parented to the caller's trace. Meant for
/// `tonic::transport::Server::builder().trace_fn(grpc_server_span)`, which runs before the
/// handler, so every span the handler opens lands in the caller's trace.
pub fn grpc_server_span(request: &http::Request<()>) -> Span {
    let span = tracing::info_span!("grpc_request", rpc.method = %request.uri().path());
    set_parent_from(&span, &HeaderExtractor(request.headers()));
    span
}
