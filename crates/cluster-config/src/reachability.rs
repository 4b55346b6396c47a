//! Telling a wrong key from a dead cluster. With a key cephx rejects, librados does not fail: it
//! retries authentication until its mount timeout, exactly as with monitors that never answer.
//! When a connect times out we therefore try a plain TCP connection to each monitor: one that
//! accepts means the cluster is there and refused who we said we were. The plugins' readiness
//! probe asks the same question periodically (`telemetry::plugin_endpoint`).

use std::time::Duration;

use tokio::net::TcpStream;

/// Ports a monitor listens on when its address names none (msgr2, then legacy).
const DEFAULT_PORTS: [u16; 2] = [3300, 6789];

/// How long one TCP probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The first monitor address (of a `mon_host` style list) that accepts a TCP connection.
pub async fn reachable_monitor(monitors: &str) -> Option<String> {
    for address in candidates(monitors) {
        if let Ok(Ok(_)) =
            tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(address.as_str())).await
        {
            return Some(address);
        }
    }
    None
}

/// `host:port` candidates of `10.0.0.1:6789,[v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0],mon.example`.
fn candidates(monitors: &str) -> Vec<String> {
    monitors
        .split([',', ' ', ';'])
        .map(|part| part.trim().trim_start_matches('[').trim_end_matches(']'))
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let part = part
                .strip_prefix("v2:")
                .or_else(|| part.strip_prefix("v1:"))
                .unwrap_or(part);
            let part = part.split('/').next().unwrap_or(part);
            if has_port(part) {
                vec![part.to_owned()]
            } else {
                DEFAULT_PORTS
                    .iter()
                    .map(|port| format!("{part}:{port}"))
                    .collect()
            }
        })
        .collect()
}

fn has_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        // An IPv6 address without brackets has colons but no port.
        Some((host, port)) => {
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lists_become_host_port_candidates() {
        assert_eq!(candidates("127.0.0.1:40123"), vec!["127.0.0.1:40123"]);
        assert_eq!(
            candidates("[v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0]"),
            vec!["10.0.0.2:3300", "10.0.0.2:6789"]
        );
        assert_eq!(candidates("mon-a"), vec!["mon-a:3300", "mon-a:6789"]);
    }

    #[tokio::test]
    async fn a_listening_port_is_reachable_and_a_closed_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().to_string();
        assert_eq!(reachable_monitor(&open).await, Some(open.clone()));
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        assert_eq!(reachable_monitor(&closed).await, None);
    }
}
