//! Publisher settings: a plain value built from a binary's `--nats-url` and friends.

use std::time::Duration;

use async_nats::ServerAddr;

use crate::error::EventsError;
use crate::subject::STREAM_SUBJECTS;

/// Capped exponential backoff between attempts (connecting, ensuring the stream, publishing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `failures + 1`: `initial · 2^(failures-1)`, capped at `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }
}

/// How to reach NATS and how much to hold while it is away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublisherConfig {
    /// One URL or a comma-separated list (`nats://a:4222,nats://b:4222`). May contain
    /// credentials; it is never logged or put in an error.
    pub nats_url: String,
    /// Client name shown in the server's connection list, e.g. `sepia-provisioner`.
    pub client_name: Option<String>,
    /// The JetStream stream (created if missing) that captures `sepia.>`.
    pub stream_name: String,
    /// How long JetStream remembers message ids. A retry within this window is stored once.
    pub duplicate_window: Duration,
    /// How long the stream keeps events.
    pub max_age: Duration,
    /// Events held while NATS is away; beyond this the oldest are dropped (and counted).
    pub outbox_capacity: usize,
    /// Bound on one publish (send + PubAck) and on JetStream API calls.
    pub publish_timeout: Duration,
    /// Delay between failed attempts; also paces the client's reconnects.
    pub backoff: Backoff,
}

impl PublisherConfig {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            client_name: None,
            stream_name: "SEPIA".to_owned(),
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(7 * 24 * 3600),
            outbox_capacity: 10_000,
            publish_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
        }
    }

    /// The parsed server addresses, after checking every setting against the rules NATS or the
    /// outbox would otherwise enforce at a worse moment.
    pub(crate) fn validate(&self) -> Result<Vec<ServerAddr>, EventsError> {
        let invalid = |setting, rule: &str| EventsError::InvalidConfig {
            setting,
            rule: rule.to_owned(),
        };
        if self.outbox_capacity == 0 {
            return Err(invalid("outbox_capacity", "it must be at least 1"));
        }
        let name_ok = !self.stream_name.is_empty()
            && self
                .stream_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(invalid(
                "stream_name",
                "it must be non-empty ASCII letters, digits, '-' or '_' (NATS stream name rules)",
            ));
        }
        if self.duplicate_window.is_zero() {
            return Err(invalid("duplicate_window", "it must be longer than zero"));
        }
        if self.max_age < self.duplicate_window {
            return Err(invalid(
                "max_age",
                "it must not be shorter than duplicate_window (JetStream refuses such a stream)",
            ));
        }
        if self.publish_timeout.is_zero() {
            return Err(invalid("publish_timeout", "it must be longer than zero"));
        }
        if self.backoff.initial.is_zero() || self.backoff.max < self.backoff.initial {
            return Err(invalid(
                "backoff",
                "initial must be longer than zero and max at least initial",
            ));
        }
        let addrs = self
            .nats_url
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<ServerAddr>()
                    .map_err(|error| EventsError::InvalidNatsUrl {
                        reason: error.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if addrs.is_empty() {
            return Err(EventsError::InvalidNatsUrl {
                reason: "it names no server".to_owned(),
            });
        }
        Ok(addrs)
    }

    /// The subjects the stream captures; fixed because every subject starts with `sepia.`.
    pub fn stream_subjects(&self) -> &'static str {
        STREAM_SUBJECTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let delays: Vec<_> = (1..=6).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn defaults_validate_and_urls_parse() {
        let config = PublisherConfig::new("nats://127.0.0.1:4222, nats://127.0.0.2:4222");
        assert_eq!(config.validate().expect("valid").len(), 2);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        type Spoil = fn(&mut PublisherConfig);
        let cases: [(&str, Spoil); 5] = [
            ("outbox_capacity", |c| c.outbox_capacity = 0),
            ("stream_name", |c| c.stream_name = "SEPIA.EVENTS".to_owned()),
            ("max_age", |c| c.max_age = Duration::from_secs(1)),
            ("publish_timeout", |c| c.publish_timeout = Duration::ZERO),
            ("backoff", |c| c.backoff.max = Duration::ZERO),
        ];
        for (setting, spoil) in cases {
            let mut config = PublisherConfig::new("nats://127.0.0.1:4222");
            spoil(&mut config);
            match config.validate() {
                Err(EventsError::InvalidConfig { setting: s, .. }) => assert_eq!(s, setting),
                other => panic!("{setting}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_unparsable_url_is_refused_without_echoing_it() {
        let config = PublisherConfig::new("http://user:hunter2@127.0.0.1:4222");
        let error = config.validate().expect_err("http is not a NATS scheme");
        assert!(matches!(error, EventsError::InvalidNatsUrl { .. }));
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let empty = PublisherConfig::new(" , ");
        assert!(matches!(
            empty.validate(),
            Err(EventsError::InvalidNatsUrl { .. })
        ));
    }
}
