//! [`upstream_only_flags!`](crate::upstream_only_flags): declares a sidecar's flags that exist
//! only so command lines written for its upstream twin start — each accepted in Go's syntax
//! (booleans bare or with `=value`, values with `=` or a space), each an `Option` so
//! [`given`](#method.given) can name the ones on the command line for the start-up warning.

/// Declares `struct $name` (a `clap::Args` to flatten into a binary's flags) with one
/// `Option<bool>` per boolean flag and one `Option<T>` per value flag, and `given()`, the
/// `--names` of those present.
///
/// ```ignore
/// sidecar::upstream_only_flags! {
///     /// external-provisioner's flags Sepia does not act on.
///     pub struct ProvisionerOnly {
///         bools { "strict-topology" => strict_topology }
///         values { "master" => master: String = clap::builder::NonEmptyStringValueParser::new() }
///     }
/// }
/// ```
#[macro_export]
macro_rules! upstream_only_flags {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            bools { $( $bflag:literal => $bfield:ident ),* $(,)? }
            values { $( $vflag:literal => $vfield:ident : $vty:ty = $parser:expr ),* $(,)? }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, clap::Args)]
        $vis struct $name {
            $(
                #[arg(
                    long = $bflag,
                    num_args = 0..=1,
                    require_equals = true,
                    default_missing_value = "true",
                    value_parser = clap::builder::BoolishValueParser::new(),
                    action = clap::ArgAction::Set,
                    help = "Accepted for upstream's manifests; has no effect in Sepia",
                    hide_short_help = true,
                )]
                pub $bfield: Option<bool>,
            )*
            $(
                #[arg(
                    long = $vflag,
                    value_parser = $parser,
                    help = "Accepted for upstream's manifests; has no effect in Sepia",
                    hide_short_help = true,
                )]
                pub $vfield: Option<$vty>,
            )*
        }

        impl $name {
            /// The flags of this set on the command line, as `--name`.
            pub fn given(&self) -> Vec<String> {
                let mut given = Vec::new();
                $( if self.$bfield.is_some() { given.push(concat!("--", $bflag).to_owned()); } )*
                $( if self.$vfield.is_some() { given.push(concat!("--", $vflag).to_owned()); } )*
                given
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    crate::upstream_only_flags! {
        /// Two of each.
        struct Only {
            bools { "strict-topology" => strict_topology, "enable-pprof" => enable_pprof }
            values {
                "master" => master: String = clap::builder::NonEmptyStringValueParser::new(),
                "capacity-poll-interval" => capacity_poll_interval: std::time::Duration
                    = crate::startup::go_flag::duration,
            }
        }
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        only: Only,
    }

    fn given(argv: &[&str]) -> Vec<String> {
        let mut full = vec!["x"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).unwrap().only.given()
    }

    #[test]
    fn go_spellings_are_accepted_and_the_given_flags_named() {
        assert!(given(&[]).is_empty());
        assert_eq!(
            given(&[
                "--strict-topology",
                "--enable-pprof=false",
                "--master",
                "https://api:6443",
                "--capacity-poll-interval=1m30s",
            ]),
            [
                "--strict-topology",
                "--enable-pprof",
                "--master",
                "--capacity-poll-interval"
            ]
        );
        let cli =
            Cli::try_parse_from(["x", "--enable-pprof=false", "--strict-topology=1"]).unwrap();
        assert_eq!(cli.only.enable_pprof, Some(false));
        assert_eq!(cli.only.strict_topology, Some(true));
    }

    #[test]
    fn values_are_still_checked() {
        for argv in [
            &["x", "--capacity-poll-interval=soon"][..],
            &["x", "--strict-topology=maybe"][..],
            &["x", "--strict-topology", "false"][..],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }
}
