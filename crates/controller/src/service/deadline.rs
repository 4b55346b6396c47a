//! The overall budget of one RPC: the controller's `--rpc-timeout`, shortened by the client's
//! own gRPC deadline (`grpc-timeout` header) so the client hears DEADLINE_EXCEEDED from us,
//! with a message naming the volume, rather than from its own timer. When the budget runs out
//! the handler's future is dropped, which releases its locks — each once the Ceph calls it
//! started under it have returned (they end on their own deadlines), see [`crate::locks`].

use std::future::Future;
use std::time::Duration;

use tonic::metadata::MetadataMap;

use crate::error::{Error, Result};

/// Answer this much before the client's deadline so the answer reaches it in time.
const MARGIN: Duration = Duration::from_millis(200);

/// The budget for a request: `limit`, or less when the client's deadline is nearer.
pub fn budget(metadata: &MetadataMap, limit: Duration) -> Duration {
    let client = metadata
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout);
    match client {
        Some(client) => limit.min(client.saturating_sub(MARGIN).max(client / 2)),
        None => limit,
    }
}

/// Runs `work` within `budget`.
pub async fn within<T>(budget: Duration, work: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Deadline { after: budget }),
    }
}

/// gRPC's `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.checked_mul(3600)?),
        "M" => Duration::from_secs(value.checked_mul(60)?),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_grpc_timeout("1500m"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("10x"), None);
    }

    #[test]
    fn the_nearer_deadline_wins() {
        let mut md = MetadataMap::new();
        assert_eq!(
            budget(&md, Duration::from_secs(60)),
            Duration::from_secs(60)
        );
        md.insert("grpc-timeout", "10S".parse().unwrap());
        assert_eq!(
            budget(&md, Duration::from_secs(60)),
            Duration::from_millis(9800)
        );
        assert_eq!(budget(&md, Duration::from_secs(5)), Duration::from_secs(5));
    }
}
