//! Accessibility requirements for drivers that advertise VOLUME_ACCESSIBILITY_CONSTRAINTS:
//! the selected node's segment (its labels for the topology keys the driver registered in
//! CSINode), as requisite and preferred — upstream's strict-topology behaviour for
//! WaitForFirstConsumer claims. Claims without a selected node get no requirement.

use csi::v1::{Topology, TopologyRequirement};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::storage::v1::CSINode;
use kube::{Api, Client};

use crate::error::ProvisionerError;

/// The segment of `node` for `keys`; `None` if the node lacks one of them.
pub fn segment_of(node: &Node, keys: &[String]) -> Option<Topology> {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let segments = keys
        .iter()
        .map(|key| labels.get(key).map(|value| (key.clone(), value.clone())))
        .collect::<Option<_>>()?;
    Some(Topology { segments })
}

/// Reads CSINode and Node of `node_name` and builds the requirement.
///
/// # Errors
/// The node or its CSINode entry for `driver` is missing (the driver is not on that node).
pub async fn requirement(
    client: &Client,
    driver: &str,
    node_name: &str,
) -> Result<Option<TopologyRequirement>, ProvisionerError> {
    let csi_node = Api::<CSINode>::all(client.clone())
        .get_opt(node_name)
        .await
        .map_err(|e| ProvisionerError::kube(format!("reading CSINode {node_name}"), e))?;
    let keys = csi_node
        .and_then(|n| n.spec.drivers.into_iter().find(|d| d.name == driver))
        .and_then(|d| d.topology_keys)
        .ok_or_else(|| {
            ProvisionerError::Claim(format!(
                "driver {driver} is not registered on the selected node {node_name}"
            ))
        })?;
    if keys.is_empty() {
        return Ok(None);
    }
    let node = Api::<Node>::all(client.clone())
        .get_opt(node_name)
        .await
        .map_err(|e| ProvisionerError::kube(format!("reading node {node_name}"), e))?
        .ok_or_else(|| {
            ProvisionerError::Claim(format!("selected node {node_name} does not exist"))
        })?;
    let segment = segment_of(&node, &keys).ok_or_else(|| {
        ProvisionerError::Claim(format!(
            "node {node_name} lacks a label for a topology key of {driver}"
        ))
    })?;
    Ok(Some(TopologyRequirement {
        requisite: vec![segment.clone()],
        preferred: vec![segment],
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    #[test]
    fn the_segment_takes_exactly_the_driver_keys() {
        let node = Node {
            metadata: ObjectMeta {
                labels: Some(BTreeMap::from([
                    ("topology.kubernetes.io/zone".into(), "z1".into()),
                    ("kubernetes.io/hostname".into(), "n1".into()),
                ])),
                ..ObjectMeta::default()
            },
            ..Node::default()
        };
        let seg = segment_of(&node, &["topology.kubernetes.io/zone".into()]).unwrap();
        assert_eq!(seg.segments.len(), 1);
        assert_eq!(seg.segments["topology.kubernetes.io/zone"], "z1");
        assert!(segment_of(&node, &["missing".into()]).is_none());
    }
}
