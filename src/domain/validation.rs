//! Field-level validation shared by every aggregate, so forms can show each error next to its
//! field and config files can name the offending key.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest name accepted for a logical model, provider account or policy: names appear in
/// URLs, headers and log lines, so they stay short.
pub const NAME_MAX_LEN: usize = 64;

/// One problem with one field, e.g. `targets[1].account: must not be empty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Errors of the domain layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Every problem found, not just the first, so a form can mark all fields at once.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldError>),
    #[error("unknown {what} `{value}` (expected one of {allowed})")]
    UnknownValue {
        what: &'static str,
        value: String,
        allowed: String,
    },
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects field errors while an aggregate is checked.
#[derive(Default)]
pub(crate) struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub(crate) fn require(
        &mut self,
        ok: bool,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        if !ok {
            self.errors.push(FieldError {
                field: field.into(),
                message: message.into(),
            });
        }
    }

    /// Names are identifiers people type in config files and URLs: lowercase ASCII letters,
    /// digits, `-`, `_` and `.`, starting with a letter or digit.
    pub(crate) fn name(&mut self, field: impl Into<String>, name: &str) {
        let field = field.into();
        if name.is_empty() {
            self.require(false, field, "must not be empty");
        } else if name.len() > NAME_MAX_LEN {
            self.require(
                false,
                field,
                format!("must be at most {NAME_MAX_LEN} characters"),
            );
        } else {
            let starts_well = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            let charset_ok = name.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
            });
            self.require(
                starts_well && charset_ok,
                field,
                "may contain only lowercase letters, digits, '-', '_' and '.', and must start with a letter or digit",
            );
        }
    }

    pub(crate) fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.errors))
        }
    }
}

/// Checks one name (of a gateway key, say) by the same rules as logical models and accounts.
pub fn check_name(field: &str, name: &str) -> Result<(), DomainError> {
    let mut check = Checker::default();
    check.name(field, name);
    check.finish()
}

/// Lists the accepted spellings for an "unknown value" error.
pub(crate) fn allowed_list<T: fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Serde default for `enabled` flags: things are on unless switched off.
pub(crate) fn enabled_by_default() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_errors(name: &str) -> Vec<FieldError> {
        let mut checker = Checker::default();
        checker.name("name", name);
        match checker.finish() {
            Ok(()) => Vec::new(),
            Err(DomainError::Invalid(errors)) => errors,
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn names_follow_the_identifier_rules() {
        let long = "a".repeat(NAME_MAX_LEN + 1);
        let max = "a".repeat(NAME_MAX_LEN);
        let cases: &[(&str, Option<&str>)] = &[
            ("primary-llm", None),
            ("openai.main_2", None),
            ("7b", None),
            (&max, None),
            ("", Some("must not be empty")),
            (&long, Some("at most 64")),
            ("Primary", Some("lowercase")),
            ("-lead", Some("start with")),
            ("has space", Some("lowercase")),
            ("ünï", Some("lowercase")),
        ];
        for (name, expected) in cases {
            let errors = name_errors(name);
            match expected {
                None => assert!(errors.is_empty(), "{name:?} should be valid: {errors:?}"),
                Some(fragment) => {
                    assert_eq!(errors.len(), 1, "{name:?}");
                    assert_eq!(errors[0].field, "name");
                    assert!(
                        errors[0].message.contains(fragment),
                        "{name:?}: {}",
                        errors[0].message
                    );
                }
            }
        }
    }

    #[test]
    fn invalid_lists_every_field() {
        let err = DomainError::Invalid(vec![
            FieldError {
                field: "name".into(),
                message: "must not be empty".into(),
            },
            FieldError {
                field: "targets".into(),
                message: "needs at least one target".into(),
            },
        ]);
        assert_eq!(
            err.to_string(),
            "name: must not be empty; targets: needs at least one target"
        );
    }
}
