//! Releases a source PVC's `pvc-as-source-protection` once no snapshot needs its volume.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use sidecar::Progress;
use snapshot_api::keys;

use super::CONFLICT_RETRY;
use super::{BindingHalf, BindingKey};
use crate::claim_protection::{claim_in_use, should_release};
use crate::kube_writes::{self, finalizers_with};
use crate::snapshot_plan::content_name_for;
use sidecar::control_loop::workers::Outcome;

impl BindingHalf {
    pub(super) async fn sync_claim(&self, namespace: &str, name: &str) -> Outcome {
        let Some(claim) = self
            .stores
            .claims
            .get(&ObjectRef::new(name).within(namespace))
        else {
            return Outcome::Done;
        };
        let snapshots = self
            .stores
            .snapshots
            .state_filter(|s| s.metadata.namespace.as_deref() == Some(namespace));
        let in_use = claim_in_use(name, snapshots.iter().map(|s| &**s), |snapshot| {
            content_name_for(snapshot)
                .and_then(|content| self.stores.contents.get(&ObjectRef::new(&content)))
                .map(|content| (*content).clone())
        });
        if !should_release(&claim, in_use) {
            return Outcome::Done;
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let list = finalizers_with(&*claim, &[], &[keys::PVC_AS_SOURCE_FINALIZER]);
        match kube_writes::set_finalizers(&api, &*claim, list).await {
            Ok(_) => {
                tracing::info!(claim = %format!("{namespace}/{name}"), "released pvc-as-source-protection");
                Outcome::Done
            }
            Err(error) if error.is_not_found() => Outcome::Done,
            Err(error) => {
                if error.is_conflict() {
                    // The newer version is on its way through the watch.
                    let key = BindingKey::Claim {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                    };
                    self.queue.add_after(key, CONFLICT_RETRY);
                    return Outcome::Done;
                }
                tracing::warn!(claim = %format!("{namespace}/{name}"), %error, "releasing the PVC failed");
                Outcome::Retry(Progress::Final)
            }
        }
    }
}
