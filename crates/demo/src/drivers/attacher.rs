//! The external-attacher's calls: ControllerPublishVolume before kubelet stages a volume on a
//! node, ControllerUnpublishVolume after it has unstaged it. Sepia's controller records the
//! publication in the volume's journal entry and refuses a node whose plugin never registered
//! in RADOS (NOT_FOUND).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use csi::v1::{ControllerPublishVolumeRequest, ControllerUnpublishVolumeRequest};

use crate::drivers::controller::Driver;
use crate::error::{Error, Result};

/// How long a NOT_FOUND node is retried: the node plugin registers right after it starts,
/// which may be a moment after its socket appears.
const REGISTRATION_WAIT: Duration = Duration::from_secs(30);
/// Pause between those retries.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A ControllerPublishVolume answer.
#[derive(Debug, Clone)]
pub struct Published {
    pub publish_context: HashMap<String, String>,
    /// Calls made; more than one when the node had not registered yet.
    pub calls: usize,
}

impl Driver {
    /// ControllerPublishVolume of `volume_id` to `node_id`, read-write, retrying NOT_FOUND
    /// (an unregistered node) for a while as the external-attacher does with its backoff.
    /// `volume_context` is the PV's, as CreateVolume returned it.
    pub async fn controller_publish(
        &self,
        volume_id: &str,
        volume_context: &HashMap<String, String>,
        node_id: &str,
    ) -> Result<Published> {
        let start = Instant::now();
        let mut calls = 0;
        loop {
            calls += 1;
            let request = ControllerPublishVolumeRequest {
                volume_id: volume_id.to_owned(),
                node_id: node_id.to_owned(),
                volume_capability: Some(self.capability()),
                readonly: false,
                secrets: self.secrets().clone(),
                volume_context: volume_context.clone(),
            };
            match self
                .controller()
                .controller_publish_volume(self.request(request))
                .await
            {
                Ok(reply) => {
                    return Ok(Published {
                        publish_context: reply.into_inner().publish_context,
                        calls,
                    });
                }
                Err(status)
                    if status.code() == tonic::Code::NotFound
                        && start.elapsed() < REGISTRATION_WAIT =>
                {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(status) => return Err(Error::rpc("ControllerPublishVolume", &status)),
            }
        }
    }

    /// ControllerUnpublishVolume of `volume_id` from `node_id`.
    pub async fn controller_unpublish(&self, volume_id: &str, node_id: &str) -> Result<()> {
        let request = ControllerUnpublishVolumeRequest {
            volume_id: volume_id.to_owned(),
            node_id: node_id.to_owned(),
            secrets: self.secrets().clone(),
        };
        self.controller()
            .controller_unpublish_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("ControllerUnpublishVolume", &s))?;
        Ok(())
    }
}
