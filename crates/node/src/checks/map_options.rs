//! The volume context's `mapOptions` and `unmapOptions` in ceph-csi's syntax
//! (`krbd:a,b=1;nbd:c`, a part without a prefix is krbd's), every option checked against what
//! its mapper documents, whichever mapper this node will use.
//!
//! krbd options end up in `rbd map --options`, rbd-nbd's as `--<option>` flags of a root
//! daemon, so only options that tune the mapping are let through, with checked values: no
//! credentials or identities (`secret=`, `key=`, `name=`, `keyfile=`), nothing that writes or
//! reads a file (`log-file=`, `quiesce-hook=`, `device=`), nothing this plugin controls itself
//! (`ro`/`read-only`, `noudev`). The lists follow rbd(8) "Kernel rbd (krbd) options" and
//! rbd-nbd(8), which ceph-csi's StorageClass documentation points to.

use csi::quote::quote;

use crate::checks::option_rules::{Rule, number_in, one_of};
use crate::error::NodeError;
use crate::mapper_kind::MapperKind;

/// Options per mapper, each checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapperOptions {
    pub krbd: Vec<String>,
    pub nbd: Vec<String>,
}

impl MapperOptions {
    pub fn for_mapper(&self, kind: MapperKind) -> &[String] {
        match kind {
            MapperKind::Krbd => &self.krbd,
            MapperKind::Nbd => &self.nbd,
            MapperKind::Fuse => &[],
        }
    }
}

/// Which list a value is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Map,
    Unmap,
}

/// `mapOptions`.
pub fn parse_map(value: &str) -> Result<MapperOptions, NodeError> {
    parse("volume_context.mapOptions", value, Direction::Map)
}

/// `unmapOptions`.
pub fn parse_unmap(value: &str) -> Result<MapperOptions, NodeError> {
    parse("volume_context.unmapOptions", value, Direction::Unmap)
}

/// Options a stage record keeps for `kind` (map options for a re-attach, unmap options for
/// NodeUnstage): the record is a file on the node, so what it says goes through the same
/// allowlists as the volume context before it reaches a command line.
pub fn check_recorded(kind: MapperKind, map: &[String], unmap: &[String]) -> Result<(), String> {
    let lists = [
        (Direction::Map, map, "map"),
        (Direction::Unmap, unmap, "unmap"),
    ];
    for (direction, options, what) in lists {
        for option in options {
            check(kind, direction, option)
                .map_err(|rule| format!("{kind} {what} option {}: {rule}", quote(option)))?;
        }
    }
    Ok(())
}

fn parse(
    field: &'static str,
    value: &str,
    direction: Direction,
) -> Result<MapperOptions, NodeError> {
    let mut out = MapperOptions::default();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, options) = match part.split_once(':') {
            Some((prefix, options)) if !prefix.contains(',') && !prefix.contains('=') => {
                let kind = match prefix {
                    "krbd" => MapperKind::Krbd,
                    "nbd" => MapperKind::Nbd,
                    "fuse" => MapperKind::Fuse,
                    other => {
                        return Err(NodeError::invalid(
                            field,
                            format!("unknown mapper prefix {} (krbd, nbd or fuse)", quote(other)),
                        ));
                    }
                };
                (kind, options)
            }
            _ => (MapperKind::Krbd, part),
        };
        for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            check(kind, direction, option).map_err(|rule| {
                NodeError::invalid(field, format!("{kind} option {}: {rule}", quote(option)))
            })?;
            match kind {
                MapperKind::Krbd => out.krbd.push(option.to_string()),
                MapperKind::Nbd => out.nbd.push(option.to_string()),
                MapperKind::Fuse => {}
            }
        }
    }
    Ok(out)
}

fn check(kind: MapperKind, direction: Direction, option: &str) -> Rule {
    let (key, value) = match option.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (option, None),
    };
    match (kind, direction) {
        (MapperKind::Krbd, Direction::Map) => krbd_map(key, value),
        (MapperKind::Nbd, Direction::Map) => nbd_map(key, value),
        // rbd(8): `force` is the one krbd unmap option. rbd-nbd's unmap disconnects the
        // device at once whatever it is given; ceph-csi documents `nbd:force`, so it is
        // accepted (and has nothing to add).
        (MapperKind::Krbd | MapperKind::Nbd, Direction::Unmap) => match (key, value) {
            ("force", None) => Ok(()),
            _ => Err("not allowed (allowed: force)".into()),
        },
        (MapperKind::Fuse, _) => Err("rbd-fuse takes no map or unmap options".into()),
    }
}

