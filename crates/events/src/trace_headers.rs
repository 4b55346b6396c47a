//! NATS message headers as a trace-context carrier, so a consumer's span continues the span
//! that published the event (the publisher writes `traceparent` there, see [`crate::publisher`]).

use async_nats::HeaderMap;

/// Reads `traceparent`/`tracestate` from a received message's headers.
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl telemetry::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(async_nats::HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use telemetry::Extractor as _;

    use super::*;

    #[test]
    fn reads_the_headers_the_publisher_writes() {
        let mut headers = HeaderMap::new();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        headers.insert("traceparent", traceparent);
        let extractor = HeaderExtractor(&headers);
        assert_eq!(extractor.get("traceparent"), Some(traceparent));
        assert_eq!(extractor.get("tracestate"), None);
        assert_eq!(extractor.keys(), vec!["traceparent"]);
    }
}
