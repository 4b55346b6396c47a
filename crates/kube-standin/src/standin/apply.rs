//! Objects of any served kind, from JSON or from YAML as `kubectl kustomize` renders it: how a
//! test loads the RBAC objects, CSIDriver and classes of a rendered overlay.

use serde_json::Value;

use super::StandIn;
use crate::error::StandInError;
use crate::yaml::parse_yaml;

impl StandIn {
    /// [`StandIn::put_object`] for an object whose `apiVersion` and `kind` say what it is.
    pub fn put_any(&self, object: Value) -> Result<Value, StandInError> {
        let api_version = object["apiVersion"].as_str().unwrap_or("").to_owned();
        let kind = object["kind"].as_str().unwrap_or("").to_owned();
        let gvr = self
            .shared
            .store
            .lock()
            .table
            .find_kind(&api_version, &kind)
            .map(|info| info.gvr.clone())
            .ok_or(StandInError::UnknownKind { api_version, kind })?;
        self.put_object(&gvr, object)
    }

    /// Create or overwrite every object of a multi-document YAML, in order, as the admin
    /// (`kubectl apply -f` without its three-way merge). Fails at the first kind the stand-in
    /// does not serve; a CustomResourceDefinition earlier in the text makes its kind served.
    pub fn apply_yaml(&self, yaml: &str) -> Result<Vec<Value>, StandInError> {
        parse_yaml(yaml)?
            .into_iter()
            .map(|object| self.put_any(object))
            .collect()
    }
}
