//! A sidecar binary's command line as a whole: [`SidecarCommand`] says what a binary adds to
//! the shared flags (its upstream defaults, its own rules, its no-op flags, its upstream's
//! feature gates), [`parse`] reads `argv` with those defaults and runs the parse-only mode
//! (`--check-args` / `SEPIA_CHECK_ARGS=1`), and [`warn_ignored`] is the one start-up warning
//! naming every flag that was accepted but does nothing. Running what was parsed is the
//! runtime's ([`crate::runtime::launch`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;

use crate::startup::args::SidecarArgs;

/// What Sepia does about one of upstream's feature gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Sepia always behaves as if the gate had this value; asking for the other is ignored
    /// (and named in the warning).
    Fixed(bool),
    /// Sepia switches on it: read it with [`SidecarArgs::feature_gates`].
    Switch,
}

/// A sidecar binary's flags.
pub trait SidecarCommand: Parser {
    /// `sepia-provisioner` etc.
    const COMPONENT: &'static str;

    /// This binary's upstream defaults of shared flags, by clap id (`("timeout", "1m")`).
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[];

    /// Upstream's feature gates of this sidecar and what Sepia does about each.
    const FEATURE_GATES: &'static [(&'static str, Gate)] = &[];

    fn shared(&self) -> &SidecarArgs;

    /// Rules between this binary's own flags (the shared ones are checked too).
    ///
    /// # Errors
    /// A message naming the flag and the rule.
    fn validate_own(&self) -> Result<(), String> {
        Ok(())
    }

    /// This binary's own flags that were given and do nothing, as `--name`.
    fn ignored_own(&self) -> Vec<String> {
        Vec::new()
    }

    /// Every accepted-but-ignored flag and feature gate on this command line.
    fn ignored(&self) -> Vec<String> {
        let mut ignored = self.shared().ignored();
        ignored.extend(self.ignored_own());
        ignored.extend(ignored_gates(
            &self.shared().feature_gates(),
            Self::FEATURE_GATES,
        ));
        ignored
    }

    /// Every rule, shared and own.
    ///
    /// # Errors
    /// The first broken rule, as a message naming the flag.
    fn validate_all(&self) -> Result<(), String> {
        self.shared().validate().map_err(|e| e.to_string())?;
        self.validate_own()?;
        telemetry::validate(&self.shared().telemetry_config(Self::COMPONENT))
            .map_err(|e| e.to_string())
    }
}

/// The rule of a period flag such as a resync (`--resync-period`): zero would be a busy loop.
///
/// # Errors
/// The message naming `flag` (`--resync-period`) and the rule.
pub fn longer_than_zero(flag: &str, period: Duration) -> Result<(), String> {
    if period.is_zero() {
        return Err(format!(
            "invalid value for {flag}: it must be longer than zero"
        ));
    }
    Ok(())
}

/// Gates that were set to something Sepia does not do, or that this sidecar does not know.
fn ignored_gates(given: &BTreeMap<String, bool>, known: &[(&str, Gate)]) -> Vec<String> {
    given
        .iter()
        .filter_map(|(name, value)| {
            match known
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, g)| g)
            {
                Some(Gate::Switch) => None,
                Some(Gate::Fixed(fixed)) if fixed == value => None,
                Some(Gate::Fixed(fixed)) => Some(format!(
                    "--feature-gates={name}={value} (Sepia always behaves as {name}={fixed})"
                )),
                None => Some(format!(
                    "--feature-gates={name}={value} (not a feature gate of this sidecar)"
                )),
            }
        })
        .collect()
}

/// Parses `argv` with `C`'s upstream defaults.
///
/// # Errors
/// clap's error (usage, `--help`, `--version`), to be printed with `exit()`.
pub fn parse_from<C, I, T>(argv: I) -> Result<C, clap::Error>
where
    C: SidecarCommand,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // Go's flag packages let a later occurrence of a flag replace an earlier one (an overlay
    // appends to a base's args); repeatable flags (`--feature-gates`) still accumulate.
    let mut command = C::command().args_override_self(true);
    for (id, default) in C::DEFAULTS {
        command = command.mut_arg(*id, |arg| arg.default_value(*default));
    }
    let mut matches = command.try_get_matches_from(argv)?;
    C::from_arg_matches_mut(&mut matches)
}

/// The process's command line: exits on a parse error (status 2) and, in the parse-only
/// mode, after checking every rule (0 when fine, 2 when not).
pub fn parse<C: SidecarCommand>() -> C {
    let command = parse_from::<C, _, _>(std::env::args_os()).unwrap_or_else(|error| error.exit());
    if command.shared().check_args {
        std::process::exit(match check(&command) {
            Ok(()) => 0,
            Err(()) => 2,
        });
    }
    command
}

