//! What an armed failpoint does, and its text form.
//!
//! The text form exists so binaries can take failpoints from a flag or an environment
//! variable (a "deliberately slow controller" in end-to-end tests) without code changes:
//! `off`, `fail`, `fail(3)`, `delay(250ms)`, `pause`, `pause_until(/path/to/file)`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::InvalidSpec;

/// Behaviour of a failpoint when it is reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Action {
    /// Only count the hit.
    #[default]
    Off,
    /// Every hit returns [`crate::Injected`].
    Fail,
    /// The next `n` hits return [`crate::Injected`], later hits pass. Lets a test crash the
    /// first attempt and retry with the same handle.
    FailTimes(u32),
    /// Sleep, then pass. The sleep is an ordinary tokio sleep, so cancelling the caller
    /// cancels it.
    Delay(Duration),
    /// Wait until the point is re-armed with another action (see
    /// [`crate::Failpoints::resume`]); lets a test hold a request in flight at an exact step.
    Pause,
    /// Wait until the file exists (or the point is re-armed). The form of `Pause` for a test
    /// that holds a step in another process: it releases the hold by creating the file.
    PauseUntil(PathBuf),
}

/// How often a [`Action::PauseUntil`] hold looks for its file.
pub(crate) const PAUSE_UNTIL_POLL: Duration = Duration::from_millis(50);

const ACTION_RULE: &str = "expected off, fail, fail(<n>), delay(<duration, e.g. 250ms>), pause \
                           or pause_until(<file path>)";

impl FromStr for Action {
    type Err = InvalidSpec;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidSpec {
            entry: text.to_owned(),
            rule: ACTION_RULE,
        };
        let text = text.trim();
        match text {
            "off" => return Ok(Action::Off),
            "fail" => return Ok(Action::Fail),
            "pause" => return Ok(Action::Pause),
            _ => {}
        }
        let (verb, rest) = text.split_once('(').ok_or_else(bad)?;
        let argument = rest.strip_suffix(')').ok_or_else(bad)?.trim();
        match verb.trim() {
            "fail" => argument.parse().map(Action::FailTimes).map_err(|_| bad()),
            "delay" => humantime::parse_duration(argument)
                .map(Action::Delay)
                .map_err(|_| bad()),
            "pause_until" if !argument.is_empty() => Ok(Action::PauseUntil(argument.into())),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action() {
        assert_eq!("off".parse::<Action>(), Ok(Action::Off));
        assert_eq!(" fail ".parse::<Action>(), Ok(Action::Fail));
        assert_eq!("fail(3)".parse::<Action>(), Ok(Action::FailTimes(3)));
        assert_eq!(
            "delay(250ms)".parse::<Action>(),
            Ok(Action::Delay(Duration::from_millis(250)))
        );
        assert_eq!("pause".parse::<Action>(), Ok(Action::Pause));
        assert_eq!(
            "pause_until(/tmp/go)".parse::<Action>(),
            Ok(Action::PauseUntil("/tmp/go".into()))
        );
    }

    #[test]
    fn rejects_malformed_actions() {
        for text in [
            "",
            "explode",
            "fail(",
            "fail(x)",
            "delay(3 parsecs)",
            "delay 1s",
            "fail(-1)",
            "pause_until()",
        ] {
            let err = text.parse::<Action>().unwrap_err();
            assert_eq!(err.rule, ACTION_RULE, "{text:?}");
        }
    }
}
