//! Everything one run measured, and the project's targets checked against it.
//!
//! Targets (from the project guide, at 16 concurrent requests): CreateVolume at least 90 % of
//! the floor's ops/s with p99 at most 1.3× the floor's; CreateSnapshot p50 at most 1.3 s;
//! DeleteVolume at least 100 ops/s with no "in use" refusal; controller peak RSS at most
//! 30 MiB. They are reported, never asserted: a bench measures, CI does not time.

use serde::Serialize;

use crate::phase::PhaseResult;
use crate::rss::MemoryReport;
use crate::stats::ratio;
use rig::inventory::Inventory;

/// Order of operations in the report.
pub const OPS: [&str; 5] = [
    "CreateVolume",
    "CreateSnapshot",
    // CreateVolume from a snapshot (the CephFS mode).
    "Restore",
    "DeleteSnapshot",
    "DeleteVolume",
];

/// How long the mgr took to empty the trash after a mode's deletes.
#[derive(Debug, Clone, Serialize)]
pub struct Purge {
    pub variant: &'static str,
    pub seconds: Option<f64>,
    pub error: Option<String>,
}

/// A target and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub name: String,
    pub measured: String,
    pub target: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    pub count: usize,
    pub concurrency: usize,
    pub size_bytes: u64,
    pub pool: String,
    pub namespace: String,
    pub endpoint: Option<String>,
    /// `name vendor_version` from GetPluginInfo.
    pub driver: Option<String>,
    pub phases: Vec<PhaseResult>,
    pub purges: Vec<Purge>,
    pub memory: Option<MemoryReport>,
    /// What the bench's own namespace held at the end (before it was removed); `None` when
    /// the bench worked in a namespace it does not own.
    pub leftovers: Option<Inventory>,
    pub targets: Vec<TargetCheck>,
}

impl Report {
    /// The CSI line and the main floor line of `op`.
    pub fn line(&self, op: &str, variant: &str) -> Option<&PhaseResult> {
        self.phases
            .iter()
            .find(|p| p.op == op && p.variant == variant)
    }

    /// Failed operations over all phases.
    pub fn failed_ops(&self) -> usize {
        self.phases.iter().map(|p| p.errors.total()).sum()
    }

    /// Whether the run is clean: no failed operation and nothing left behind.
    pub fn clean(&self) -> bool {
        self.failed_ops() == 0
            && self.purges.iter().all(|p| p.error.is_none())
            && self.leftovers.as_ref().is_none_or(Inventory::holds_nothing)
    }

    /// Fills [`Report::targets`] from the measured lines.
    pub fn check_targets(&mut self) {
        let mut checks = Vec::new();
        if let (Some(csi), Some(floor)) = (
            self.line("CreateVolume", "csi"),
            self.line("CreateVolume", "floor"),
        ) {
            if let Some(r) = ratio(csi.latency.ops_per_sec, floor.latency.ops_per_sec) {
                checks.push(TargetCheck {
                    name: "CreateVolume ops/s vs floor".into(),
                    measured: format!("{:.0} %", r * 100.0),
                    target: "≥ 90 %".into(),
                    met: r >= 0.90,
                });
            }
            if let Some(r) = ratio(csi.latency.p99_ms, floor.latency.p99_ms) {
                checks.push(TargetCheck {
                    name: "CreateVolume p99 vs floor".into(),
                    measured: format!("{r:.2}×"),
                    target: "≤ 1.30×".into(),
                    met: r <= 1.30,
                });
            }
        }
        if let Some(csi) = self.line("CreateSnapshot", "csi") {
            let until_ready = csi.ready.as_ref().unwrap_or(&csi.latency);
            checks.push(TargetCheck {
                name: "CreateSnapshot p50 (until ready)".into(),
                measured: format!("{:.0} ms", until_ready.p50_ms),
                target: "≤ 1300 ms".into(),
                met: until_ready.ok > 0 && until_ready.p50_ms <= 1300.0,
            });
        }
        if let Some(csi) = self.line("DeleteVolume", "csi") {
            checks.push(TargetCheck {
                name: "DeleteVolume ops/s".into(),
                measured: format!("{:.1}", csi.latency.ops_per_sec),
                target: "≥ 100".into(),
                met: csi.latency.ops_per_sec >= 100.0,
            });
            checks.push(TargetCheck {
                name: "DeleteVolume \"in use\" refusals".into(),
                measured: csi.errors.in_use.to_string(),
                target: "0".into(),
                met: csi.errors.in_use == 0,
            });
        }
        if let Some(memory) = &self.memory {
            let mib = memory.peak_hwm_kib as f64 / 1024.0;
            checks.push(TargetCheck {
                name: "controller peak RSS (VmHWM)".into(),
                measured: format!("{mib:.1} MiB"),
                target: "≤ 30 MiB".into(),
                met: mib <= 30.0,
            });
        }
        self.targets = checks;
    }
}
