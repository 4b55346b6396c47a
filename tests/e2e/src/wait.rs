//! Waiting for the cluster: poll an object until a predicate holds or a deadline passes. Polls
//! rather than watches so one helper works for every kind and every environment; the deadline
//! error names the object and the last state seen, which is what one needs to debug a hang.

use std::time::Duration;

use anyhow::{Result, bail};
use kube::Api;
use kube::api::DynamicObject;
use serde_json::Value;

/// How long a step may take before the scenario fails. Generous: a real cluster pulls images
/// and a clone takes several Ceph steps.
pub const STEP: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(500);

/// Polls `name` until `done` holds (on `None` for "absent"); returns the object then.
pub async fn until(
    api: &Api<DynamicObject>,
    name: &str,
    what: &str,
    done: impl Fn(Option<&Value>) -> bool,
) -> Result<Option<Value>> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let current = api
            .get_opt(name)
            .await?
            .map(serde_json::to_value)
            .transpose()?;
        if done(current.as_ref()) {
            return Ok(current);
        }
        if tokio::time::Instant::now() >= deadline {
            let seen = current
                .as_ref()
                .map(|v| serde_json::to_string(&v["status"]).unwrap_or_default())
                .unwrap_or_else(|| "absent".to_owned());
            bail!("{what}: {name} not there after {STEP:?}; last status: {seen}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls until `name` no longer exists.
pub async fn gone(api: &Api<DynamicObject>, name: &str, what: &str) -> Result<()> {
    until(api, name, &format!("{what} deleted"), |o| o.is_none()).await?;
    Ok(())
}

/// Polls an async probe until it returns `Some`.
pub async fn until_some<T, F, Fut>(what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Some(found) = probe().await? {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{what}: not reached after {STEP:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}
