//! W3C trace context (`traceparent`/`tracestate`) in and out of string carriers such as NATS
//! headers, and the current trace id for event payloads.
//!
//! The propagator is constructed per call instead of being installed globally: it is a unit
//! struct, and keeping it local means no process-wide state beyond the subscriber.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use opentelemetry::propagation::{Extractor, Injector};

/// Writes the trace context of `cx` into `carrier`. Writes nothing when `cx` carries no valid
/// span (no OpenTelemetry layer installed), so receivers start a fresh trace instead of a
/// bogus all-zero one.
pub fn inject_context(cx: &Context, carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(cx, carrier);
}

/// Writes the trace context of the current `tracing` span into `carrier`.
pub fn inject_current(carrier: &mut dyn Injector) {
    inject_context(&Span::current().context(), carrier);
}

/// The current span's `traceparent` (and `tracestate`, if any) as header pairs; empty when the
/// current span has no OpenTelemetry context.
pub fn current_trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    inject_current(&mut headers);
    headers
}

/// Reads a remote trace context from `carrier`. Missing or malformed headers give an empty
/// context, which makes the next span a root: a bad header must never fail a request.
pub fn extract_context(carrier: &dyn Extractor) -> Context {
    TraceContextPropagator::new().extract(carrier)
}

/// Makes `span` a child of the remote trace found in `carrier`. Returns whether a valid remote
/// context was found and attached.
pub fn set_parent_from(span: &Span, carrier: &dyn Extractor) -> bool {
    let cx = extract_context(carrier);
    if !cx.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(cx).is_ok()
}

/// The current span's trace id as 32 lowercase hex digits, or `None` when there is no valid
/// OpenTelemetry context (tracing export not configured).
pub fn current_trace_id() -> Option<String> {
    let cx = Span::current().context();
    let span = cx.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

#[cfg(test)]
mod tests;
