//! An RBD pool of the test's own on the bed, for scenarios that need a second place a volume
//! could be made (a class whose `pool` changes). Created with the controller's RADOS namespace
//! in it, so the controller can use it as it uses the bed's pool; dropping it deletes the pool
//! and everything in it.

use sepia_testbed::Bed;

use crate::Controller;

pub struct ScratchPool {
    bed: &'static Bed,
    pub name: String,
    /// The controller's RADOS namespace, created in this pool.
    pub namespace: String,
}

impl ScratchPool {
    /// A new pool beside `controller`'s, initialized for RBD, holding its RADOS namespace.
    pub fn beside(controller: &Controller) -> Self {
        let bed = controller.bed;
        let name = bed.unique_name("sepia-test-pool");
        bed.cli("ceph", &["osd", "pool", "create", &name, "8", "8"]);
        let pool = Self {
            bed,
            name,
            namespace: controller.namespace.clone(),
        };
        bed.cli("rbd", &["pool", "init", &pool.name]);
        bed.cli(
            "rbd",
            &[
                "namespace",
                "create",
                &format!("{}/{}", pool.name, pool.namespace),
            ],
        );
        pool
    }

    /// Every RADOS object in the namespace — images, their headers, the journal, the trash —
    /// so "nothing was ever made here" can be checked, not only "no image is left".
    pub fn objects(&self) -> Vec<String> {
        let mut objects: Vec<String> = self
            .bed
            .cli("rados", &["-p", &self.name, "-N", &self.namespace, "ls"])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect();
        objects.sort();
        objects
    }
}

impl Drop for ScratchPool {
    fn drop(&mut self) {
        let _ = std::process::Command::new("timeout")
            .arg("60")
            .args(["ceph", "osd", "pool", "rm", &self.name, &self.name])
            .arg("--yes-i-really-really-mean-it")
            .env("CEPH_CONF", &self.bed.conf_path)
            .output();
    }
}
