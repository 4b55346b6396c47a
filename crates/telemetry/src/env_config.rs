//! [`TelemetryConfig`] from the process environment, for binaries without telemetry flags of
//! their own (the CSI plugins): `RUST_LOG` for the log filter and the standard OpenTelemetry
//! variables for trace export, so the same Deployment env works for every Sepia container.

use crate::config::TelemetryConfig;
use crate::subscriber::{TelemetryGuard, init};

/// The log filter when `RUST_LOG` is unset or empty.
const DEFAULT_LOG_FILTER: &str = "info";

impl TelemetryConfig {
    /// `service_name` with `RUST_LOG` (default `info`) and the OTLP endpoint the standard
    /// OpenTelemetry variables name (see [`otlp_endpoint_from`]); text logs.
    pub fn from_env(service_name: impl Into<String>) -> Self {
        Self::from_lookup(service_name, |key| std::env::var(key).ok())
    }

    /// [`TelemetryConfig::from_env`] with the variables read through `lookup` (tests).
    pub fn from_lookup(
        service_name: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        Self {
            log_filter: non_empty(lookup("RUST_LOG"))
                .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
            otlp_endpoint: otlp_endpoint_from(&lookup),
            ..Self::new(service_name)
        }
    }
}

/// The telemetry start-up of a binary configured by its environment (the CSI plugins):
/// [`init`] with [`TelemetryConfig::from_env`], the log filter replaced by `log_filter` when a
/// flag gave one; the OTLP exporter, if any, runs on `runtime`. On failure (a bad filter) it
/// says why on stderr, as `<service_name>: <error>`, and returns `None`: the binary exits.
/// Keep the guard until the binary is about to exit, inside or beside the running runtime.
pub fn init_from_env(
    runtime: &tokio::runtime::Handle,
    service_name: &str,
    log_filter: Option<&str>,
) -> Option<TelemetryGuard> {
    let mut config = TelemetryConfig::from_env(service_name);
    if let Some(filter) = log_filter {
        config.log_filter = filter.to_owned();
    }
    let _entered = runtime.enter();
    init(&config)
        .inspect_err(|error| eprintln!("{service_name}: {error}"))
        .ok()
}

/// Where spans go, by the OpenTelemetry SDK's rules: nothing when `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none`; else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, else nothing (no collector, no exporter). Empty values count
/// as unset, as the SDKs do.
pub fn otlp_endpoint_from(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let is = |key: &str, value: &str| {
        non_empty(lookup(key)).is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    if is("OTEL_SDK_DISABLED", "true") || is("OTEL_TRACES_EXPORTER", "none") {
        return None;
    }
    non_empty(lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        .or_else(|| non_empty(lookup("OTEL_EXPORTER_OTLP_ENDPOINT")))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> TelemetryConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TelemetryConfig::from_lookup("sepia-controller", |key| vars.get(key).cloned())
    }

    #[test]
    fn without_variables_logs_at_info_and_exports_nothing() {
        assert_eq!(config(&[]), TelemetryConfig::new("sepia-controller"));
        assert_eq!(
            config(&[("RUST_LOG", " "), ("OTEL_EXPORTER_OTLP_ENDPOINT", "")]),
            TelemetryConfig::new("sepia-controller")
        );
    }

    #[test]
    fn rust_log_is_the_filter() {
        let config = config(&[("RUST_LOG", "debug,h2=warn")]);
        assert_eq!(config.log_filter, "debug,h2=warn");
    }

    #[test]
    fn the_traces_endpoint_wins_over_the_general_one() {
        let general = "http://collector:4317";
        assert_eq!(
            config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", general)]).otlp_endpoint,
            Some(general.to_owned())
        );
        assert_eq!(
            config(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", general),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
            ])
            .otlp_endpoint,
            Some("http://traces:4317".to_owned())
        );
    }

    #[test]
    fn the_sdk_switches_turn_export_off() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_SDK_DISABLED", "TRUE"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert_eq!(config(&[endpoint, off]).otlp_endpoint, None, "{off:?}");
        }
        assert!(
            config(&[endpoint, ("OTEL_SDK_DISABLED", "false")])
                .otlp_endpoint
                .is_some()
        );
    }
}
