//! The volume context's `mkfsOptions`, checked against what each file system may be given.
//!
//! They replace the defaults (as in ceph-csi) and reach `mkfs.*` as arguments of a root
//! process, so only options that shape the new file system are let through, each with its
//! value checked: nothing that names a path (`mke2fs -d dir` copies a host directory into the
//! volume, `mkfs.xfs -p file`, `-l logdev=`, `-r rtdev=` open host files), nothing that forces
//! or redirects (`-F`, `-f`, `-T`). The error names the option that was refused.

use csi::quote::quote;

use crate::checks::option_rules::{Rule, number_in, one_of};
use crate::error::NodeError;
use crate::filesystem::FsType;

const FIELD: &str = "volume_context.mkfsOptions";

/// The arguments of `mkfsOptions` for `fs_type`, each checked.
pub fn parse(fs_type: FsType, options: &str) -> Result<Vec<String>, NodeError> {
    let tokens: Vec<&str> = options.split_whitespace().collect();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let flag = flag_of(token)
            .filter(|f| allowed(fs_type).contains(f))
            .ok_or_else(|| not_allowed(fs_type, token))?;
        if takes_value(fs_type, flag) {
            let attached = &token[2..];
            let value = if attached.is_empty() {
                i += 1;
                *tokens
                    .get(i)
                    .ok_or_else(|| NodeError::invalid(FIELD, format!("-{flag} needs a value")))?
            } else {
                attached
            };
            check_value(fs_type, flag, value).map_err(|rule| {
                NodeError::invalid(FIELD, format!("-{flag} {}: {rule}", quote(value)))
            })?;
        } else if token.len() > 2 {
            return Err(NodeError::invalid(
                FIELD,
                format!("-{flag} takes no value, got {}", quote(token)),
            ));
        }
        i += 1;
    }
    Ok(tokens.into_iter().map(str::to_string).collect())
}

/// `m` of `-m0` / `-m`; `None` for anything that is not a single-letter option.
fn flag_of(token: &str) -> Option<char> {
    let mut chars = token.chars();
    match (chars.next(), chars.next()) {
        (Some('-'), Some(c)) if c.is_ascii_alphabetic() => Some(c),
        _ => None,
    }
}

fn allowed(fs_type: FsType) -> &'static [char] {
    match fs_type {
        FsType::Ext4 => &['m', 'E', 'O', 'b', 'i', 'I', 'N', 'L'],
        FsType::Xfs => &['b', 'i', 'l', 'm', 'n', 'L', 'K'],
    }
}

fn takes_value(fs_type: FsType, flag: char) -> bool {
    !(fs_type == FsType::Xfs && flag == 'K')
}

fn not_allowed(fs_type: FsType, token: &str) -> NodeError {
    let list: Vec<String> = allowed(fs_type).iter().map(|f| format!("-{f}")).collect();
    NodeError::invalid(
        FIELD,
        format!(
            "option {} is not allowed for {} (allowed: {})",
            quote(token),
            fs_type.name(),
            list.join(", ")
        ),
    )
}

fn check_value(fs_type: FsType, flag: char, value: &str) -> Rule {
    match (fs_type, flag) {
        (FsType::Ext4, 'm') => percent(value, 50),
        (FsType::Ext4, 'b') => one_of(
            value,
            &["1024", "2048", "4096", "8192", "16384", "32768", "65536"],
        ),
        (FsType::Ext4, 'i') => number_in(value, 1024, 1 << 26),
        (FsType::Ext4, 'I') => one_of(value, &["128", "256", "512", "1024", "2048", "4096"]),
        (FsType::Ext4, 'N') => number_in(value, 1, u32::MAX as u64),
        (FsType::Ext4, 'L') => label(value, 16),
        (FsType::Ext4, 'O') => list(value, |feature| {
            one_of(feature.strip_prefix('^').unwrap_or(feature), EXT4_FEATURES)
        }),
        (FsType::Ext4, 'E') => list(value, ext4_extended),
        (FsType::Xfs, 'b') => suboptions(value, &[("size", size)]),
        (FsType::Xfs, 'i') => suboptions(
            value,
            &[
                ("size", size),
                ("log", small_number),
                ("perblock", small_number),
                ("maxpct", small_number),
                ("align", boolean),
                ("attr", |v| one_of(v, &["1", "2"])),
                ("projid32bit", boolean),
                ("sparse", boolean),
                ("nrext64", boolean),
                ("exchange", boolean),
            ],
        ),
        (FsType::Xfs, 'l') => suboptions(
            value,
            &[
                ("size", size),
                ("version", |v| one_of(v, &["1", "2"])),
                ("sunit", small_number),
                ("su", size),
                ("lazy-count", boolean),
            ],
        ),
        (FsType::Xfs, 'm') => suboptions(
            value,
            &[
                ("crc", boolean),
                ("finobt", boolean),
                ("uuid", uuid),
                ("rmapbt", boolean),
                ("reflink", boolean),
                ("inobtcount", boolean),
                ("bigtime", boolean),
                ("autofsck", boolean),
            ],
        ),
        (FsType::Xfs, 'n') => suboptions(
            value,
            &[
                ("size", size),
                ("log", small_number),
                ("version", |v| one_of(v, &["2", "ci"])),
                ("ftype", boolean),
                ("parent", boolean),
            ],
        ),
        (FsType::Xfs, 'L') => label(value, 12),
        _ => Err("not allowed".into()),
    }
}

