//! `Cluster::connect` uses only the credentials it is given: a `CEPH_CONF` and `CEPH_ARGS`
//! pointing at a wrong cluster and a wrong keyring must change nothing.
//!
//! One test in this binary on purpose: it sets process environment variables before any
//! thread is started.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use ceph::{Cluster, Timeouts};

#[test]
fn connect_ignores_ceph_conf_and_ceph_args() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ceph.conf");
    let keyring = dir.path().join("keyring");
    std::fs::write(
        &keyring,
        "[client.admin]\n\tkey = AQBKqwNr0aFhKxAAXD53fkfa5BAcBk1oDL/50g==\n",
    )
    .unwrap();
    std::fs::write(
        &conf,
        format!(
            "[global]\nmon host = 127.0.0.1:1\nkeyring = {}\nclient mount timeout = 1\n",
            keyring.display()
        ),
    )
    .unwrap();
    let bed = common::bed();
    // Asked before CEPH_ARGS is set: the CLI would honour it.
    let expected = bed.cli("ceph", &["fsid"]);
    // SAFETY: no other thread exists yet in this test binary's only test.
    unsafe {
        std::env::set_var("CEPH_CONF", &conf);
        std::env::set_var("CEPH_ARGS", "--mon-host 127.0.0.1:1 --keyring /nonexistent");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let timeouts = Timeouts {
        connect: Duration::from_secs(10),
        op: Duration::from_secs(10),
    };
    let fsid = rt.block_on(async {
        let cluster = Cluster::connect(&common::creds(), &timeouts)
            .await
            .expect("connect despite CEPH_CONF");
        cluster.fsid().await.unwrap()
    });
    assert_eq!(fsid, expected.trim());
}
