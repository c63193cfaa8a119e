//! The Switchyard account behind a single sign-on: created at the first sign-in with the role
//! the groups map to, its role brought in line with the groups at every later one. Each
//! sign-in, creation and role change is written to the audit log with its source.

use super::{Identity, OidcError, Sso};
use crate::configuration::audit;
use crate::domain::{normalize_username, validate_username, USERNAME_MAX};
use crate::store::users::{self, UserRow};
use serde_json::json;
use sqlx::AnyPool;

/// The actor of changes the identity provider's groups make (account creation, role changes).
pub const SSO_ACTOR: &str = "single-sign-on";

/// How many numbered variants of a taken name a new account tries (`ada`, `ada-2`, …).
const NAME_TRIES: usize = 20;

/// The enabled account `identity` signs in to, created or updated from its groups.
pub async fn account_for(
    pool: &AnyPool,
    sso: &Sso,
    identity: &Identity,
) -> Result<UserRow, OidcError> {
    let role = sso
        .config
        .role_map
        .role_for(&identity.groups)
        .ok_or_else(|| OidcError::NoRole(identity.groups.clone()))?;
    let existing = users::find_by_external(pool, &identity.issuer, &identity.subject)
        .await
        .map_err(OidcError::internal)?;
    // Every row of this sign-in shows where the role came from.
    let after = json!({
        "source": "oidc",
        "provider": sso.name(),
        "groups": identity.groups,
        "role": role,
    });
    let mut tx = pool.begin().await.map_err(OidcError::internal)?;
    // (actor, action, before) of each audit row.
    let mut changes: Vec<(&str, &str, Option<serde_json::Value>)> = Vec::new();
    let user = match existing {
        Some(user) if user.disabled => return Err(OidcError::Disabled),
        Some(mut user) => {
            if user.role != role {
                users::set_role(&mut *tx, &user.id, role)
                    .await
                    .map_err(OidcError::internal)?;
                changes.push((SSO_ACTOR, "update", Some(json!({ "role": user.role }))));
                user.role = role;
            }
            user
        }
        None => {
            let username = free_username(pool, &identity.name_hint).await?;
            let user = users::insert_external(
                &mut *tx,
                &username,
                role,
                &identity.issuer,
                &identity.subject,
            )
            .await
            .map_err(OidcError::internal)?;
            changes.push((SSO_ACTOR, "create", None));
            user
        }
    };
    changes.push((&user.username, "sign-in", None));
    for (actor, action, before) in changes {
        let entry = audit::entry(
            actor,
            action,
            "user",
            &user.username,
            before,
            Some(after.clone()),
        );
        if let Some(entry) = entry {
            crate::store::config::insert_audit(&mut tx, &entry)
                .await
                .map_err(OidcError::internal)?;
        }
    }
    tx.commit().await.map_err(OidcError::internal)?;
    Ok(user)
}

/// A valid user name from the provider's name for someone, numbered when it is taken: an
/// identity provider's user never takes over an existing account by having the same name.
async fn free_username(pool: &AnyPool, hint: &str) -> Result<String, OidcError> {
    let cleaned: String = normalize_username(hint)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '-'
            }
        })
        .take(USERNAME_MAX - 3)
        .collect();
    let base = if cleaned.trim_matches('-').is_empty() {
        "sso-user".to_string()
    } else {
        cleaned
    };
    for n in 1..=NAME_TRIES {
        let candidate = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        if validate_username(&candidate).is_err() {
            continue;
        }
        let taken = users::find_by_username(pool, &candidate)
            .await
            .map_err(OidcError::internal)?
            .is_some();
        if !taken {
            return Ok(candidate);
        }
    }
    Err(OidcError::Internal(format!(
        "no free user name near `{base}`"
    )))
}