fn krbd_map(key: &str, value: Option<&str>) -> Rule {
    match (key, value) {
        (
            "share"
            | "noshare"
            | "crc"
            | "nocrc"
            | "cephx_require_signatures"
            | "nocephx_require_signatures"
            | "tcp_nodelay"
            | "notcp_nodelay"
            | "cephx_sign_messages"
            | "nocephx_sign_messages"
            | "force"
            | "notrim"
            | "abort_on_full"
            | "exclusive"
            | "lock_on_read"
            | "rxbounce",
            None,
        ) => Ok(()),
        (
            "mount_timeout"
            | "osdkeepalive"
            | "osd_idle_ttl"
            | "lock_timeout"
            | "osd_request_timeout",
            Some(v),
        ) => number_in(v, 0, 1 << 31),
        ("queue_depth", Some(v)) => number_in(v, 1, 1 << 20),
        ("alloc_size", Some(v)) => number_in(v, 512, 1 << 30),
        ("read_from_replica", Some(v)) => one_of(v, &["no", "balance", "localize"]),
        ("compression_hint", Some(v)) => one_of(v, &["none", "compressible", "incompressible"]),
        ("ms_mode", Some(v)) => one_of(
            v,
            &["legacy", "crc", "secure", "prefer-crc", "prefer-secure"],
        ),
        ("crush_location", Some(v)) => crush_location(v),
        _ => Err("not an allowed krbd map option (see rbd(8), krbd options)".into()),
    }
}

fn nbd_map(key: &str, value: Option<&str>) -> Rule {
    match (key, value) {
        ("try-netlink" | "exclusive" | "notrim" | "quiesce", None) => Ok(()),
        ("reattach-timeout" | "io-timeout" | "timeout", Some(v)) => number_in(v, 0, 1 << 31),
        ("max_part" | "nbds_max", Some(v)) => number_in(v, 0, 1 << 16),
        _ => Err("not an allowed rbd-nbd map option (see rbd-nbd(8))".into()),
    }
}

/// `host:node-1|rack:r1`: CRUSH bucket type and name pairs.
fn crush_location(value: &str) -> Rule {
    let ok = value.split('|').all(|pair| match pair.split_once(':') {
        Some((t, n)) => {
            let word = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            };
            word(t) && word(n)
        }
        None => false,
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not type:name[|type:name...]", quote(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<MapperOptions, NodeError>) -> String {
        match result {
            Err(NodeError::InvalidField { rule, .. }) => rule,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_are_split_by_mapper_and_unprefixed_parts_are_krbd() {
        let parsed =
            parse_map("lock_on_read,queue_depth=1024;nbd:try-netlink,io-timeout=30").unwrap();
        assert_eq!(
            parsed.for_mapper(MapperKind::Krbd),
            ["lock_on_read", "queue_depth=1024"]
        );
        assert_eq!(
            parsed.for_mapper(MapperKind::Nbd),
            ["try-netlink", "io-timeout=30"]
        );
        assert!(parsed.for_mapper(MapperKind::Fuse).is_empty());
        let parsed =
            parse_map("krbd:read_from_replica=localize,crush_location=host:n1|rack:r1").unwrap();
        assert_eq!(parsed.krbd.len(), 2);
        // Untyped options are krbd's, even when a value holds a colon.
        assert_eq!(
            parse_map("crush_location=host:a").unwrap().krbd,
            ["crush_location=host:a"]
        );
        assert_eq!(parse_map("").unwrap(), MapperOptions::default());
        assert_eq!(parse_unmap("krbd:force;nbd:force").unwrap().krbd, ["force"]);
    }

    #[test]
    fn paths_credentials_and_unknown_options_are_refused_whatever_the_mapper() {
        for (value, named) in [
            ("nbd:log-file=/etc/cron.d/x", "log-file"),
            ("nbd:keyfile=/etc/shadow", "keyfile"),
            ("krbd:keyfile=/etc/shadow", "keyfile"),
            ("krbd:secret=AQB", "secret"),
            ("krbd:name=admin", "name"),
            ("nbd:quiesce-hook=/bin/sh", "quiesce-hook"),
            ("nbd:device=/dev/sda", "device"),
            ("krbd:ro", "ro"),
            ("nbd:read-only", "read-only"),
            ("krbd:queue_depth=-1", "queue_depth"),
            ("krbd:ms_mode=/x", "ms_mode"),
            ("krbd:crush_location=/etc", "crush_location"),
            ("fuse:anything", "anything"),
            ("ceph:x", "ceph"),
        ] {
            let rule = refused(parse_map(value));
            assert!(rule.contains(named), "{value}: {rule}");
        }
        assert!(refused(parse_unmap("krbd:keyfile=/x")).contains("keyfile"));
        assert!(refused(parse_unmap("nbd:log-file=/x")).contains("log-file"));
    }

    #[test]
    fn recorded_options_pass_the_same_allowlists() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        check_recorded(
            MapperKind::Nbd,
            &strings(&["io-timeout=30"]),
            &strings(&["force"]),
        )
        .unwrap();
        check_recorded(MapperKind::Fuse, &[], &[]).unwrap();
        let bad = check_recorded(MapperKind::Nbd, &strings(&["log-file=/etc/x"]), &[]);
        assert!(bad.unwrap_err().contains("log-file"));
        let bad = check_recorded(MapperKind::Krbd, &[], &strings(&["keyfile=/x"]));
        assert!(bad.unwrap_err().contains("unmap option"));
        assert!(check_recorded(MapperKind::Fuse, &strings(&["x"]), &[]).is_err());
    }
}
