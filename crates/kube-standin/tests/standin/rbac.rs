//! RBAC over HTTP with kube-rs: a client carrying a ServiceAccount's token is held to the roles
//! bound to it, and refusals come back as the real server's 403 and 401 `Status`.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::Status;
use kube_standin::{Gvr, StandIn};
use serde_json::json;

use crate::fixtures::config_map;

const SA: &str = "system:serviceaccount:csi:attacher";

const RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: attacher, namespace: csi}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: attacher}
rules:
- apiGroups: [storage.k8s.io]
  resources: [volumeattachments]
  verbs: [get, list, watch, patch]
- apiGroups: [storage.k8s.io]
  resources: [volumeattachments/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: attacher}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: attacher}
subjects: [{kind: ServiceAccount, name: attacher, namespace: csi}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: attacher, namespace: csi}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [ceph-user]
  verbs: [get, watch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: attacher, namespace: csi}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: attacher}
subjects: [{kind: ServiceAccount, name: attacher, namespace: csi}]
"#;

/// A stand-in with [`RBAC`] loaded and a client acting as the attacher's ServiceAccount.
async fn as_attacher() -> (StandIn, kube::Client) {
    let standin = StandIn::start().await.unwrap();
    standin.apply_yaml(RBAC).unwrap();
    let token = standin.service_account_token("csi", "attacher");
    let client = standin.client_with_token(&token).unwrap();
    (standin, client)
}

fn refusal<T>(result: Result<T, kube::Error>) -> Box<Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        Err(other) => panic!("expected an API refusal, got {other:?}"),
        Ok(_) => panic!("expected an API refusal, got a success"),
    }
}

fn forbidden(message: &str) -> (u16, String, String) {
    (403, "Forbidden".into(), message.into())
}

fn parts(e: &Status) -> (u16, String, String) {
    (e.code, e.reason.clone(), e.message.clone())
}

fn volume_attachment(name: &str) -> VolumeAttachment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"attacher": "rbd.csi.sepia.io", "nodeName": "n", "source": {"persistentVolumeName": "pv"}}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_status_put_is_forbidden_where_only_patch_is_granted() {
    let (standin, client) = as_attacher().await;
    standin.put(&volume_attachment("va")).unwrap();
    let api: Api<VolumeAttachment> = Api::all(client);

    let patched = api
        .patch_status(
            "va",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"attached": true}})),
        )
        .await
        .unwrap();
    assert!(patched.status.unwrap().attached);

    let current = api.get("va").await.unwrap();
    let err = refusal(
        api.replace_status("va", &PostParams::default(), &current)
            .await,
    );
    assert_eq!(
        parts(&err),
        forbidden(&format!(
            "volumeattachments.storage.k8s.io \"va\" is forbidden: User \"{SA}\" cannot update resource \"volumeattachments/status\" in API group \"storage.k8s.io\" at the cluster scope"
        ))
    );
    let details = err.details.clone().unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("va", "storage.k8s.io", "volumeattachments")
    );
    // The refused write changed nothing, and the request log names who was refused.
    assert!(
        standin
            .events()
            .iter()
            .all(|w| w.subresource.is_none() || w.verb != kube_standin::Verb::Replace)
    );
    assert!(standin.requests().iter().any(|r| r.status == 403
        && r.method == "PUT"
        && r.user == SA
        && r.path == "/apis/storage.k8s.io/v1/volumeattachments/va/status"
        && r.message == err.message));
}

#[tokio::test]
async fn create_names_no_object_and_namespaces_are_told_apart() {
    let (_standin, client) = as_attacher().await;
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pv: PersistentVolume = serde_json::from_value(json!({"metadata": {"name": "pv"}})).unwrap();
    let err = refusal(pvs.create(&PostParams::default(), &pv).await);
    assert_eq!(
        parts(&err),
        forbidden(&format!(
            "persistentvolumes is forbidden: User \"{SA}\" cannot create resource \"persistentvolumes\" in API group \"\" at the cluster scope"
        ))
    );

    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "l"}})).unwrap();
    let own: Api<Lease> = Api::namespaced(client.clone(), "csi");
    own.create(&PostParams::default(), &lease).await.unwrap();
    let elsewhere: Api<Lease> = Api::namespaced(client, "default");
    let err = refusal(elsewhere.create(&PostParams::default(), &lease).await);
    assert_eq!(
        parts(&err),
        forbidden(&format!(
            "leases.coordination.k8s.io is forbidden: User \"{SA}\" cannot create resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"default\""
        ))
    );
}

