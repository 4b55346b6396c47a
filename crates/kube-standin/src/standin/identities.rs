//! Who talks to the stand-in: tokens for ServiceAccounts and users, and clients carrying them.
//! Everything without an explicit identity (`client()`, `write_kubeconfig`, the direct helpers)
//! acts as the admin, which RBAC never limits; a client or binary given a ServiceAccount's
//! token is authorised against the Roles, ClusterRoles and bindings stored in the stand-in.

use http::{HeaderName, HeaderValue};

use super::StandIn;
use crate::access::identity::{TokenOwner, UserInfo};
use crate::error::StandInError;

impl StandIn {
    pub(super) fn admin_token(&self) -> String {
        self.shared.tokens.lock().admin().to_owned()
    }

    /// The bearer token of ServiceAccount `namespace/name` (the same on every call). Requests
    /// with it act as `system:serviceaccount:<namespace>:<name>` while the ServiceAccount
    /// exists, and get 401 otherwise, as with the real server's service-account lookup.
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        self.shared.tokens.lock().issue(TokenOwner::ServiceAccount {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// A bearer token for an arbitrary user (a person, a group member).
    pub fn user_token(&self, user: UserInfo) -> String {
        self.shared.tokens.lock().issue(TokenOwner::User(user))
    }

    /// A `kube::Config` sending `token`.
    pub fn kube_config_with_token(&self, token: &str) -> Result<kube::Config, StandInError> {
        let url = self.url();
        let uri = url
            .parse::<http::Uri>()
            .map_err(|_| StandInError::Url { url: url.clone() })?;
        let mut config = kube::Config::new(uri);
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| StandInError::Url { url })?;
        bearer.set_sensitive(true);
        config
            .headers
            .push((HeaderName::from_static("authorization"), bearer));
        Ok(config)
    }

    /// A kube client sending `token`.
    pub fn client_with_token(&self, token: &str) -> Result<kube::Client, StandInError> {
        kube::Client::try_from(self.kube_config_with_token(token)?).map_err(StandInError::Client)
    }
}
