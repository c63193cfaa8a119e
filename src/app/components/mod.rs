//! Small pieces the pages share.

pub mod chart;

use crate::api::ApiError;
use leptos::prelude::*;

/// The message for `field` from the last answer of an action, shown under that field.
pub fn field_error<T, S>(value: S, field: &'static str) -> impl Fn() -> Option<String> + Copy
where
    S: With<Value = Option<Result<T, ApiError>>> + Copy,
{
    move || {
        value.with(|answer| match answer {
            Some(Err(e)) => e.for_field(field),
            _ => None,
        })
    }
}

/// The last answer's error when it is not about one field (forbidden, conflicts, outages).
pub fn form_error<T, S>(value: S) -> impl Fn() -> Option<String> + Copy
where
    S: With<Value = Option<Result<T, ApiError>>> + Copy,
{
    move || {
        value.with(|answer| match answer {
            Some(Err(ApiError::Invalid { .. })) | None | Some(Ok(_)) => None,
            Some(Err(e)) => Some(e.to_string()),
        })
    }
}

/// An error panel for a failed load (for example a role that may not see this page).
#[component]
pub fn LoadError(error: ApiError) -> impl IntoView {
    view! {
        <div class="card notice error" role="alert" data-testid="load-error">
            {error.to_string()}
        </div>
    }
}

/// Whether the signed-in user holds at least `needed`; pages hide edit controls otherwise
/// (the server refuses such calls anyway).
pub fn use_can(needed: crate::domain::Role) -> Signal<bool> {
    let user = Resource::new(|| (), |_| crate::api::auth::current_user());
    Signal::derive(move || {
        user.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|u| u.role.includes(needed))
    })
}

/// A labelled one-line text input bound to `signal`, with its field error (`error`) below;
/// `name` is the field's key in error answers, shown as `data-field` for tests.
pub fn text_field(
    id: &'static str,
    label: &'static str,
    name: &'static str,
    signal: RwSignal<String>,
    error: impl Fn() -> Option<String> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id type="text" prop:value=move || signal.get()
                on:input=move |ev| signal.set(event_target_value(&ev))/>
            <p class="field-error" data-field=name>{error}</p>
        </div>
    }
}

/// A form-side problem found before sending (a number that is not one), by field.
pub type LocalError = RwSignal<Option<(String, String)>>;

/// The message for `field`: the form's own check first, then the server's answer.
pub fn message_for<T, S>(
    value: S,
    local: LocalError,
    field: impl Into<String>,
) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static
where
    S: With<Value = Option<Result<T, ApiError>>> + Copy + Send + Sync + 'static,
{
    let field = field.into();
    move || {
        local
            .get()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m)
            .or_else(|| {
                value.with(|answer| match answer {
                    Some(Err(e)) => e.for_field(&field),
                    _ => None,
                })
            })
    }
}

/// Reads an optional number from a text box; `Err` names the field.
pub fn optional_number<N: std::str::FromStr>(
    text: &str,
    field: &str,
) -> Result<Option<N>, (String, String)> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| (field.to_string(), "must be a number".to_string()))
}

/// A comma-separated list, blanks dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `used of limit`, or just `used` when there is no limit.
pub fn used_of(used: impl ToString, limit: Option<impl ToString>) -> String {
    match limit {
        Some(limit) => format!("{} of {}", used.to_string(), limit.to_string()),
        None => used.to_string(),
    }
}
