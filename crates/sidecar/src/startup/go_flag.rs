//! Flag values in the syntaxes the kubernetes-csi sidecars' Go flag packages read, so a command
//! line written for an upstream sidecar means the same to a Sepia one:
//! - durations as Go's `time.ParseDuration` (`150s`, `1m30s`, `1.5h`, `0`, `+5s`);
//! - listen addresses as `net.Listen` (`:8080` = every interface), with `""` = no endpoint;
//! - `--feature-gates` as component-base's `MapStringBool` (`A=true,B=false`, merged over
//!   repeated flags);
//! - `--leader-election-labels` as csi-lib-utils' `key:value,key:value`.
//!
//! Booleans are declared on each flag (`require_equals`, `BoolishValueParser`), which accepts
//! every spelling Go's `strconv.ParseBool` does.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use telemetry::ListenAddress;

/// A Go duration. Negative ones are refused: no sidecar flag means anything by them.
///
/// # Errors
/// A message naming the accepted forms.
pub fn duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!("{text:?}: a duration must not be negative"));
    }
    let unsigned = trimmed.strip_prefix('+').unwrap_or(trimmed);
    humantime::parse_duration(unsigned).map_err(|error| {
        format!(
            "{text:?} is not a duration ({error}); write it as Go does, e.g. 500ms, 150s, 1m30s, 2h"
        )
    })
}

/// `--http-endpoint` / `--metrics-address`: empty (the default) means no HTTP server, as
/// upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint(pub Option<ListenAddress>);

impl FromStr for Endpoint {
    type Err = telemetry::InvalidListenAddress;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            Ok(Self(None))
        } else {
            text.parse().map(|address| Self(Some(address)))
        }
    }
}

/// One `--feature-gates` value: `Name=bool` pairs separated by commas (spaces around them
/// ignored, empty items skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureGates(pub BTreeMap<String, bool>);

impl FromStr for FeatureGates {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut gates = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: malformed pair, expected Name=true|false"))?;
            let (name, value) = (name.trim(), value.trim());
            let on =
                go_bool(value).ok_or_else(|| format!("{item:?}: {value:?} is not a boolean"))?;
            if name.is_empty() {
                return Err(format!("{item:?}: the gate has no name"));
            }
            gates.insert(name.to_owned(), on);
        }
        Ok(Self(gates))
    }
}

/// One `--leader-election-labels` value: `key:value` pairs separated by commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseLabels(pub BTreeMap<String, String>);

impl FromStr for LeaseLabels {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut labels = BTreeMap::new();
        for item in text.split(',') {
            match item.split(':').collect::<Vec<_>>()[..] {
                [key, value] if !key.is_empty() => {
                    labels.insert(key.to_owned(), value.to_owned());
                }
                _ => {
                    return Err(format!(
                        "malformed item in list of labels: {item:?} (expected key:value)"
                    ));
                }
            }
        }
        Ok(Self(labels))
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Later flags win per key, as repeated Go map flags merge into one map.
pub fn merged<V: Clone>(values: &[impl AsRef<BTreeMap<String, V>>]) -> BTreeMap<String, V> {
    values.iter().fold(BTreeMap::new(), |mut all, one| {
        all.extend(one.as_ref().iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    })
}

impl AsRef<BTreeMap<String, bool>> for FeatureGates {
    fn as_ref(&self) -> &BTreeMap<String, bool> {
        &self.0
    }
}

impl AsRef<BTreeMap<String, String>> for LeaseLabels {
    fn as_ref(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        for (text, expected) in [
            ("150s", Duration::from_secs(150)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1.5h", Duration::from_secs(5400)),
            ("0", Duration::ZERO),
            ("+5s", Duration::from_secs(5)),
            ("2h45m", Duration::from_secs(9900)),
            ("10us", Duration::from_micros(10)),
        ] {
            assert_eq!(duration(text), Ok(expected), "{text}");
        }
        for text in ["-1s", "5", "abc", ""] {
            assert!(duration(text).is_err(), "{text:?} was accepted");
        }
        assert!(duration("-1s").unwrap_err().contains("negative"));
    }

    #[test]
    fn feature_gates_parse_like_map_string_bool() {
        let gates: FeatureGates = " Topology=true, CrossNamespaceVolumeDataSource=False,,X=1"
            .parse()
            .unwrap();
        assert_eq!(
            gates.0,
            BTreeMap::from([
                ("CrossNamespaceVolumeDataSource".into(), false),
                ("Topology".into(), true),
                ("X".into(), true),
            ])
        );
        assert_eq!("".parse::<FeatureGates>().unwrap().0.len(), 0);
        for bad in ["Topology", "Topology=yes", "=true"] {
            assert!(bad.parse::<FeatureGates>().is_err(), "{bad}");
        }
        let merged = merged(&[
            "A=true,B=true".parse::<FeatureGates>().unwrap(),
            "B=false".parse().unwrap(),
        ]);
        assert_eq!(
            merged,
            BTreeMap::from([("A".into(), true), ("B".into(), false)])
        );
    }

    #[test]
    fn lease_labels_parse_key_colon_value_pairs() {
        let labels: LeaseLabels = "app:sepia,tier:storage".parse().unwrap();
        assert_eq!(labels.0["app"], "sepia");
        assert_eq!(labels.0["tier"], "storage");
        for bad in ["app=sepia", "a:b:c", ":v", "a:b,"] {
            assert!(bad.parse::<LeaseLabels>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_endpoint_means_none() {
        assert_eq!("".parse::<Endpoint>().unwrap(), Endpoint(None));
        assert_eq!(":8080".parse::<Endpoint>().unwrap().0.unwrap().port(), 8080);
        assert!("8080".parse::<Endpoint>().is_err());
    }
}
