//! Pages whose content arrives with later parts of the product. Each says what it will show.

use crate::app::components::PlannedPage;
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <PlannedPage title="Dashboard">
            <p>"Live charts of spend, traffic, latency and error rates per logical model, provider account and policy will appear here once the proxy serves traffic."</p>
            <p class="muted">"No traffic has been recorded yet."</p>
        </PlannedPage>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the dashboard"</a></p>
        </section>
    }
}
