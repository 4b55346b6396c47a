//! `sepia doctor -o json` read back: the exit status and each check by name, and the assertion
//! every misconfiguration test makes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::Value;

/// (exit ok, check name → the check) of a doctor run.
pub fn checks(out: &std::process::Output) -> (bool, BTreeMap<String, Value>) {
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let checks = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    (out.status.success(), checks)
}

/// The only failed check is `name`, and it carries a fix mentioning `fix_says`.
pub fn fails_only(ok: bool, checks: &BTreeMap<String, Value>, name: &str, fix_says: &str) {
    assert!(!ok, "doctor exited 0 with {name} broken: {checks:#?}");
    let failed: Vec<&String> = checks
        .iter()
        .filter(|(_, c)| c["ok"] == false)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(failed, vec![name], "{checks:#?}");
    let fix = checks[name]["fix"].as_str().unwrap();
    assert!(fix.contains(fix_says), "fix of {name}: {fix}");
}
