//! `sepia completions` prints a completion script naming every subcommand and shared flag.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn completions_name_every_subcommand() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sepia"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for word in [
        "inspect",
        "orphans",
        "doctor",
        "events",
        "--credentials-dir",
        "--cluster-config",
    ] {
        assert!(
            script.contains(word),
            "{word} missing from the bash completions"
        );
    }
}
