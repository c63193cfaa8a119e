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
pub fn ModelsPage() -> impl IntoView {
    view! {
        <PlannedPage title="Logical models">
            <p>"Logical models are the names apps ask for (for example primary-llm). Each declares its capabilities and defaults and maps to an ordered list of provider targets."</p>
            <p class="muted">"No logical model is configured yet."</p>
        </PlannedPage>
    }
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    view! {
        <PlannedPage title="Provider accounts">
            <p>"Provider accounts hold the encrypted credentials, rate limits, monthly budget and health of each OpenAI, Anthropic, Google, Azure OpenAI, Cohere or Mistral account."</p>
            <p class="muted">"No provider account is configured yet."</p>
        </PlannedPage>
    }
}

#[component]
pub fn PoliciesPage() -> impl IntoView {
    view! {
        <PlannedPage title="Router policies">
            <p>"Router policies pick a route by step type and purpose, highest priority first, each with a fallback chain and a circuit breaker."</p>
            <p class="muted">"No router policy is configured yet."</p>
        </PlannedPage>
    }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    view! {
        <PlannedPage title="Gateway keys">
            <p>"Gateway keys let apps call the proxy. A key is shown once, stored hashed, and can be limited to some logical models and revoked."</p>
            <p class="muted">"No gateway key exists yet."</p>
        </PlannedPage>
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <PlannedPage title="Alerts">
            <p>"Budget alerts (50, 80 and 100 % of an account's monthly budget by default) and health alerts will be listed here."</p>
            <p class="muted">"No alert has been raised."</p>
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
