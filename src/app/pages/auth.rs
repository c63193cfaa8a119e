//! Sign-in and first-admin setup: the two pages outside the app frame.

use crate::api::auth::{setup_needed, Login, SetupAdmin};
use crate::app::components::{field_error, form_error};
use crate::domain::PASSWORD_MIN;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A password field with a show/hide toggle (the toggle works once the page is hydrated).
#[component]
fn PasswordInput(
    id: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] minlength: Option<usize>,
) -> impl IntoView {
    let visible = RwSignal::new(false);
    view! {
        <div class="password-row">
            <input
                id=id
                name="password"
                type=move || if visible.get() { "text" } else { "password" }
                autocomplete=autocomplete
                minlength=minlength
                required
            />
            <button
                type="button"
                class="ghost"
                data-testid="toggle-password"
                aria-label="Show or hide the password"
                on:click=move |_| visible.update(|v| *v = !*v)
            >
                {move || if visible.get() { "Hide" } else { "Show" }}
            </button>
        </div>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = move || {
        login
            .value()
            .get()
            .and_then(|answer| answer.err())
            .map(|e| e.to_string())
    };
    view! {
        <div class="auth-page">
            <div class="card auth-card">
                <h1>"Sign in to Switchyard"</h1>
                <ActionForm action=login>
                    <label for="username">"User name"</label>
                    <input id="username" name="username" type="text" autocomplete="username" required/>
                    <label for="password">"Password"</label>
                    <PasswordInput id="password" autocomplete="current-password"/>
                    <p class="form-error" role="alert" data-testid="login-error">{error}</p>
                    <button type="submit" class="primary" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let setup = ServerAction::<SetupAdmin>::new();
    let needed = Resource::new(|| (), |_| setup_needed());
    let username_error = field_error(setup.value(), "username");
    let password_error = field_error(setup.value(), "password");
    let error = form_error(setup.value());
    view! {
        <div class="auth-page">
            <div class="card auth-card">
                <h1>"Create the first admin"</h1>
                <Suspense fallback=|| view! { <p>"Checking…"</p> }>
                    {move || Suspend::new(async move {
                        match needed.await {
                            Ok(false) => view! {
                                <p>"Setup is done: an account exists."</p>
                                <a href="/login">"Sign in"</a>
                            }
                            .into_any(),
                            Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                            Ok(true) if token().is_empty() => view! {
                                <p>
                                    "Open the setup link that the server printed when it started; "
                                    "it carries a one-time token."
                                </p>
                            }
                            .into_any(),
                            Ok(true) => view! {
                                <p class="muted">
                                    "This account can manage everything, including users and credentials."
                                </p>
                                <ActionForm action=setup>
                                    <input type="hidden" name="token" value=token/>
                                    <label for="username">"User name"</label>
                                    <input id="username" name="username" type="text" autocomplete="username" required/>
                                    <p class="field-error">{username_error}</p>
                                    <label for="password">
                                        {format!("Password (at least {PASSWORD_MIN} characters)")}
                                    </label>
                                    <PasswordInput id="password" autocomplete="new-password" minlength=PASSWORD_MIN/>
                                    <p class="field-error">{password_error}</p>
                                    <p class="form-error" role="alert">{error}</p>
                                    <button type="submit" class="primary" disabled=move || setup.pending().get()>
                                        "Create admin and sign in"
                                    </button>
                                </ActionForm>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </div>
    }
}
