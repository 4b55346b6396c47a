//! Asking a process's HTTP endpoint (`/metrics`, `/healthz`, `/readyz`) the way a kubelet or
//! Prometheus does, without an HTTP client crate: one HTTP/1.0 GET per connection.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How often [`until_status`] asks again.
const POLL: Duration = Duration::from_millis(100);

/// One GET of `path`: the status code and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    (status, body.to_owned())
}

/// Asks `path` until it answers `status` (panics after `limit`); that answer's body.
pub async fn until_status(addr: SocketAddr, path: &str, status: u16, limit: Duration) -> String {
    until(addr, path, limit, |got, _| got == status).await
}

/// Asks `path` until `wanted(status, body)` holds (panics after `limit`); that answer's body.
pub async fn until(
    addr: SocketAddr,
    path: &str,
    limit: Duration,
    wanted: impl Fn(u16, &str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (got, body) = get(addr, path).await;
        if wanted(got, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {got} ({body:?}) after {limit:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The address a plugin started with `--http-endpoint=127.0.0.1:0` logged that it serves on
/// (its `serving /metrics … address=…` line).
pub fn logged_address(log: &str) -> SocketAddr {
    let plain = strip_ansi(log);
    let line = plain
        .lines()
        .find(|line| line.contains("serving /metrics"))
        .unwrap_or_else(|| panic!("no HTTP endpoint in the log:\n{plain}"));
    let (_, after) = line.split_once("address=").expect("an address field");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// The value of the series whose line starts with `series` (name and labels, as encoded).
pub fn series_value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// Log lines without terminal colours.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
