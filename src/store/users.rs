//! Team members. The row type carries the password hash and so is never serialized;
//! the dashboard gets `UserView`.

use super::{new_id, now_millis, StoreError};
use crate::domain::{Role, UserView};
use sqlx::{AnyPool, Row};

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub source: Source,
}

/// How an account signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// With the password stored here.
    Password,
    /// Through the OpenID Connect provider; the stored hash is empty and never checked.
    Oidc,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Password => "password",
            Source::Oidc => "oidc",
        }
    }
}

impl UserRow {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            username: self.username.clone(),
            role: self.role,
            disabled: self.disabled,
            created_at: self.created_at,
            single_sign_on: self.source == Source::Oidc,
        }
    }
}

const COLUMNS: &str = "id, username, password_hash, role, disabled, created_at, source";

fn from_row(row: &sqlx::any::AnyRow) -> Result<UserRow, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(UserRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        role: role
            .parse()
            .map_err(|e: String| StoreError::Sqlx(sqlx::Error::Decode(e.into())))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
        source: match row.try_get::<String, _>("source")?.as_str() {
            "oidc" => Source::Oidc,
            _ => Source::Password,
        },
    })
}

pub async fn count(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

pub async fn count_active_admins(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_one(pool)
            .await?
            .try_get("n")?,
    )
}

pub async fn find_by_username(
    pool: &AnyPool,
    username: &str,
) -> Result<Option<UserRow>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn find_by_id(pool: &AnyPool, id: &str) -> Result<Option<UserRow>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn list(pool: &AnyPool) -> Result<Vec<UserRow>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Inserts a user; `Duplicate("user name")` when the name is taken.
pub async fn insert(
    pool: &AnyPool,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<UserRow, StoreError> {
    let now = now_millis();
    let row = UserRow {
        id: new_id(),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
        role,
        disabled: false,
        created_at: now,
        source: Source::Password,
    };
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5)",
    )
    .bind(&row.id)
    .bind(&row.username)
    .bind(&row.password_hash)
    .bind(role.as_str())
    .bind(now)
    .execute(pool)
    .await
    .map_err(StoreError::unique_as("user name"))?;
    Ok(row)
}

/// Inserts the first admin only if there is no user yet, atomically, so two concurrent
/// setup requests cannot both succeed. Returns whether it was created.
pub async fn insert_first_admin(
    pool: &AnyPool,
    username: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let result = sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at) \
         SELECT $1, $2, $3, 'admin', 0, $4, $4 WHERE NOT EXISTS (SELECT 1 FROM users)",
    )
    .bind(new_id())
    .bind(username)
    .bind(password_hash)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_role<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
    role: Role,
) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now_millis())
        .bind(id)
        .execute(executor)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The account an identity provider's `subject` (under `issuer`) signed in to before.
pub async fn find_by_external(
    pool: &AnyPool,
    issuer: &str,
    subject: &str,
) -> Result<Option<UserRow>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE external_issuer = $1 AND external_subject = $2"
    ))
    .bind(issuer)
    .bind(subject)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Inserts an account that signs in through the identity provider; `Duplicate("user name")`
/// when the name is taken.
pub async fn insert_external<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    username: &str,
    role: Role,
    issuer: &str,
    subject: &str,
) -> Result<UserRow, StoreError> {
    let now = now_millis();
    let row = UserRow {
        id: new_id(),
        username: username.to_string(),
        password_hash: String::new(),
        role,
        disabled: false,
        created_at: now,
        source: Source::Oidc,
    };
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at, \
         source, external_issuer, external_subject) \
         VALUES ($1, $2, '', $3, 0, $4, $4, 'oidc', $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.username)
    .bind(role.as_str())
    .bind(now)
    .bind(issuer)
    .bind(subject)
    .execute(executor)
    .await
    .map_err(StoreError::unique_as("user name"))?;
    Ok(row)
}

pub async fn set_disabled(pool: &AnyPool, id: &str, disabled: bool) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(disabled))
        .bind(now_millis())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_password_hash(
    pool: &AnyPool,
    id: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_millis())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() == 1)
}
