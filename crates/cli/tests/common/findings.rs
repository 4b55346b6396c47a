//! `sepia orphans -o json` findings as a set of chosen fields, for comparing with what a test
//! made (shared by the RBD and CephFS tests, whose fixtures differ).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::Value;

/// For each finding, the `fields` named, as text (`true`/`false` for booleans).
pub fn findings(report: &Value, fields: &[&str]) -> BTreeSet<Vec<String>> {
    report["findings"]
        .as_array()
        .expect("a findings list")
        .iter()
        .map(|f| fields.iter().map(|field| text(&f[*field])).collect())
        .collect()
}

/// One expected finding, in the order of `fields`.
pub fn finding(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `--delete` removed `count` findings, every one of them.
pub fn assert_all_removed(report: &Value, count: usize) {
    let removed = report["removed"].as_array().expect("a removed list");
    assert_eq!(removed.len(), count, "{report:#}");
    assert!(
        removed
            .iter()
            .all(|r| r.as_str().is_some_and(|r| r.ends_with(": removed"))),
        "{report:#}"
    );
}
