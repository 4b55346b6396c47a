//! Finds every message carrying a `csi_secret` field and writes `Debug` impls for it that
//! print secret map keys but never values. Driven by the descriptor pool, so the list of
//! secret-bearing messages is whatever the protos say, not a hand-kept list.

use std::fmt::Write as _;
use std::path::Path;

use prost_reflect::{
    DescriptorPool, ExtensionDescriptor, FieldDescriptor, MessageDescriptor, Value,
};

/// The custom field option that marks sensitive fields in csi.proto.
const SECRET_OPTION: &str = "csi.v1.csi_secret";

/// Proto package -> Rust module holding its generated types (see src/v1.rs, src/registration.rs).
const PACKAGE_MODULES: [(&str, &str); 2] = [
    ("csi.v1", "crate::v1"),
    ("pluginregistration", "crate::registration"),
];

pub struct Plan {
    messages: Vec<SecretMessage>,
}

struct SecretMessage {
    full_name: String,
    package: String,
    name: String,
    fields: Vec<Field>,
}

struct Field {
    proto_name: String,
    rust_ident: String,
    kind: FieldKind,
}

enum FieldKind {
    Plain,
    SecretMap,
    SecretValue,
}

pub fn plan(pool: &DescriptorPool) -> Plan {
    let secret = pool
        .get_extension_by_name(SECRET_OPTION)
        .unwrap_or_else(|| panic!("{SECRET_OPTION} is not declared by the protos"));
    let mut messages: Vec<SecretMessage> = pool
        .all_messages()
        .filter(|m| m.fields().any(|f| is_secret(&f, &secret)))
        .map(|m| secret_message(&m, &secret))
        .collect();
    messages.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    Plan { messages }
}

fn is_secret(field: &FieldDescriptor, secret: &ExtensionDescriptor) -> bool {
    let options = field.options();
    options.has_extension(secret) && *options.get_extension(secret) == Value::Bool(true)
}

fn secret_message(message: &MessageDescriptor, secret: &ExtensionDescriptor) -> SecretMessage {
    let full_name = message.full_name().to_string();
    // prost-build's skip_debug also strips Debug from every type nested inside the message
    // (its paths match by prefix). The CSI request messages that carry secrets are flat; if
    // one ever gains nested types or a oneof, stop here rather than emit code that would not
    // compile or, worse, silently drop their Debug output.
    assert!(
        message.parent_message().is_none(),
        "{full_name}: secret-bearing nested messages are not supported by build/redacted_debug.rs"
    );
    assert!(
        message.child_messages().all(|m| m.is_map_entry()) && message.child_enums().len() == 0,
        "{full_name}: nested types inside a secret-bearing message are not supported by build/redacted_debug.rs"
    );
    assert!(
        message.oneofs().all(|o| o.is_synthetic()),
        "{full_name}: oneofs inside a secret-bearing message are not supported by build/redacted_debug.rs"
    );
    let name = message.name().to_string();
    assert!(
        is_plain_upper_camel(&name),
        "{full_name}: message name would be renamed by prost; teach build/redacted_debug.rs its Rust name"
    );
    let fields = message
        .fields()
        .map(|f| {
            let kind = match (is_secret(&f, secret), f.is_map()) {
                (false, _) => FieldKind::Plain,
                (true, true) => FieldKind::SecretMap,
                (true, false) => FieldKind::SecretValue,
            };
            Field {
                proto_name: f.name().to_string(),
                rust_ident: rust_field_ident(&full_name, f.name()),
                kind,
            }
        })
        .collect();
    SecretMessage {
        full_name,
        package: message.package_name().to_string(),
        name,
        fields,
    }
}

/// prost keeps UpperCamel names as they are; anything else (acronyms like "RPC",
/// underscores) it re-cases, and we would have to mirror that exactly.
fn is_plain_upper_camel(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_uppercase)
        && bytes.iter().all(u8::is_ascii_alphanumeric)
        && !bytes
            .windows(2)
            .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
}

