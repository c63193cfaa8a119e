//! Small pieces the pages share.

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

/// A page that a later part of the product fills; it says what will be there and shows no
/// made-up data.
#[component]
pub fn PlannedPage(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="page">
            <h1>{title}</h1>
            <div class="card empty-state">{children()}</div>
        </section>
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
