//! `sepia-snapshotter crds` prints the three CRDs as YAML that parses back into them, for
//! `deploy/` (and `kubectl apply -f -`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

#[test]
fn the_crds_subcommand_prints_all_three_crds_as_yaml() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sepia-snapshotter"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = String::from_utf8(output.stdout).unwrap();
    let crds: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&yaml).unwrap();
    let names: Vec<_> = crds
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "volumesnapshotclasses.snapshot.storage.k8s.io",
            "volumesnapshotcontents.snapshot.storage.k8s.io",
            "volumesnapshots.snapshot.storage.k8s.io",
        ]
    );
    assert_eq!(
        crds,
        snapshot_api::crds::all().unwrap(),
        "the printed CRDs are the library's"
    );
}
