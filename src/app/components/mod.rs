//! Small pieces the pages share: the editor skeleton, value formatting, and form helpers.

mod editor;
mod format;

pub use editor::{
    checkbox_group, loaded, text_input, AddButton, Chooser, Confirm, ConfirmDialog, Editor,
    EditorDialog, Loading, PageHeader, Problem, RowActions,
};
pub use format::{
    compact, defaults_text, dollars, grouped, money, now_millis, unit_price, used_of, HealthBadge,
    Time,
};

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

/// Reads an optional number from a text box; `Err` names the field.
pub fn optional_number<N: std::str::FromStr>(
    text: &str,
    field: &str,
) -> Result<Option<N>, Problem> {
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