/// The parse-only mode: every rule checked, the ignored flags listed, nothing connected.
fn check<C: SidecarCommand>(command: &C) -> Result<(), ()> {
    if let Err(error) = command.validate_all() {
        eprintln!("{}: {error}", C::COMPONENT);
        return Err(());
    }
    let ignored = command.ignored();
    if ignored.is_empty() {
        eprintln!("{}: arguments OK", C::COMPONENT);
    } else {
        eprintln!(
            "{}: arguments OK; accepted but ignored: {}",
            C::COMPONENT,
            ignored.join(", ")
        );
    }
    Ok(())
}

/// The start-up warning naming every ignored flag (none when there are none).
pub fn warn_ignored<C: SidecarCommand>(command: &C) {
    let ignored = command.ignored();
    if !ignored.is_empty() {
        tracing::warn!(
            flags = %ignored.join(", "),
            "flags accepted for upstream compatibility have no effect in {}",
            C::COMPONENT
        );
    }
}

/// The exit status a parse-only run of `argv` ends with (for the binaries' tests).
pub fn check_status<C: SidecarCommand>(argv: &[&str]) -> i32 {
    match parse_from::<C, _, _>(argv) {
        Err(_) => 2,
        Ok(command) => match check(&command) {
            Ok(()) => 0,
            Err(()) => 2,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sidecar: SidecarArgs,
        #[arg(long = "own")]
        own: Option<String>,
    }

    impl SidecarCommand for Cli {
        const COMPONENT: &'static str = "sepia-test";
        const DEFAULTS: &'static [(&'static str, &'static str)] = &[("timeout", "1m")];
        const FEATURE_GATES: &'static [(&'static str, Gate)] =
            &[("Fixed", Gate::Fixed(true)), ("Switched", Gate::Switch)];
        fn shared(&self) -> &SidecarArgs {
            &self.sidecar
        }
        fn ignored_own(&self) -> Vec<String> {
            self.own.iter().map(|_| "--own".to_owned()).collect()
        }
        fn validate_own(&self) -> Result<(), String> {
            match self.own.as_deref() {
                Some("bad") => Err("invalid value for --own".into()),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn a_binarys_defaults_replace_the_shared_ones_and_flags_still_win() {
        let cli: Cli = parse_from(["sepia-test"]).unwrap();
        assert_eq!(cli.sidecar.timeout, std::time::Duration::from_secs(60));
        let cli: Cli = parse_from(["sepia-test", "--timeout=150s"]).unwrap();
        assert_eq!(cli.sidecar.timeout, std::time::Duration::from_secs(150));
    }

    #[test]
    fn a_later_flag_replaces_an_earlier_one_as_in_go() {
        let cli: Cli = parse_from([
            "sepia-test",
            "--csi-address=/a.sock",
            "--timeout=5s",
            "--csi-address=/b.sock",
            "--feature-gates=A=true",
            "--feature-gates=B=false",
        ])
        .unwrap();
        assert_eq!(cli.sidecar.csi_address, "/b.sock");
        assert_eq!(cli.sidecar.timeout, std::time::Duration::from_secs(5));
        assert_eq!(
            cli.sidecar.feature_gates(),
            BTreeMap::from([("A".into(), true), ("B".into(), false)]),
            "repeatable flags accumulate"
        );
    }

    #[test]
    fn ignored_flags_and_gates_are_named() {
        let cli: Cli = parse_from([
            "sepia-test",
            "--v=5",
            "--own=x",
            "--feature-gates=Fixed=true,Switched=false",
            "--feature-gates=Fixed=false,Unknown=true",
        ])
        .unwrap();
        assert_eq!(
            cli.ignored(),
            [
                "--v",
                "--own",
                "--feature-gates=Fixed=false (Sepia always behaves as Fixed=true)",
                "--feature-gates=Unknown=true (not a feature gate of this sidecar)",
            ]
        );
        let quiet: Cli = parse_from(["sepia-test", "--feature-gates=Fixed=true"]).unwrap();
        assert!(quiet.ignored().is_empty());
    }

    #[test]
    fn a_period_of_zero_is_refused_naming_the_flag() {
        assert_eq!(longer_than_zero("--resync", Duration::from_secs(1)), Ok(()));
        assert_eq!(
            longer_than_zero("--resync", Duration::ZERO),
            Err("invalid value for --resync: it must be longer than zero".to_owned())
        );
    }

    #[test]
    fn the_parse_only_mode_answers_with_the_exit_code() {
        assert_eq!(
            check_status::<Cli>(&["sepia-test", "--http-endpoint=:8080", "--own=x"]),
            0
        );
        for argv in [
            &["sepia-test", "--no-such-flag"][..],
            &["sepia-test", "--http-endpoint=8080"][..],
            &["sepia-test", "--own=bad"][..],
            &["sepia-test", "--log-filter=info,[bad"][..],
            &[
                "sepia-test",
                "--leader-election",
                "--leader-election-renew-deadline=14800ms",
            ][..],
        ] {
            assert_eq!(check_status::<Cli>(argv), 2, "{argv:?}");
        }
    }
}
