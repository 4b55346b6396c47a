//! Memory of the controller under test, from `/proc/<pid>/status`: `VmRSS` (resident now) sampled
//! during the run, and `VmHWM` (the kernel's own peak of resident memory) at the end, which also
//! catches a spike between two samples.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Sampling period during a run.
const PERIOD: Duration = Duration::from_millis(50);

/// One reading of `/proc/<pid>/status`, KiB as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Extracts `VmRSS` and `VmHWM` from the text of `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Reads the memory of `pid` now; `None` when the process is gone.
pub fn read(pid: u32) -> Option<Memory> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .as_deref()
        .and_then(parse_status)
}

/// The controller's memory over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryReport {
    pub pid: u32,
    /// Right after start-up and a Probe, before any Ceph connection.
    pub startup_rss_kib: Option<u64>,
    /// Idle before the first phase (after the warm-up connected the controller to Ceph).
    pub idle_rss_kib: u64,
    /// Highest `VmRSS` seen while sampling.
    pub sampled_peak_rss_kib: u64,
    /// `VmHWM` at the end: the peak resident size over the process's life.
    pub peak_hwm_kib: u64,
    /// After the last phase.
    pub final_rss_kib: u64,
}

/// Samples a process's `VmRSS` in the background until stopped.
pub struct Sampler {
    pid: u32,
    idle: Memory,
    stop: watch::Sender<bool>,
    task: JoinHandle<u64>,
}

impl Sampler {
    /// Takes the idle reading and starts sampling; `None` when `pid` does not exist.
    pub fn start(pid: u32) -> Option<Sampler> {
        let idle = read(pid)?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut peak = idle.rss_kib;
            let mut tick = tokio::time::interval(PERIOD);
            loop {
                tokio::select! {
                    _ = tick.tick() => match read(pid) {
                        Some(m) => peak = peak.max(m.rss_kib),
                        None => return peak,
                    },
                    _ = stopped.changed() => return peak,
                }
            }
        });
        Some(Sampler {
            pid,
            idle,
            stop,
            task,
        })
    }

    /// Stops sampling and reads the final state; `startup` is a reading taken before the
    /// sampler started, if any.
    pub async fn finish(self, startup: Option<Memory>) -> MemoryReport {
        let _ = self.stop.send(true);
        let sampled = self.task.await.unwrap_or(self.idle.rss_kib);
        let last = read(self.pid);
        MemoryReport {
            pid: self.pid,
            startup_rss_kib: startup.map(|m| m.rss_kib),
            idle_rss_kib: self.idle.rss_kib,
            sampled_peak_rss_kib: sampled.max(last.map_or(0, |m| m.rss_kib)),
            peak_hwm_kib: last.map_or(sampled, |m| m.hwm_kib),
            final_rss_kib: last.map_or(0, |m| m.rss_kib),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsepia-controll\nState:\tS (sleeping)\nVmPeak:\t  812344 kB\n\
        VmSize:\t  746808 kB\nVmHWM:\t   23544 kB\nVmRSS:\t   19012 kB\nThreads:\t8\n";

    #[test]
    fn status_text_yields_rss_and_high_water_mark() {
        assert_eq!(
            parse_status(STATUS),
            Some(Memory {
                rss_kib: 19012,
                hwm_kib: 23544
            })
        );
        assert_eq!(parse_status("Name:\tx\nVmRSS:\t12 kB\n"), None, "no VmHWM");
    }

    #[tokio::test]
    async fn sampling_our_own_process_sees_resident_memory() {
        let sampler = Sampler::start(std::process::id()).expect("we exist");
        let report = sampler.finish(read(std::process::id())).await;
        assert!(report.idle_rss_kib > 0);
        assert!(report.peak_hwm_kib >= report.final_rss_kib);
        assert!(report.sampled_peak_rss_kib >= report.idle_rss_kib);
        assert!(Sampler::start(u32::MAX).is_none(), "no such pid");
    }
}