/// The Rust identifier prost-build gives a lower_snake_case field (mirrors its
/// `sanitize_identifier`).
fn rust_field_ident(message: &str, field: &str) -> String {
    assert!(
        field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && field.bytes().next().is_some_and(|b| b.is_ascii_lowercase()),
        "{message}.{field}: field name is not lower_snake_case; teach build/redacted_debug.rs prost's renaming"
    );
    match field {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{field}"),
        "super" | "self" | "extern" | "crate" => format!("{field}_"),
        _ => field.to_string(),
    }
}

fn rust_module(package: &str) -> &'static str {
    PACKAGE_MODULES
        .iter()
        .find(|(p, _)| *p == package)
        .map(|(_, m)| *m)
        .unwrap_or_else(|| {
            panic!("proto package {package} has no Rust module in build/redacted_debug.rs")
        })
}

impl Plan {
    /// Paths for tonic-prost-build's `skip_debug`: the derived Debug would print secrets.
    pub fn skip_debug_paths(&self) -> Vec<String> {
        self.messages
            .iter()
            .map(|m| format!(".{}", m.full_name))
            .collect()
    }

    /// Writes `<package>.redacted_debug.rs` for every package (included next to the generated
    /// types) and `secret_messages.rs` (included by src/redact.rs).
    pub fn write(&self, out_dir: &Path) {
        for (package, _) in PACKAGE_MODULES {
            let mut code = String::from("// @generated by build/redacted_debug.rs\n");
            for message in self.messages.iter().filter(|m| m.package == package) {
                code.push_str(&debug_impl(message));
            }
            std::fs::write(out_dir.join(format!("{package}.redacted_debug.rs")), code)
                .expect("write redacted Debug impls");
        }
        std::fs::write(out_dir.join("secret_messages.rs"), self.registry())
            .expect("write secret message registry");
    }

    fn registry(&self) -> String {
        let mut code = String::from("// @generated by build/redacted_debug.rs\n\n");
        code.push_str(
            "/// Fully-qualified names of every message with a `csi_secret` field, i.e. every\n\
             /// message whose `Debug` output is redacted.\n\
             pub const SECRET_BEARING_MESSAGES: &[&str] = &[\n",
        );
        for message in &self.messages {
            let _ = writeln!(code, "    {:?},", message.full_name);
        }
        code.push_str("];\n\n");
        code.push_str(
            "/// Decodes `bytes` as the secret-bearing message `full_name` and renders its redacted\n\
             /// `Debug` output; `None` if `full_name` is not in [`SECRET_BEARING_MESSAGES`].\n\
             /// Exists so tests can check every such message without naming each Rust type.\n\
             #[doc(hidden)]\n\
             pub fn debug_encoded(\n    full_name: &str,\n    bytes: &[u8],\n) -> ::core::option::Option<::core::result::Result<::std::string::String, ::prost::DecodeError>> {\n\
             \x20   match full_name {\n",
        );
        for message in &self.messages {
            let _ = writeln!(
                code,
                "        {:?} => ::core::option::Option::Some(\n            <{}::{} as ::prost::Message>::decode(bytes).map(|m| ::std::format!(\"{{m:?}}\")),\n        ),",
                message.full_name,
                rust_module(&message.package),
                message.name
            );
        }
        code.push_str("        _ => ::core::option::Option::None,\n    }\n}\n");
        code
    }
}

fn debug_impl(message: &SecretMessage) -> String {
    let mut code = String::new();
    let _ = writeln!(
        code,
        "\nimpl ::core::fmt::Debug for {name} {{\n    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{\n        f.debug_struct({name:?})",
        name = message.name
    );
    for field in &message.fields {
        let value = match field.kind {
            FieldKind::Plain => format!("&self.{}", field.rust_ident),
            FieldKind::SecretMap => {
                format!(
                    "&crate::redact::RedactedMap::new(self.{}.keys())",
                    field.rust_ident
                )
            }
            FieldKind::SecretValue => "&crate::redact::Redacted".to_string(),
        };
        let _ = writeln!(code, "            .field({:?}, {value})", field.proto_name);
    }
    code.push_str("            .finish()\n    }\n}\n");
    code
}
