//! Authentication: who a request comes from, read from its bearer token.
//!
//! The real server maps a ServiceAccount token to `system:serviceaccount:<ns>:<name>` with the
//! groups `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`, and
//! refuses it (401) once the ServiceAccount is gone (`--service-account-lookup`, on by default).
//! The stand-in hands out opaque tokens instead of signed JWTs and keeps the same mapping and the
//! same lookup. Its own admin token stands for `system:admin` in `system:masters`, the group the
//! real server lets past authorization unchecked: tests, and the actors playing
//! kube-controller-manager, kubelet or a user, use it. A request without a token is
//! `system:anonymous` (`system:unauthenticated`), as with anonymous auth enabled.

use std::collections::HashMap;

use crate::status::ApiError;

/// The group the real server lets past authorization (its privileged-groups authorizer).
pub(crate) const MASTERS: &str = "system:masters";
const AUTHENTICATED: &str = "system:authenticated";
const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// The user a request acts as: name and groups, as the authorizer sees them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// `system:admin`, `system:serviceaccount:<ns>:<name>`, `jane`, …
    pub name: String,
    /// Every group, `system:authenticated` included for authenticated users.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user with these groups plus `system:authenticated`.
    pub fn user(name: &str, groups: &[&str]) -> Self {
        let mut all: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        if !all.iter().any(|g| g == AUTHENTICATED) {
            all.push(AUTHENTICATED.to_owned());
        }
        Self {
            name: name.to_owned(),
            groups: all,
        }
    }

    /// The stand-in's all-powerful identity.
    pub fn admin() -> Self {
        Self::user("system:admin", &[MASTERS])
    }

    /// What a request without credentials is.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".to_owned(),
            groups: vec!["system:unauthenticated".to_owned()],
        }
    }

    /// A ServiceAccount's user, exactly as the real token authenticator names it.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self::user(
            &service_account_user(namespace, name),
            &[SERVICE_ACCOUNTS, &format!("{SERVICE_ACCOUNTS}:{namespace}")],
        )
    }

    pub(crate) fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

/// `system:serviceaccount:<ns>:<name>`.
pub(crate) fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Whom a token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenOwner {
    /// A ServiceAccount: valid only while it exists.
    ServiceAccount { namespace: String, name: String },
    /// A fixed user (the admin, or a test's user).
    User(UserInfo),
}

/// The tokens this stand-in has issued.
#[derive(Debug)]
pub(crate) struct Tokens {
    admin: String,
    issued: HashMap<String, TokenOwner>,
}

impl Default for Tokens {
    fn default() -> Self {
        let admin = new_token();
        let issued = HashMap::from([(admin.clone(), TokenOwner::User(UserInfo::admin()))]);
        Self { admin, issued }
    }
}

impl Tokens {
    pub(crate) fn admin(&self) -> &str {
        &self.admin
    }

    /// The token of `owner`, issued on first request and the same afterwards.
    pub(crate) fn issue(&mut self, owner: TokenOwner) -> String {
        if let Some((token, _)) = self.issued.iter().find(|(_, o)| **o == owner) {
            return token.clone();
        }
        let token = new_token();
        self.issued.insert(token.clone(), owner);
        token
    }

    /// Who an `Authorization` header value names; `None` header is anonymous.
    /// `service_account_exists` is the ServiceAccount lookup.
    pub(crate) fn authenticate(
        &self,
        authorization: Option<&str>,
        service_account_exists: impl FnOnce(&str, &str) -> bool,
    ) -> Result<UserInfo, ApiError> {
        let Some(header) = authorization.filter(|h| !h.is_empty()) else {
            return Ok(UserInfo::anonymous());
        };
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        match self.issued.get(token) {
            Some(TokenOwner::User(user)) => Ok(user.clone()),
            Some(TokenOwner::ServiceAccount { namespace, name })
                if service_account_exists(namespace, name) =>
            {
                Ok(UserInfo::service_account(namespace, name))
            }
            _ => Err(ApiError::unauthorized()),
        }
    }
}

fn new_token() -> String {
    format!("sepia-standin.{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_tokens_name_the_account_and_its_groups() {
        let mut tokens = Tokens::default();
        let token = tokens.issue(TokenOwner::ServiceAccount {
            namespace: "rook-ceph".into(),
            name: "sepia-attacher".into(),
        });
        let user = tokens
            .authenticate(Some(&format!("Bearer {token}")), |_, _| true)
            .unwrap();
        assert_eq!(user.name, "system:serviceaccount:rook-ceph:sepia-attacher");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:rook-ceph",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn a_deleted_service_account_or_an_unknown_token_is_unauthorized() {
        let mut tokens = Tokens::default();
        let token = tokens.issue(TokenOwner::ServiceAccount {
            namespace: "ns".into(),
            name: "gone".into(),
        });
        let header = format!("Bearer {token}");
        assert_eq!(
            tokens
                .authenticate(Some(&header), |_, _| false)
                .unwrap_err()
                .code,
            401
        );
        assert_eq!(
            tokens
                .authenticate(Some("Bearer made-up"), |_, _| true)
                .unwrap_err()
                .code,
            401
        );
        assert_eq!(
            tokens
                .authenticate(Some("Basic eDp5"), |_, _| true)
                .unwrap_err()
                .code,
            401
        );
    }

    #[test]
    fn admin_and_anonymous() {
        let tokens = Tokens::default();
        let header = format!("Bearer {}", tokens.admin());
        let admin = tokens.authenticate(Some(&header), |_, _| false).unwrap();
        assert!(admin.is_master());
        let anonymous = tokens.authenticate(None, |_, _| false).unwrap();
        assert_eq!(anonymous.name, "system:anonymous");
        assert!(!anonymous.is_master());
    }

    #[test]
    fn a_token_is_issued_once_per_owner() {
        let mut tokens = Tokens::default();
        let owner = TokenOwner::ServiceAccount {
            namespace: "a".into(),
            name: "b".into(),
        };
        assert_eq!(tokens.issue(owner.clone()), tokens.issue(owner));
    }
}
