//! Wall-clock readings in the two forms the snapshot objects use: a metav1 Time (whole
//! seconds, as it serializes) and Unix nanoseconds (content creationTime).

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Now, cut to whole seconds so a written Time equals what is read back.
pub fn now_time() -> Time {
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Now in Unix nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or_default()
}

/// How long ago `time` was (zero for the future).
pub fn since(time: &Time) -> std::time::Duration {
    let elapsed = Timestamp::now().as_millisecond() - time.0.as_millisecond();
    std::time::Duration::from_millis(u64::try_from(elapsed).unwrap_or_default())
}
