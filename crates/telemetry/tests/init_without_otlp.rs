//! `init` installs a process-wide subscriber, so it gets a test binary of its own: this is the
//! only test in the process that calls it.

use telemetry::{TelemetryConfig, TelemetryError, current_trace_id, init};

#[test]
fn init_without_otlp_installs_logging_once_and_refuses_a_second_call() {
    let mut bad_filter = TelemetryConfig::new("sepia-test");
    bad_filter.log_filter = "info,sepia=loud".to_owned();
    assert!(matches!(
        init(&bad_filter),
        Err(TelemetryError::InvalidLogFilter { ref filter, .. }) if filter == "info,sepia=loud"
    ));
    assert!(matches!(
        init(&TelemetryConfig::new("  ")),
        Err(TelemetryError::EmptyServiceName)
    ));

    let mut config = TelemetryConfig::new("sepia-test");
    config.log_filter = "debug".to_owned();
    config.json = true;
    let guard = init(&config).expect("first init succeeds");
    assert!(!guard.exports_traces());

    // The subscriber is the global default now: spans are real (enabled by the filter) but
    // carry no OpenTelemetry context, because no exporter was configured.
    let span = tracing::debug_span!("operation", volume_id = "0001-abc");
    assert!(!span.is_disabled());
    assert_eq!(span.in_scope(current_trace_id), None);
    assert!(tracing::enabled!(tracing::Level::DEBUG));
    assert!(!tracing::enabled!(tracing::Level::TRACE));

    assert!(matches!(
        init(&TelemetryConfig::new("sepia-test")),
        Err(TelemetryError::AlreadyInitialized)
    ));
    drop(guard);
}
