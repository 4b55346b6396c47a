//! LIST with selectors and `limit`/`continue` paging.
//!
//! kube's watcher lists in pages of 500 and then watches from the list's resourceVersion, so
//! paging must behave like the real server's: every page reports the revision of the first
//! page (the snapshot the watch resumes from), and a `continue` token whose revision has been
//! compacted away is answered with 410 Gone. Simplification: later pages show the objects'
//! current state rather than the snapshot; the watch that follows replays the difference, so a
//! client ends up with the same view.

use serde_json::{Map, Value, json};

use crate::object_meta;
use crate::resources::ResourceInfo;
use crate::selectors::Selectors;
use crate::status::ApiError;
use crate::store::Store;

/// A request for one page.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListRequest {
    pub(crate) namespace: Option<String>,
    pub(crate) selectors: Selectors,
    pub(crate) limit: Option<usize>,
    pub(crate) continue_token: Option<String>,
}

/// Opaque to clients: `<snapshot rv>/<namespace>/<name>` of the last object returned.
fn encode_token(rv: u64, namespace: &str, name: &str) -> String {
    format!("{rv}/{namespace}/{name}")
}

fn decode_token(token: &str) -> Result<(u64, String, String), ApiError> {
    let invalid = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let mut parts = token.splitn(3, '/');
    let rv = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    let ns = parts.next().ok_or_else(invalid)?;
    let name = parts.next().ok_or_else(invalid)?;
    Ok((rv, ns.to_owned(), name.to_owned()))
}

pub(crate) fn list(
    store: &Store,
    info: &ResourceInfo,
    req: &ListRequest,
) -> Result<Value, ApiError> {
    let (snapshot_rv, after) = match &req.continue_token {
        Some(token) => {
            let (rv, ns, name) = decode_token(token)?;
            if !store.history().covers(rv) {
                return Err(ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            (rv, Some((ns, name)))
        }
        None => (store.current_rv(), None),
    };
    let limit = req.limit.filter(|l| *l > 0);
    let mut items = Vec::new();
    let mut next_token = None;
    let candidates = store
        .iter_resource(&info.gvr, req.namespace.as_deref())
        .filter(|(key, _)| match &after {
            Some((ns, name)) => {
                (key.namespace.as_str(), key.name.as_str()) > (ns.as_str(), name.as_str())
            }
            None => true,
        })
        .filter(|(_, obj)| req.selectors.matches(obj));
    for (_, obj) in candidates {
        if limit.is_some_and(|l| items.len() >= l) {
            // There is at least one more match: hand out a token pointing after the last item.
            if let Some(last) = items.last() {
                next_token = Some(encode_token(
                    snapshot_rv,
                    object_meta::namespace(last),
                    object_meta::name(last),
                ));
            }
            break;
        }
        items.push(obj.clone());
    }
    let mut metadata = Map::new();
    metadata.insert(
        "resourceVersion".into(),
        Value::String(snapshot_rv.to_string()),
    );
    if let Some(token) = next_token {
        metadata.insert("continue".into(), Value::String(token));
    }
    Ok(json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.gvr.api_version(),
        "metadata": metadata,
        "items": items,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_token(7, "ns", "a.b");
        assert_eq!(
            decode_token(&token).unwrap(),
            (7, "ns".into(), "a.b".into())
        );
        assert_eq!(decode_token("x").unwrap_err().code, 400);
    }
}