/// ext4 features `-O` may switch on or (with `^`) off; none of them names a file.
const EXT4_FEATURES: &[&str] = &[
    "64bit",
    "bigalloc",
    "casefold",
    "dir_index",
    "dir_nlink",
    "ea_inode",
    "encrypt",
    "extent",
    "extents",
    "extra_isize",
    "fast_commit",
    "filetype",
    "flex_bg",
    "has_journal",
    "huge_file",
    "inline_data",
    "large_dir",
    "large_file",
    "metadata_csum",
    "metadata_csum_seed",
    "meta_bg",
    "mmp",
    "orphan_file",
    "project",
    "quota",
    "resize_inode",
    "sparse_super",
    "sparse_super2",
    "stable_inodes",
    "uninit_bg",
    "verity",
];

/// One `-E` extended option of mke2fs.
fn ext4_extended(option: &str) -> Rule {
    let (key, value) = match option.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (option, None),
    };
    match (key, value) {
        ("nodiscard" | "discard" | "test_fs" | "no_copy_xattrs", None) => Ok(()),
        (
            "lazy_itable_init"
            | "lazy_journal_init"
            | "assume_storage_prezeroed"
            | "packed_meta_blocks",
            None,
        ) => Ok(()),
        (
            "lazy_itable_init"
            | "lazy_journal_init"
            | "assume_storage_prezeroed"
            | "packed_meta_blocks",
            Some(v),
        ) => boolean(v),
        (
            "stride"
            | "stripe_width"
            | "stripe-width"
            | "resize"
            | "mmp_update_interval"
            | "orphan_file_size",
            Some(v),
        ) => number_in(v, 0, u32::MAX as u64),
        ("num_backup_sb", Some(v)) => one_of(v, &["0", "1", "2"]),
        ("root_owner", None) => Ok(()),
        ("root_owner", Some(v)) => match v.split_once(':') {
            Some((uid, gid)) => {
                number_in(uid, 0, u32::MAX as u64).and(number_in(gid, 0, u32::MAX as u64))
            }
            None => Err("root_owner takes uid:gid".into()),
        },
        ("quotatype", Some(v)) => v
            .split(':')
            .try_for_each(|q| one_of(q, &["usrquota", "grpquota", "prjquota"])),
        ("encoding", Some(v)) => one_of(v, &["utf8", "utf8-12.1"]),
        ("encoding_flags", Some(v)) => one_of(v, &["strict"]),
        _ => Err(format!("extended option {} is not allowed", quote(option))),
    }
}

/// A suboption's name and the rule for its value.
type Suboption = (&'static str, fn(&str) -> Rule);

/// `a=1,b=2` with each key from `allowed` and its value checked by the key's rule.
fn suboptions(value: &str, allowed: &[Suboption]) -> Rule {
    list(value, |option| {
        let (key, v) = option
            .split_once('=')
            .ok_or_else(|| format!("{} is not key=value", quote(option)))?;
        let (_, rule) = allowed.iter().find(|(k, _)| *k == key).ok_or_else(|| {
            let keys: Vec<&str> = allowed.iter().map(|(k, _)| *k).collect();
            format!(
                "{} is not allowed (allowed: {})",
                quote(key),
                keys.join(", ")
            )
        })?;
        rule(v).map_err(|e| format!("{key}: {e}"))
    })
}

fn list(value: &str, item: impl Fn(&str) -> Rule) -> Rule {
    if value.is_empty() {
        return Err("empty".into());
    }
    value.split(',').try_for_each(item)
}

fn small_number(value: &str) -> Rule {
    number_in(value, 0, 1 << 20)
}

fn boolean(value: &str) -> Rule {
    one_of(value, &["0", "1"])
}

/// A percentage such as `0`, `1` or `0.5`, at most `max`.
fn percent(value: &str, max: u32) -> Rule {
    let digits_ok = value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().filter(|b| *b == b'.').count() <= 1
        && !value.starts_with('.')
        && value.len() <= 6;
    match value.parse::<f64>() {
        Ok(p) if digits_ok && p <= f64::from(max) => Ok(()),
        _ => Err(format!("{} is not a percentage up to {max}", quote(value))),
    }
}

/// mkfs.xfs sizes: a number with an optional unit (`4096`, `4k`, `64m`, `8s` sectors,
/// `2b` blocks).
fn size(value: &str) -> Rule {
    let digits = value.trim_end_matches(|c: char| "kmgtpesbKMGTPESB".contains(c));
    let unit_len = value.len() - digits.len();
    if unit_len <= 1
        && !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(format!("{} is not a size", quote(value)))
    }
}

