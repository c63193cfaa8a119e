use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a team member may do in the dashboard. Each role includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except secrets.
    Viewer,
    /// Also changes models, policies, prices and non-secret account fields.
    Editor,
    /// Everything, including credentials, gateway keys and users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];

    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Editor => 1,
            Role::Admin => 2,
        }
    }

    /// Whether someone with this role may do what `needed` may do.
    pub fn includes(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (expected admin, editor or viewer)"))
    }
}

/// A team member as the dashboard sees them: never carries the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Signs in through the identity provider, so has no password here.
    #[serde(default)]
    pub single_sign_on: bool,
}

pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 1024;

/// User names are compared case-insensitively, so they are stored trimmed and lower-case.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Checks a (normalized) user name; the error is a sentence for the form field.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Enter a user name.".into());
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(format!("Use at most {USERNAME_MAX} characters."));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err("Use letters, digits and . _ - @ only.".into());
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(format!("Use at least {PASSWORD_MIN} characters."));
    }
    if len > PASSWORD_MAX {
        return Err(format!("Use at most {PASSWORD_MAX} characters."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.includes(Role::Editor));
        assert!(Role::Admin.includes(Role::Viewer));
        assert!(Role::Editor.includes(Role::Viewer));
        assert!(!Role::Editor.includes(Role::Admin));
        assert!(!Role::Viewer.includes(Role::Editor));
        assert_eq!("editor".parse::<Role>(), Ok(Role::Editor));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert_eq!(normalize_username("  Alice "), "alice");
        assert!(validate_username("alice@example.com").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("bob smith").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pw").is_ok());
    }
}
