use super::*;

const NAME_KEY: &str = "csi.storage.k8s.io/provisioner-secret-name";
const NAMESPACE_KEY: &str = "csi.storage.k8s.io/provisioner-secret-namespace";

fn template(name: &str, namespace: &str) -> SecretTemplate {
    SecretTemplate {
        name_key: NAME_KEY.to_owned(),
        name: name.to_owned(),
        namespace_key: NAMESPACE_KEY.to_owned(),
        namespace: namespace.to_owned(),
    }
}

fn annotations() -> BTreeMap<String, String> {
    BTreeMap::from([("team.io/secret".to_owned(), "gold".to_owned())])
}

fn provisioner() -> Scope<'static> {
    Scope::Provisioner {
        pv_name: "pvc-1",
        claim_namespace: "team-a",
    }
}

fn operation(annotations: &BTreeMap<String, String>) -> Scope<'_> {
    Scope::VolumeOperation {
        pv_name: "pvc-1",
        claim_name: "data",
        claim_namespace: "team-a",
        claim_annotations: annotations,
    }
}

fn snapshot() -> Scope<'static> {
    Scope::Snapshot {
        content_name: "snapcontent-1",
        snapshot: Some(("apps", "db-snap")),
    }
}

/// Every token any scope knows, plus ones none does, with what it expands to where allowed.
const TOKENS: [(&str, &str); 9] = [
    ("pv.name", "pvc-1"),
    ("pvc.namespace", "team-a"),
    ("pvc.name", "data"),
    ("pvc.annotations['team.io/secret']", "gold"),
    ("volumesnapshotcontent.name", "snapcontent-1"),
    ("volumesnapshot.namespace", "apps"),
    ("volumesnapshot.name", "db-snap"),
    ("pvc.uid", ""),
    ("pv.annotations['x']", ""),
];

