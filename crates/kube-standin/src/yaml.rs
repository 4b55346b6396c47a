//! Multi-document YAML (what `kubectl kustomize` renders) as JSON objects.

use serde_json::Value;

use crate::error::StandInError;

/// Every non-empty document of `yaml`, in order.
///
/// # Errors
/// [`StandInError::Yaml`] when the text is not YAML.
pub fn parse_yaml(yaml: &str) -> Result<Vec<Value>, StandInError> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| StandInError::Yaml(e.to_string()))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_strings_and_skip_empty_ones() {
        let docs = parse_yaml(
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  labels:\n    x: 'true'\n---\n---\nkind: Role\nrules:\n- apiGroups: [\"\"]\n  verbs: [get]\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["metadata"]["labels"]["x"], "true");
        assert_eq!(docs[1]["rules"][0]["apiGroups"][0], "");
    }
}
