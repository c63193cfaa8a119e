//! The request log: every proxied request, newest first, filtered by the address's query (so a
//! filtered view can be shared as a link), paged by position rather than offset; a row opens
//! the request's attempts trail.

use super::dashboard::{account_href, key_href, model_href, policy_href};
use crate::api::dashboard::{request_log, LogFilter, LoggedRequest, Window};
use crate::app::components::chart::format_ms;
use crate::app::components::LoadError;
use crate::app::components::{compact, money};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// `?key=…&model=…` for a filter, with `after` when paging on.
fn log_href(filter: &LogFilter, after: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(w) = filter.window {
        parts.push(format!("window={}", w.param()));
    }
    for (name, value) in [
        ("key", &filter.key),
        ("model", &filter.model),
        ("policy", &filter.policy),
        ("account", &filter.account),
        ("status", &filter.status),
        ("streamed", &filter.streamed),
    ] {
        if !value.is_empty() {
            parts.push(format!("{name}={value}"));
        }
    }
    if let Some(after) = after {
        parts.push(format!("after={after}"));
    }
    format!("/requests?{}", parts.join("&"))
}

#[component]
pub fn RequestLogPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let text = |name: &str| q.get(name).unwrap_or_default().trim().to_string();
        LogFilter {
            window: Window::from_param(&text("window")),
            key: text("key"),
            model: text("model"),
            policy: text("policy"),
            account: text("account"),
            status: text("status"),
            streamed: text("streamed"),
        }
    });
    let after = Memo::new(move |_| query.read().get("after").filter(|a| !a.is_empty()));
    let page = Resource::new(
        move || (filter.get(), after.get()),
        |(filter, after)| request_log(filter, after),
    );
    let open = RwSignal::new(None::<String>);
    let select = |name: &'static str,
                  label: &'static str,
                  options: Vec<(&'static str, &'static str)>| {
        view! {
            <div class="field">
                <label for=format!("log-{name}")>{label}</label>
                <select id=format!("log-{name}") name=name>
                    {options.into_iter().map(|(value, text)| view! {
                        <option value=value selected=move || query.read().get(name).unwrap_or_default() == value>{text}</option>
                    }).collect_view()}
                </select>
            </div>
        }
    };
    let input = |name: &'static str, label: &'static str| {
        view! {
            <div class="field">
                <label for=format!("log-{name}")>{label}</label>
                <input id=format!("log-{name}") name=name type="text" prop:value=move || query.read().get(name).unwrap_or_default()/>
            </div>
        }
    };
    let mut windows = vec![("", "All kept")];
    windows.extend(Window::ALL.iter().map(|w| (w.param(), w.label())));
    view! {
        <section class="page">
            <h1>"Request log"</h1>
            <form class="card log-filters" method="get" action="/requests" data-testid="log-filters">
                {select("window", "Time range", windows)}
                {input("key", "Gateway key")}
                {input("model", "Logical model")}
                {input("policy", "Policy")}
                {input("account", "Account")}
                {select("status", "Status", vec![("", "Any"), ("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")])}
                {select("streamed", "Streamed", vec![("", "Any"), ("yes", "yes"), ("no", "no")])}
                <div class="field filter-actions">
                    <button type="submit">"Filter"</button>
                    <a href="/requests">"Clear"</a>
                </div>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(page) if page.rows.is_empty() => view! {
                            <p class="muted card" data-testid="log-empty">
                                {if after.get().is_some() { "No older requests." } else { "No request matches. Requests appear here as soon as the proxy has answered them." }}
                            </p>
                        }.into_any(),
                        Ok(page) => {
                            let next = page.next.clone().map(|cursor| log_href(&filter.get_untracked(), Some(&cursor)));
                            view! {
                                <div class="card table-card">
                                    <table class="table log-table" data-testid="request-log">
                                        <thead><tr>
                                            <th>"Time (UTC)"</th><th>"Key"</th><th>"Model"</th><th>"Policy"</th><th>"Account / provider model"</th>
                                            <th class="num">"Status"</th><th class="num">"Calls"</th><th class="num">"Latency"</th>
                                            <th class="num">"Tokens"</th><th class="num">"Cost"</th>
                                        </tr></thead>
                                        <tbody>
                                            {page.rows.into_iter().map(|r| row(r, open)).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <p class="pager">
                                    {after.get().is_some().then(|| view! { <a href=log_href(&filter.get_untracked(), None)>"← Newest"</a> })}
                                    {next.map(|href| view! { <a href=href data-testid="log-next">"Older →"</a> })}
                                </p>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

fn row(r: LoggedRequest, open: RwSignal<Option<String>>) -> impl IntoView {
    let id = r.id.clone();
    let toggle = id.clone();
    let is_open = move || open.get().as_deref() == Some(id.as_str());
    let status_class = if r.status >= 400 {
        "status bad"
    } else {
        "status ok"
    };
    let link = |href: String, text: String| view! { <a href=href on:click=|ev| ev.stop_propagation()>{text}</a> };
    let detail = format!(
        "{} · {} provider call{} · step {} · purpose {} · {} prompt + {} completion tokens · id {}",
        if r.stream { "streamed" } else { "not streamed" },
        r.attempts,
        if r.attempts == 1 { "" } else { "s" },
        r.step_type,
        r.purpose,
        r.prompt_tokens,
        r.completion_tokens,
        r.id
    );
    let trail = r
        .trail
        .clone()
        .unwrap_or_else(|| "no provider was tried".into());
    let attempts: Vec<String> = trail.split("; ").map(str::to_string).collect();
    view! {
        <tr class="log-row" data-id=r.id.clone() on:click=move |_| open.update(|o| {
            *o = if o.as_deref() == Some(toggle.as_str()) { None } else { Some(toggle.clone()) };
        })>
            <td class="mono">{format_time_seconds(r.at_ms)}</td>
            <td>{link(key_href(&r.key), r.key.clone())}</td>
            <td>{link(model_href(&r.logical_model), r.logical_model.clone())}</td>
            <td>{r.policy.clone().map(|p| link(policy_href(&p), p))}</td>
            <td>{r.account.clone().map(|a| link(account_href(&a), a))}{r.provider_model.clone().map(|m| format!(" / {m}"))}</td>
            <td class=format!("num {status_class}")>{r.status}{r.stream.then_some(" ⇶")}</td>
            <td class="num">{r.attempts}</td>
            <td class="num">{format_ms(r.latency_ms as f64)}</td>
            <td class="num">{compact(u64::try_from(r.prompt_tokens + r.completion_tokens).unwrap_or(0))}</td>
            <td class="num">{money(r.cost)}</td>
        </tr>
        <Show when=is_open.clone()>
            <tr class="log-detail" data-testid="log-detail">
                <td colspan="10">
                    <p class="muted">{detail.clone()}</p>
                    <ol class="trail">
                        {attempts.iter().map(|a| view! { <li>{a.clone()}</li> }).collect_view()}
                    </ol>
                    {r.error.clone().map(|e| view! { <p class="form-error">{e}</p> })}
                </td>
            </tr>
        </Show>
    }
}

/// `2026-11-29 14:03:07`.
fn format_time_seconds(at_ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}
