//! The report as a table for people.

use std::fmt::Write as _;

use crate::phase::PhaseResult;
use crate::report::{OPS, Report};
use crate::stats::{Summary, ratio};
use rig::size::format_size;

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sepia-bench run {}: N={} C={} size={} pool={} namespace={:?}",
        report.run_id,
        report.count,
        report.concurrency,
        format_size(report.size_bytes),
        report.pool,
        report.namespace
    );
    if let Some(endpoint) = &report.endpoint {
        let driver = report.driver.as_deref().unwrap_or("?");
        let _ = writeln!(out, "endpoint {endpoint} ({driver})");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<15} {:<11} {:<50} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}  errors",
        "operation",
        "variant",
        "what is timed",
        "ok/N",
        "ops/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms"
    );
    for op in OPS {
        for line in report.phases.iter().filter(|p| p.op == op) {
            row(&mut out, line, &line.latency, line.variant, &line.detail);
            if let Some(ready) = &line.ready {
                row(&mut out, line, ready, "", "  … until ready_to_use");
            }
        }
    }
    ratios(&mut out, report);
    if !report.purges.is_empty() {
        let _ = writeln!(out);
        for purge in &report.purges {
            match (&purge.seconds, &purge.error) {
                (Some(s), _) => {
                    let _ = writeln!(out, "trash purge after {} deletes: {s:.1} s", purge.variant);
                }
                (_, Some(e)) => {
                    let _ = writeln!(
                        out,
                        "trash purge after {} deletes FAILED: {e}",
                        purge.variant
                    );
                }
                _ => {}
            }
        }
    }
    if let Some(m) = &report.memory {
        let _ = writeln!(
            out,
            "controller pid {} memory: at start {}, idle (connected) {:.1} MiB, peak sampled VmRSS {:.1} MiB, peak VmHWM {:.1} MiB, after the run {:.1} MiB",
            m.pid,
            m.startup_rss_kib
                .map_or_else(|| "?".to_owned(), |k| format!("{:.1} MiB", mib(k))),
            mib(m.idle_rss_kib),
            mib(m.sampled_peak_rss_kib),
            mib(m.peak_hwm_kib),
            mib(m.final_rss_kib)
        );
    }
    if let Some(left) = &report.leftovers {
        let verdict = if left.holds_nothing() {
            "nothing left"
        } else {
            "LEFTOVERS"
        };
        let _ = writeln!(out, "namespace at the end: {verdict} ({})", left.brief());
    }
    for phase in report.phases.iter().filter(|p| p.errors.total() > 0) {
        for message in &phase.errors.messages {
            let _ = writeln!(out, "  {} {}: {message}", phase.op, phase.variant);
        }
    }
    if !report.targets.is_empty() {
        let _ = writeln!(out, "\ntargets (reported, not asserted):");
        for t in &report.targets {
            let verdict = if t.met { "met" } else { "MISSED" };
            let _ = writeln!(
                out,
                "  {:<36} {:>10}   target {:<9} {verdict}",
                t.name, t.measured, t.target
            );
        }
    }
    out
}

fn row(out: &mut String, line: &PhaseResult, s: &Summary, variant: &str, detail: &str) {
    let _ = writeln!(
        out,
        "{:<15} {:<11} {:<50} {:>7} {:>8.1} {:>8.0} {:>8.0} {:>8.0} {:>8.0}  {}",
        if variant.is_empty() { "" } else { line.op },
        variant,
        detail,
        format!("{}/{}", s.ok, line.attempted),
        s.ops_per_sec,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.max_ms,
        if variant.is_empty() {
            String::new()
        } else {
            line.errors.brief()
        }
    );
}

/// CSI ÷ each floor line of the same operation.
fn ratios(out: &mut String, report: &Report) {
    let mut header = false;
    for op in OPS {
        let Some(csi) = report.line(op, "csi") else {
            continue;
        };
        for floor in report
            .phases
            .iter()
            .filter(|p| p.op == op && p.variant != "csi")
        {
            let (Some(ops), Some(p99)) = (
                ratio(csi.latency.ops_per_sec, floor.latency.ops_per_sec),
                ratio(csi.latency.p99_ms, floor.latency.p99_ms),
            ) else {
                continue;
            };
            if !header {
                let _ = writeln!(out, "\nCSI ÷ floor:");
                header = true;
            }
            let _ = writeln!(
                out,
                "  {op:<15} vs {:<11} {:<50} ops/s {:>5.0} %   p99 {:>5.2}×",
                floor.variant,
                floor.detail,
                ops * 100.0,
                p99
            );
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
