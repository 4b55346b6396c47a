use std::time::{Duration, Instant};

use super::*;

/// Pids of running processes whose command line is exactly `argv` (a killed process, even one
/// not reaped yet, has no command line any more).
fn processes_running(argv: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
        .collect()
}

#[tokio::test]
async fn a_hanging_child_is_killed_at_its_deadline_and_is_gone() {
    // A duration no other test uses, so the process can be found by its command line.
    let argv = ["sleep", "4242.5"];
    let started = Instant::now();
    let err = ChildCommand::new(argv[0], Duration::from_secs(1))
        .arg(argv[1])
        .output()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, NodeError::CommandTimedOut { after, .. } if *after == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_secs(1),
        "returned before the deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(30),
        "kill took far too long: {took:?}"
    );
    assert_eq!(processes_running(&argv), Vec::<u32>::new());
}

#[tokio::test]
async fn a_grandchild_dies_with_its_timed_out_parent() {
    let argv = ["sleep", "4343.5"];
    let err = ChildCommand::new("sh", Duration::from_secs(1))
        .args(["-c", "sleep 4343.5 & sleep 4343.5; wait"])
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, NodeError::CommandTimedOut { .. }), "{err:?}");
    // SIGKILL to the group is asynchronous for the grandchild; give the kernel a moment.
    for _ in 0..50 {
        if processes_running(&argv).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(processes_running(&argv), Vec::<u32>::new());
}

#[tokio::test]
async fn a_cancelled_request_kills_its_child() {
    let argv = ["sleep", "4444.5"];
    let cmd = ChildCommand::new(argv[0], Duration::from_secs(600)).arg(argv[1]);
    let run = cmd.output();
    // Drop the future after 500 ms, as tonic does when the client goes away.
    let _ = tokio::time::timeout(Duration::from_millis(500), run).await;
    for _ in 0..50 {
        if processes_running(&argv).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(processes_running(&argv), Vec::<u32>::new());
}

#[tokio::test]
async fn a_failing_child_is_a_typed_error_with_its_stderr() {
    let err = ChildCommand::new("sh", Duration::from_secs(10))
        .args(["-c", "echo partial; echo 'no such image' >&2; exit 3"])
        .run()
        .await
        .unwrap_err();
    match err {
        NodeError::CommandFailed {
            command,
            code,
            output,
        } => {
            assert!(command.starts_with("sh -c"), "{command}");
            assert_eq!(code, Some(3));
            assert_eq!(output, "no such image");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn output_returns_non_zero_status_without_error() {
    let out = ChildCommand::new("sh", Duration::from_secs(10))
        .args(["-c", "echo hello; exit 2"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.code(), Some(2));
    assert_eq!(out.stdout, "hello\n");
}

#[tokio::test]
async fn secrets_are_scrubbed_from_output() {
    let err = ChildCommand::new("sh", Duration::from_secs(10))
        .args(["-c", "echo \"bad key AQBsecretsecret==\" >&2; exit 1"])
        .redact("AQBsecretsecret==")
        .run()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("AQBsecretsecret=="), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let err = ChildCommand::new("/nonexistent/sepia-test-binary", Duration::from_secs(5))
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, NodeError::CommandSpawn { .. }), "{err:?}");
}