fn uuid(value: &str) -> Rule {
    let groups: Vec<&str> = value.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lengths == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Ok(())
    } else {
        Err(format!("{} is not a UUID", quote(value)))
    }
}

fn label(value: &str, max: usize) -> Rule {
    if !value.is_empty()
        && value.len() <= max
        && !value.starts_with('-')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        Ok(())
    } else {
        Err(format!(
            "{} is not a label (1 to {max} of A-Z a-z 0-9 _ - .)",
            quote(value)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(fs_type: FsType, options: &str) -> String {
        match parse(fs_type, options) {
            Err(NodeError::InvalidField { field, rule }) => {
                assert_eq!(field, FIELD);
                rule
            }
            other => panic!("{options:?} for {fs_type:?}: {other:?}"),
        }
    }

    #[test]
    fn ceph_csi_defaults_and_common_tuning_pass() {
        for (fs_type, options) in [
            (
                FsType::Ext4,
                "-m0 -Enodiscard,lazy_itable_init=1,lazy_journal_init=1",
            ),
            (
                FsType::Ext4,
                "-m 1 -b 4096 -i 16384 -I 256 -N 1000 -L data -O ^has_journal,metadata_csum",
            ),
            (
                FsType::Ext4,
                "-E stride=16,stripe_width=64,root_owner=1000:1000,num_backup_sb=2",
            ),
            (FsType::Xfs, "-K"),
            (
                FsType::Xfs,
                "-K -m reflink=0,crc=1 -b size=4096 -i size=512,maxpct=25",
            ),
            (
                FsType::Xfs,
                "-l size=64m,lazy-count=1 -n ftype=1,version=2 -L data",
            ),
            (FsType::Xfs, "-bsize=4k"),
        ] {
            let parsed = parse(fs_type, options).unwrap();
            assert_eq!(
                parsed.join(" "),
                options.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }

    #[test]
    fn options_that_name_paths_or_are_unknown_are_refused_by_name() {
        assert!(refused(FsType::Ext4, "-d /host/dir").contains("\"-d\""));
        assert!(refused(FsType::Xfs, "-d file=1,name=/etc/shadow").contains("\"-d\""));
        assert!(refused(FsType::Xfs, "-p /host/protofile").contains("\"-p\""));
        assert!(refused(FsType::Xfs, "-l logdev=/dev/sda").contains("logdev"));
        assert!(refused(FsType::Xfs, "-r rtdev=/dev/sda").contains("\"-r\""));
        assert!(refused(FsType::Ext4, "-F").contains("\"-F\""));
        assert!(refused(FsType::Ext4, "-T huge").contains("\"-T\""));
        assert!(refused(FsType::Ext4, "/dev/sda").contains("/dev/sda"));
        assert!(refused(FsType::Ext4, "--help").contains("--help"));
        assert!(refused(FsType::Ext4, "-E offset=4096").contains("offset"));
        assert!(refused(FsType::Ext4, "-O journal_dev").contains("journal_dev"));
        assert!(refused(FsType::Ext4, "-L ../../etc").contains("label"));
        assert!(refused(FsType::Ext4, "-m 99").contains("percentage"));
        assert!(refused(FsType::Ext4, "-m").contains("needs a value"));
        assert!(refused(FsType::Xfs, "-K1").contains("takes no value"));
        assert!(refused(FsType::Xfs, "-b log=12").contains("log"));
        assert!(refused(FsType::Xfs, "-m uuid=/etc").contains("UUID"));
        // ext4's options are not xfs' and the other way round.
        assert!(refused(FsType::Xfs, "-E nodiscard").contains("\"-E\""));
        assert!(refused(FsType::Ext4, "-K").contains("\"-K\""));
    }

    #[test]
    fn a_huge_option_is_quoted_capped() {
        let huge = format!("-d{}", "x".repeat(100_000));
        let rule = refused(FsType::Ext4, &huge);
        assert!(rule.len() < 500, "{}", rule.len());
        assert!(rule.contains("…(100002 bytes)"), "{rule}");
    }
}