#[tokio::test]
async fn listing_across_namespaces_needs_a_cluster_role_binding() {
    let (_standin, client) = as_attacher().await;
    // ClusterRoleBinding: every namespace at once.
    let all: Api<PersistentVolumeClaim> = Api::all(client.clone());
    all.list(&ListParams::default()).await.unwrap();
    // The Role grants leases in csi only: not across namespaces.
    let leases: Api<Lease> = Api::all(client);
    let err = refusal(leases.list(&ListParams::default()).await);
    assert_eq!(
        parts(&err),
        forbidden(&format!(
            "leases.coordination.k8s.io is forbidden: User \"{SA}\" cannot list resource \"leases\" in API group \"coordination.k8s.io\" at the cluster scope"
        ))
    );
}

#[tokio::test]
async fn resource_names_allow_one_object_and_a_watch_pinned_to_it() {
    let (standin, client) = as_attacher().await;
    for name in ["ceph-user", "admin"] {
        standin
            .put_object(
                &Gvr::of::<Secret>(),
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "csi"}}),
            )
            .unwrap();
    }
    let secrets: Api<Secret> = Api::namespaced(client, "csi");
    secrets.get("ceph-user").await.unwrap();
    let err = refusal(secrets.get("admin").await);
    assert_eq!(
        err.message,
        format!(
            "secrets \"admin\" is forbidden: User \"{SA}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"csi\""
        )
    );
    let err = refusal(secrets.list(&ListParams::default()).await);
    assert_eq!(err.code, 403);

    use futures::StreamExt;
    let pinned = WatchParams::default()
        .fields("metadata.name=ceph-user")
        .timeout(1);
    let mut stream = secrets.watch(&pinned, "0").await.unwrap().boxed();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        matches!(first, WatchEvent::Added(s) if s.metadata.name.as_deref() == Some("ceph-user"))
    );
    let unpinned = WatchParams::default().timeout(1);
    assert_eq!(refusal(secrets.watch(&unpinned, "0").await).code, 403);
}

#[tokio::test]
async fn server_side_apply_that_creates_also_needs_create() {
    let (standin, client) = as_attacher().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "csi");
    let apply = Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}));
    let params = PatchParams::apply("attacher");
    let err = refusal(api.patch("new", &params, &apply).await);
    assert_eq!(
        err.message,
        format!(
            "configmaps \"new\" is forbidden: User \"{SA}\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"csi\""
        )
    );
    assert!(standin.get::<ConfigMap>("csi", "new").unwrap().is_none());

    let mut existing = config_map("existing");
    existing.metadata.namespace = Some("csi".into());
    standin.put(&existing).unwrap();
    api.patch("existing", &params, &apply).await.unwrap();
}

#[tokio::test]
async fn rbac_objects_written_through_the_api_apply_at_once() {
    let (standin, client) = as_attacher().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "csi");
    assert_eq!(
        refusal(configmaps.list(&ListParams::default()).await).code,
        403
    );

    let admin = standin.client().unwrap();
    let roles: Api<kube::api::DynamicObject> = Api::namespaced_with(
        admin,
        "csi",
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", "Role"),
            "roles",
        ),
    );
    let mut role = roles.get("attacher").await.unwrap();
    role.data["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}));
    roles
        .replace("attacher", &PostParams::default(), &role)
        .await
        .unwrap();

    configmaps.list(&ListParams::default()).await.unwrap();
}

#[tokio::test]
async fn a_token_outliving_its_service_account_is_unauthorized() {
    let (standin, client) = as_attacher().await;
    let api: Api<VolumeAttachment> = Api::all(client);
    api.list(&ListParams::default()).await.unwrap();
    assert!(
        standin
            .delete_object(&Gvr::new("", "v1", "serviceaccounts"), "csi", "attacher")
            .unwrap()
    );
    let err = refusal(api.list(&ListParams::default()).await);
    assert_eq!(
        parts(&err),
        (401, "Unauthorized".into(), "Unauthorized".into())
    );
}

#[tokio::test]
async fn anonymous_requests_see_the_version_and_nothing_else() {
    let standin = StandIn::start().await.unwrap();
    let anonymous =
        kube::Client::try_from(kube::Config::new(standin.url().parse().unwrap())).unwrap();
    anonymous.apiserver_version().await.unwrap();
    let err = refusal(anonymous.list_api_groups().await);
    assert_eq!(
        parts(&err),
        forbidden("forbidden: User \"system:anonymous\" cannot get path \"/apis\"")
    );
    let api: Api<ConfigMap> = Api::default_namespaced(anonymous);
    assert_eq!(refusal(api.list(&ListParams::default()).await).code, 403);
}

#[tokio::test]
async fn the_admin_client_and_kubeconfig_are_never_limited() {
    let (standin, _) = as_attacher().await;
    let api: Api<PersistentVolume> = Api::all(standin.client().unwrap());
    let pv: PersistentVolume = serde_json::from_value(json!({"metadata": {"name": "pv"}})).unwrap();
    api.create(&PostParams::default(), &pv).await.unwrap();
    assert!(
        standin
            .requests()
            .iter()
            .any(|r| r.status == 201 && r.user == "system:admin")
    );
}