/// Upstream's rules (and Sepia's stricter provisioner rule), token by token: for each scope
/// and field, exactly these tokens expand; every other is refused naming key and token.
#[test]
fn each_scope_allows_exactly_its_tokens_in_each_field() {
    let annotations = annotations();
    let table: [(&str, Scope<'_>, &[&str], &[&str]); 3] = [
        (
            "provisioner",
            provisioner(),
            &["pv.name", "pvc.namespace"],
            &["pv.name", "pvc.namespace"],
        ),
        (
            "volume operation",
            operation(&annotations),
            &["pv.name", "pvc.namespace"],
            &[
                "pv.name",
                "pvc.namespace",
                "pvc.name",
                "pvc.annotations['team.io/secret']",
            ],
        ),
        (
            "snapshot",
            snapshot(),
            &["volumesnapshotcontent.name", "volumesnapshot.namespace"],
            &[
                "volumesnapshotcontent.name",
                "volumesnapshot.namespace",
                "volumesnapshot.name",
            ],
        ),
    ];
    for (what, scope, namespace_tokens, name_tokens) in table {
        for (token, value) in TOKENS {
            let in_namespace = template("plain", &format!("x-${{{token}}}"));
            let in_name = template(&format!("x-${{{token}}}"), "plain");
            for (field, tmpl, allowed, key) in [
                ("namespace", in_namespace, namespace_tokens, NAMESPACE_KEY),
                ("name", in_name, name_tokens, NAME_KEY),
            ] {
                let got = resolve(&tmpl, &scope);
                if allowed.contains(&token) {
                    let got = got.unwrap_or_else(|e| panic!("{what} {field} ${{{token}}}: {e}"));
                    let resolved = if field == "name" {
                        got.name
                    } else {
                        got.namespace
                    };
                    assert_eq!(resolved, format!("x-{value}"), "{what} {field} {token}");
                } else {
                    let err = got.expect_err(&format!("{what} {field} must refuse ${{{token}}}"));
                    assert_eq!(err.key, key, "{what} {field} {token}");
                    assert!(
                        matches!(&err.problem, Problem::NotAllowed { token: t, .. } if t == token),
                        "{what} {field} {token}: {err}"
                    );
                    let text = err.to_string();
                    assert!(
                        text.contains(key) && text.contains(&format!("${{{token}}}")),
                        "the error names the key and the token: {text}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_provisioner_error_says_what_is_allowed_instead() {
    let err = resolve(
        &template("${pvc.annotations['team.io/secret']}", "ceph"),
        &provisioner(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "class parameter csi.storage.k8s.io/provisioner-secret-name = \
         \"${pvc.annotations['team.io/secret']}\": ${pvc.annotations['team.io/secret']} is not \
         allowed in the provisioner's Secret name (allowed: ${pv.name}, ${pvc.namespace})"
    );
}

#[test]
fn whole_templates_resolve() {
    let annotations = annotations();
    let cases: [(&str, SecretTemplate, Scope<'_>, (&str, &str)); 5] = [
        (
            "literal",
            template("s", "ceph"),
            provisioner(),
            ("s", "ceph"),
        ),
        (
            "provisioner per namespace",
            template("prov-${pvc.namespace}", "${pvc.namespace}"),
            provisioner(),
            ("prov-team-a", "team-a"),
        ),
        (
            "node-stage per claim",
            template(
                "${pvc.annotations['team.io/secret']}.${pvc.name}",
                "${pvc.namespace}",
            ),
            operation(&annotations),
            ("gold.data", "team-a"),
        ),
        (
            "snapshot",
            template(
                "${volumesnapshot.name}-${volumesnapshotcontent.name}",
                "${volumesnapshot.namespace}",
            ),
            snapshot(),
            ("db-snap-snapcontent-1", "apps"),
        ),
        (
            "content name without a snapshot",
            template("s-${volumesnapshotcontent.name}", "kube-system"),
            Scope::Snapshot {
                content_name: "snapcontent-1",
                snapshot: None,
            },
            ("s-snapcontent-1", "kube-system"),
        ),
    ];
    for (what, tmpl, scope, (name, namespace)) in cases {
        let got = resolve(&tmpl, &scope).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            (got.name.as_str(), got.namespace.as_str()),
            (name, namespace),
            "{what}"
        );
    }
}

#[test]
fn broken_templates_name_the_key_and_the_rule() {
    let none = BTreeMap::new();
    let no_snapshot = Scope::Snapshot {
        content_name: "snapcontent-1",
        snapshot: None,
    };
    let cases: [(&str, SecretTemplate, Scope<'_>, &str, &str); 8] = [
        (
            "missing annotation",
            template("${pvc.annotations['missing']}", "ns"),
            operation(&none),
            NAME_KEY,
            "the claim has no annotation \"missing\"",
        ),
        (
            "snapshot tokens need a snapshot",
            template("${volumesnapshot.name}", "ns"),
            no_snapshot,
            NAME_KEY,
            "has no value here",
        ),
        (
            "unterminated",
            template("${pv.name", "ns"),
            provisioner(),
            NAME_KEY,
            "has no closing",
        ),
        (
            "bare dollar",
            template("$HOME", "ns"),
            provisioner(),
            NAME_KEY,
            "${HOME} is not allowed",
        ),
        (
            "upper case name",
            template("Upper", "ns"),
            provisioner(),
            NAME_KEY,
            "not a valid Secret name",
        ),
        (
            "dotted namespace",
            template("s", "bad.ns"),
            provisioner(),
            NAMESPACE_KEY,
            "not a valid namespace name",
        ),
        (
            "leading dash",
            template("-s", "ns"),
            provisioner(),
            NAME_KEY,
            "not a valid Secret name",
        ),
        (
            "expands to an invalid namespace",
            template("s", "${pvc.namespace}-"),
            provisioner(),
            NAMESPACE_KEY,
            "resolves to \"team-a-\"",
        ),
    ];
    for (what, tmpl, scope, key, needle) in cases {
        let err = resolve(&tmpl, &scope).unwrap_err();
        assert_eq!(err.key, key, "{what}");
        assert!(err.to_string().contains(needle), "{what}: {err}");
    }
}

#[test]
fn pairs_come_whole() {
    let params = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(read_pair(&params(&[]), NAME_KEY, NAMESPACE_KEY), Ok(None));
    assert_eq!(
        read_pair(
            &params(&[(NAME_KEY, "s"), (NAMESPACE_KEY, "ns"), ("pool", "rbd")]),
            NAME_KEY,
            NAMESPACE_KEY
        ),
        Ok(Some(template("s", "ns")))
    );
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Problem);
    let cases: [Case<'_>; 4] = [
        (
            &[(NAME_KEY, "s")],
            NAME_KEY,
            Problem::Unpaired {
                missing: NAMESPACE_KEY.to_owned(),
            },
        ),
        (
            &[(NAMESPACE_KEY, "ns")],
            NAMESPACE_KEY,
            Problem::Unpaired {
                missing: NAME_KEY.to_owned(),
            },
        ),
        (
            &[(NAME_KEY, ""), (NAMESPACE_KEY, "ns")],
            NAME_KEY,
            Problem::Empty,
        ),
        (
            &[(NAME_KEY, "s"), (NAMESPACE_KEY, "")],
            NAMESPACE_KEY,
            Problem::Empty,
        ),
    ];
    for (pairs, key, problem) in cases {
        let err = read_pair(&params(pairs), NAME_KEY, NAMESPACE_KEY).unwrap_err();
        assert_eq!((err.key.as_str(), err.problem), (key, problem), "{pairs:?}");
    }
}
