//! Numbered steps with timings, printed as they run, and the summary table at the end.
//!
//! A step prints `[ 3/16] title … ok (12 ms)` (or `FAILED`), then its details indented below.
//! The story stops at the first failure; what did not run is listed as skipped, so the summary
//! always shows the whole plan.

use std::future::Future;
use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::table::Table;

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(String),
    Skipped,
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub number: usize,
    pub title: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// The steps of one demo run.
pub struct Story {
    plan: Vec<String>,
    done: Vec<StepRecord>,
    started: Instant,
}

impl Story {
    /// A story with these step titles, in order.
    pub fn new(plan: &[&str]) -> Story {
        Story {
            plan: plan.iter().map(|t| (*t).to_owned()).collect(),
            done: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Runs the next step of the plan; its error is recorded and returned.
    pub async fn step<T, Fut>(&mut self, work: Fut) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let number = self.done.len() + 1;
        let title = self
            .plan
            .get(number - 1)
            .cloned()
            .unwrap_or_else(|| "(unplanned step)".to_owned());
        print!("[{number:>2}/{}] {title} … ", self.plan.len());
        let _ = std::io::stdout().flush();
        let start = Instant::now();
        let result = work.await;
        let elapsed = start.elapsed();
        let outcome = match &result {
            Ok(_) => {
                println!("ok ({})", format_duration(elapsed));
                Outcome::Ok
            }
            Err(e) => {
                println!("FAILED ({})\n        {e}", format_duration(elapsed));
                Outcome::Failed(e.to_string())
            }
        };
        self.done.push(StepRecord {
            number,
            title,
            outcome,
            elapsed,
        });
        result
    }

    /// Prints details under the last step, indented.
    pub fn detail(&self, text: &str) {
        for line in text.lines() {
            if line.is_empty() {
                println!();
            } else {
                println!("        {line}");
            }
        }
    }

    /// Whether every step so far succeeded.
    pub fn succeeded(&self) -> bool {
        self.done.iter().all(|s| s.outcome == Outcome::Ok)
    }

    /// Every planned step with its outcome (steps that never ran are skipped).
    pub fn records(&self) -> Vec<StepRecord> {
        let mut all = self.done.clone();
        for (i, title) in self.plan.iter().enumerate().skip(self.done.len()) {
            all.push(StepRecord {
                number: i + 1,
                title: title.clone(),
                outcome: Outcome::Skipped,
                elapsed: Duration::ZERO,
            });
        }
        all
    }

    /// The summary table: step, result, time; and the total.
    pub fn summary(&self) -> String {
        let mut table = Table::new(["#", "step", "result", "time"]);
        for record in self.records() {
            let (result, time) = match &record.outcome {
                Outcome::Ok => ("ok", format_duration(record.elapsed)),
                Outcome::Failed(_) => ("FAILED", format_duration(record.elapsed)),
                Outcome::Skipped => ("skipped", String::new()),
            };
            table.row([
                record.number.to_string(),
                record.title,
                result.to_owned(),
                time,
            ]);
        }
        let ok = self
            .done
            .iter()
            .filter(|s| s.outcome == Outcome::Ok)
            .count();
        format!(
            "{}\n  {ok} of {} steps succeeded in {}\n",
            table.render("  "),
            self.plan.len(),
            format_duration(self.started.elapsed())
        )
    }
}

/// `12 ms`, `1.4 s`.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[tokio::test]
    async fn a_failed_step_is_recorded_and_the_rest_are_skipped() {
        let mut story = Story::new(&["first", "second", "third"]);
        assert_eq!(story.step(async { Ok(7) }).await.unwrap(), 7);
        let failed: Result<()> = story
            .step(async {
                Err(Error::Check {
                    problems: vec!["no image".into()],
                })
            })
            .await;
        assert!(failed.is_err());
        assert!(!story.succeeded());
        let records = story.records();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].outcome, Outcome::Ok);
        assert!(matches!(&records[1].outcome, Outcome::Failed(m) if m.contains("no image")));
        assert_eq!(records[2].outcome, Outcome::Skipped);
        let summary = story.summary();
        assert!(summary.contains("1 of 3 steps succeeded"), "{summary}");
        assert!(
            summary.contains("third") && summary.contains("skipped"),
            "{summary}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(12)), "12 ms");
        assert_eq!(format_duration(Duration::from_millis(1440)), "1.4 s");
    }
}
