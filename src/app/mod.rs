//! The dashboard UI: the HTML shell, the router and the app frame (top bar and navigation).

mod components;
mod pages;

use crate::api::alerts::{alert_banner, budget_banner};
use crate::api::auth::{current_user, Logout};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Outlet, ParentRoute, Route, Router, Routes, A};
use leptos_router::hooks::use_location;
use leptos_router::path;
use pages::*;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" href=stylesheet_href(&options)/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's address: `/pkg/switchyard.<hash>.css` when scripts/build hashed the site's
/// files (listed in the hash file leptos reads for the JS and wasm), else `/pkg/switchyard.css`.
fn stylesheet_href(options: &LeptosOptions) -> String {
    let hash = options
        .hash_files
        .then(|| std::fs::read_to_string(options.hash_file.as_ref()).ok())
        .flatten()
        .and_then(|hashes| {
            hashes.lines().find_map(|line| {
                let (kind, hash) = line.split_once(':')?;
                (kind.trim() == "css").then(|| format!(".{}", hash.trim()))
            })
        })
        .unwrap_or_default();
    format!(
        "/{}/{}{hash}.css",
        options.site_pkg_dir, options.output_name
    )
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Switchyard"/>
        <Router>
            <Routes fallback=|| view! { <NotFoundPage/> }>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/setup") view=SetupPage/>
                <ParentRoute path=path!("") view=Frame>
                    <Route path=path!("") view=DashboardPage/>
                    <Route path=path!("models") view=ModelsPage/>
                    <Route path=path!("models/:name") view=ModelDetailPage/>
                    <Route path=path!("accounts") view=AccountsPage/>
                    <Route path=path!("accounts/:name") view=AccountDetailPage/>
                    <Route path=path!("policies") view=PoliciesPage/>
                    <Route path=path!("policies/:name") view=PolicyDetailPage/>
                    <Route path=path!("keys") view=KeysPage/>
                    <Route path=path!("keys/:name") view=KeyDetailPage/>
                    <Route path=path!("requests") view=RequestLogPage/>
                    <Route path=path!("prices") view=PricesPage/>
                    <Route path=path!("audit") view=AuditPage/>
                    <Route path=path!("users") view=UsersPage/>
                    <Route path=path!("alerts") view=AlertsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

const NAVIGATION: [(&str, &str); 10] = [
    ("/", "Dashboard"),
    ("/requests", "Request log"),
    ("/models", "Models"),
    ("/accounts", "Accounts"),
    ("/policies", "Policies"),
    ("/keys", "Keys"),
    ("/prices", "Prices"),
    ("/users", "Users"),
    ("/alerts", "Alerts"),
    ("/audit", "Audit log"),
];

/// Top bar with the product name, the signed-in user and sign-out; navigation beside the page.
#[component]
fn Frame() -> impl IntoView {
    let location = use_location();
    // Re-read on navigation, so the bar follows sign-in, sign-out and role changes.
    let user = Resource::new(move || location.pathname.get(), |_| current_user());
    let logout = ServerAction::<Logout>::new();
    let budgets = Resource::new(move || location.pathname.get(), |_| budget_banner());
    let open_alerts = Resource::new(move || location.pathname.get(), |_| alert_banner());
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <span class="brand-mark">"⇄"</span>
                "Switchyard"
            </A>
            <div class="topbar-user">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(user)) => view! {
                                <span class="who" data-testid="signed-in-user">
                                    {user.username}
                                    <span class="badge">{user.role.to_string()}</span>
                                </span>
                                <ActionForm action=logout>
                                    <button type="submit" class="ghost">"Sign out"</button>
                                </ActionForm>
                            }
                            .into_any(),
                            _ => view! { <A href="/login">"Sign in"</A> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </header>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                // Signed out or failing: no banner; the page itself says what is wrong.
                let reached = budgets.await.unwrap_or_default();
                let open = open_alerts.await.unwrap_or_default();
                view! {
                    {(!open.is_empty()).then(|| view! {
                        <div class="budget-banner alert-banner" role="alert" data-testid="alert-banner">
                            <span>{open.iter().map(|a| a.message.clone()).collect::<Vec<_>>().join(" · ")}</span>
                            <A href="/alerts">"See alerts"</A>
                        </div>
                    })}
                    {(!reached.is_empty()).then(|| view! {
                        <div class="budget-banner" role="status" data-testid="budget-banner">
                            <span>{reached.iter().map(|b| b.sentence()).collect::<Vec<_>>().join(" · ")}</span>
                            <A href="/alerts">"See alerts"</A>
                        </div>
                    })}
                }
            })}
        </Transition>
        <div class="frame">
            <nav class="sidenav" aria-label="Main">
                {NAVIGATION
                    .into_iter()
                    .map(|(href, label)| view! { <A href=href exact=true>{label}</A> })
                    .collect_view()}
            </nav>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}
