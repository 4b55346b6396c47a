//! Subjects of the form `sepia.<component>.<object>.<verb>`. Each part must be exactly one NATS
//! token without wildcards, otherwise an event would land under the wrong subject or turn a
//! consumer's filter into a wildcard.

use std::fmt;

use crate::error::EventsError;

/// First token of every Sepia subject.
pub const SUBJECT_PREFIX: &str = "sepia";

/// The subjects the Sepia stream captures.
pub const STREAM_SUBJECTS: &str = "sepia.>";

/// Long enough for any component or verb name, short enough to keep subjects readable.
const MAX_TOKEN_LEN: usize = 64;

/// A validated `sepia.<component>.<object>.<verb>` subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    pub fn new(component: &str, object: &str, verb: &str) -> Result<Self, EventsError> {
        validate_token("component", component)?;
        validate_token("object", object)?;
        validate_token("verb", verb)?;
        Ok(Self(format!(
            "{SUBJECT_PREFIX}.{component}.{object}.{verb}"
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks one subject token. Lowercase ASCII letters, digits, `-` and `_` only: that excludes
/// the separator `.`, the wildcards `*` and `>`, whitespace and anything a NATS client would
/// reject or misread.
pub fn validate_token(field: &'static str, value: &str) -> Result<(), EventsError> {
    let refuse = |rule| {
        Err(EventsError::InvalidSubjectToken {
            field,
            value: value.to_owned(),
            rule,
        })
    };
    if value.is_empty() {
        return refuse("it must not be empty");
    }
    if value.len() > MAX_TOKEN_LEN {
        return refuse("it must be at most 64 bytes long");
    }
    for c in value.chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' | '_' => {}
            '.' => return refuse("it must not contain '.', which separates subject tokens"),
            '*' | '>' => return refuse("it must not contain the wildcards '*' or '>'"),
            c if c.is_whitespace() => return refuse("it must not contain whitespace"),
            _ => {
                return refuse("it may only contain lowercase ASCII letters, digits, '-' and '_'");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_subject_has_four_tokens() {
        let subject = Subject::new("controller", "volume", "created").expect("valid");
        assert_eq!(subject.as_str(), "sepia.controller.volume.created");
    }

    #[test]
    fn tokens_that_would_break_the_subject_are_refused_with_field_and_rule() {
        let cases = [
            ("component", "", "empty"),
            ("component", "con.troller", "'.'"),
            ("object", "vol*", "wildcards"),
            ("object", ">", "wildcards"),
            ("verb", "was created", "whitespace"),
            ("verb", "Created", "lowercase"),
            ("verb", "créé", "lowercase"),
        ];
        for (field, value, rule_word) in cases {
            let (component, object, verb) = match field {
                "component" => (value, "volume", "created"),
                "object" => ("controller", value, "created"),
                _ => ("controller", "volume", value),
            };
            match Subject::new(component, object, verb) {
                Err(EventsError::InvalidSubjectToken {
                    field: f,
                    value: v,
                    rule,
                }) => {
                    assert_eq!(f, field);
                    assert_eq!(v, value);
                    assert!(rule.contains(rule_word), "{rule} for {value:?}");
                }
                other => panic!("{field}={value:?} gave {other:?}"),
            }
        }
        let long = "a".repeat(65);
        assert!(Subject::new(&long, "volume", "created").is_err());
    }
}
