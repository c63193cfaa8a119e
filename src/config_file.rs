//! Config as code (DESIGN §8): a YAML file applied at start-up. Secrets may be literal or
//! `env:NAME`. Errors name the file, the line and the field; nothing is applied when the file
//! is invalid.
//!
//! This version applies the `admin` entry. The other sections are recognised so that a
//! complete file is accepted, and start-up says plainly that they are not applied yet.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: {field}: environment variable {name} is not set")]
    MissingEnv {
        path: PathBuf,
        field: &'static str,
        name: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    admin: Option<AdminShape>,
    accounts: Option<serde_yaml_ng::Value>,
    models: Option<serde_yaml_ng::Value>,
    policies: Option<serde_yaml_ng::Value>,
    keys: Option<serde_yaml_ng::Value>,
    prices: Option<serde_yaml_ng::Value>,
    alerts: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminShape {
    username: String,
    password: String,
}

/// The first admin to create when the database has no user.
pub struct AdminEntry {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for AdminEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminEntry")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[derive(Debug)]
pub struct ConfigFile {
    pub admin: Option<AdminEntry>,
    /// Sections present in the file that this version does not apply yet.
    pub unapplied_sections: Vec<&'static str>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, |name| std::env::var(name).ok())
    }

    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigFileError> {
        let shape: FileShape = serde_yaml_ng::from_str(text).map_err(|e| {
            let location = e.location();
            ConfigFileError::Invalid {
                path: path.to_path_buf(),
                line: location.as_ref().map_or(0, |l| l.line()),
                column: location.as_ref().map_or(0, |l| l.column()),
                message: e.to_string(),
            }
        })?;
        let secret = |field: &'static str, value: String| -> Result<String, ConfigFileError> {
            match value.strip_prefix("env:") {
                Some(name) => env(name).ok_or_else(|| ConfigFileError::MissingEnv {
                    path: path.to_path_buf(),
                    field,
                    name: name.to_string(),
                }),
                None => Ok(value),
            }
        };
        let admin = shape
            .admin
            .map(|a| -> Result<AdminEntry, ConfigFileError> {
                Ok(AdminEntry {
                    username: a.username,
                    password: secret("admin.password", a.password)?,
                })
            })
            .transpose()?;
        let unapplied_sections = [
            ("accounts", shape.accounts.is_some()),
            ("models", shape.models.is_some()),
            ("policies", shape.policies.is_some()),
            ("keys", shape.keys.is_some()),
            ("prices", shape.prices.is_some()),
            ("alerts", shape.alerts.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        Ok(ConfigFile {
            admin,
            unapplied_sections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigFileError> {
        ConfigFile::parse(Path::new("sy.yaml"), text, |name| {
            (name == "ADMIN_PW").then(|| "from-the-env".to_string())
        })
    }

    #[test]
    fn admin_password_may_come_from_the_environment() {
        let file =
            parse("admin: { username: root, password: env:ADMIN_PW }\nmodels: []\n").unwrap();
        let admin = file.admin.unwrap();
        assert_eq!(admin.username, "root");
        assert_eq!(admin.password, "from-the-env");
        assert_eq!(file.unapplied_sections, vec!["models"]);
        assert!(!format!("{admin:?}").contains("from-the-env"));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let err = parse("admin:\n  username: root\n  pasword: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sy.yaml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("pasword"), "{err}");
        let err = parse("admin: { username: root, password: env:NOPE }")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("admin.password") && err.contains("NOPE"),
            "{err}"
        );
    }
}
