//! Sign-in and first-admin setup: the two pages outside the app frame.

use crate::api::auth::{
    login_options, setup_needed, Login, SetupAdmin, SignInOptions, SSO_LOGIN_PATH,
};
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
fn PasswordForm(login: ServerAction<Login>) -> impl IntoView {
    let error = move || {
        login
            .value()
            .get()
            .and_then(|answer| answer.err())
            .map(|e| e.to_string())
    };
    view! {
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
    }
}

/// The password form, "Sign in with <provider>", or both, as the server is set up. With single
/// sign-on only, the password form stays folded away for local admins (the way in while the
/// provider is down).
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let options = Resource::new(|| (), |_| login_options());
    let query = use_query_map();
    let signed_out_of_sso = move || query.read().get("signed_out").as_deref() == Some("sso");
    view! {
        <div class="auth-page">
            <div class="card auth-card">
                <h1>"Sign in to Switchyard"</h1>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        // Should the options not load, the password form still works.
                        let options = options.await.unwrap_or(SignInOptions {
                            password_form: true,
                            sso_name: None,
                            sso_sign_out_url: None,
                        });
                        let provider_sign_out = options
                            .sso_sign_out_url
                            .clone()
                            .zip(options.sso_name.clone())
                            .filter(|_| signed_out_of_sso());
                        let has_sso = options.sso_name.is_some();
                        view! {
                            {provider_sign_out.map(|(url, name)| view! {
                                <p class="notice ok" role="status" data-testid="sso-signed-out">
                                    "You are signed out of Switchyard. "
                                    <a href=url rel="external">{format!("Sign out of {name} too")}</a>
                                </p>
                            })}
                            {options.sso_name.clone().map(|name| view! {
                                <a class="sso-button" href=SSO_LOGIN_PATH rel="external" data-testid="sso-sign-in">
                                    {format!("Sign in with {name}")}
                                </a>
                            })}
                            {if options.password_form {
                                view! {
                                    {has_sso.then(|| view! { <p class="auth-divider">"or with your password"</p> })}
                                    <PasswordForm login=login/>
                                }
                                .into_any()
                            } else {
                                view! {
                                    <details class="local-admin">
                                        <summary>"Local admin sign-in"</summary>
                                        <PasswordForm login=login/>
                                    </details>
                                }
                                .into_any()
                            }}
                        }
                    })}
                </Suspense>
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
