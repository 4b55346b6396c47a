//! The default VolumeSnapshotClass of a driver: the one class of that driver annotated
//! `snapshot.storage.kubernetes.io/is-default-class: "true"`. None, or more than one, is an
//! error the user must fix (upstream refuses to guess between two defaults too).

use snapshot_api::VolumeSnapshotClass;

use crate::error::SnapshotterError;

/// The name of `driver`'s default class.
///
/// # Errors
/// [`SnapshotterError::NoDefaultClass`] / [`SnapshotterError::SeveralDefaultClasses`] when there is no default, or more than one.
pub fn default_class<'a>(
    classes: impl IntoIterator<Item = &'a VolumeSnapshotClass>,
    driver: &str,
) -> Result<String, SnapshotterError> {
    let mut defaults: Vec<String> = classes
        .into_iter()
        .filter(|class| class.driver == driver && class.is_default())
        .filter_map(|class| class.metadata.name.clone())
        .collect();
    defaults.sort();
    match defaults.len() {
        0 => Err(SnapshotterError::NoDefaultClass {
            driver: driver.to_owned(),
        }),
        1 => Ok(defaults.remove(0)),
        count => Err(SnapshotterError::SeveralDefaultClasses {
            driver: driver.to_owned(),
            count,
            names: defaults.join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use snapshot_api::DeletionPolicy::{Delete, Retain};

    use super::*;
    use crate::test_fixtures::*;

    #[test]
    fn one_default_per_driver_is_chosen() {
        let classes = [
            class("plain", DRIVER, Delete),
            class("rbd-default", DRIVER, Retain).default_class(),
            class("other-default", "other.csi", Delete).default_class(),
        ];
        assert_eq!(default_class(&classes, DRIVER).unwrap(), "rbd-default");
        assert_eq!(
            default_class(&classes, "other.csi").unwrap(),
            "other-default"
        );
        let err = default_class(&classes, "third.csi").unwrap_err();
        assert!(err.to_string().contains("third.csi"), "{err}");
    }

    #[test]
    fn two_defaults_are_refused_naming_both() {
        let classes = [
            class("b", DRIVER, Delete).default_class(),
            class("a", DRIVER, Delete).default_class(),
        ];
        let err = default_class(&classes, DRIVER).unwrap_err();
        assert!(
            matches!(&err, SnapshotterError::SeveralDefaultClasses { count: 2, names, .. } if names == "a, b"),
            "{err}"
        );
    }
}
