//! The Dashboard and the detail pages of an account, a logical model, a policy and a gateway
//! key: one window of rollups from the server (first paint), kept moving by the live stream.
//! In minute windows the traffic and latency charts and the totals take each tick's minutes
//! straight from the stream; everything else is refetched when the stream says new usage was
//! written, at most every few seconds.

use crate::api::accounts::LiveAccount;
use crate::api::alerts::AcknowledgeAlert;
use crate::api::dashboard::{
    keys_and_cache, window_overview, AccountMonth, Breakdown, CacheAndKeySpend, Overview, Scope,
    SpendLine, Totals, Window,
};
use crate::api::live::{use_live, LiveFigures, TrafficPoint};
use crate::api::policies::LivePolicy;
use crate::app::components::chart::{
    format_ms, format_rate, BarList, BarRow, BudgetBar, Series, Sparkline, TimeChart, Unit,
};
use crate::app::components::{compact, money, use_can, HealthBadge, LoadError};
use crate::app::pages::alerts::AlertTable;
use crate::domain::{AlertView, CircuitState, Grain, Money, Role};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The least time between two refetches of a page's rollups while usage is being written.
const REFETCH_MS: i64 = 5_000;

pub fn account_href(name: &str) -> String {
    format!("/accounts/{name}")
}
pub fn model_href(name: &str) -> String {
    format!("/models/{name}")
}
pub fn policy_href(name: &str) -> String {
    format!("/policies/{name}")
}
pub fn key_href(name: &str) -> String {
    format!("/keys/{name}")
}

/// The window in the address (`?window=24h`), one hour when absent or unknown.
fn use_window() -> Memo<Window> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .read()
            .get("window")
            .and_then(|w| Window::from_param(&w))
            .unwrap_or_default()
    })
}

/// The figures the live stream changed since the server's answer, for this page's scope.
fn merge(data: &Overview, live: Option<&LiveFigures>) -> Overview {
    let mut merged = data.clone();
    let Some(live) = live else { return merged };
    merged.live_accounts = live
        .accounts
        .iter()
        .filter(|a| match &data.scope {
            Scope::Account(name) => &a.name == name,
            _ => true,
        })
        .cloned()
        .collect();
    merged.live_policies = live.policies.clone();
    // The stream's minutes are for all traffic: they replace the rollups only on the
    // Dashboard, in windows drawn by the minute.
    if data.scope == Scope::All && data.window.grain() == Grain::Minute {
        merged.series = data
            .window
            .buckets(live.at_ms)
            .into_iter()
            .map(|at| {
                live.minutes
                    .iter()
                    .chain(&data.series)
                    .find(|p| p.at_ms == at)
                    .copied()
                    .unwrap_or(TrafficPoint {
                        at_ms: at,
                        ..TrafficPoint::default()
                    })
            })
            .collect();
        merged.totals = Totals::of(&merged.series);
    }
    merged
}

/// The page's data: the server's answer for the window, refetched when the stream reports
/// new usage (at most every `REFETCH_MS`), merged with each tick.
fn use_overview(
    scope: Signal<Scope>,
) -> (
    Resource<Result<Overview, crate::api::ApiError>>,
    Memo<Option<Overview>>,
) {
    let window = use_window();
    let live = use_live();
    let refresh = Memo::new(move |previous: Option<&(u64, i64)>| {
        let previous = previous.copied().unwrap_or((0, 0));
        match live.with(|l| l.as_ref().map(|l| (l.written, l.at_ms))) {
            Some((written, at)) if written != previous.0 && at - previous.1 >= REFETCH_MS => {
                (written, at)
            }
            _ => previous,
        }
    });
    let data = Resource::new(
        move || (window.get(), scope.get(), refresh.get().0),
        |(window, scope, _)| window_overview(window, scope),
    );
    // A failed refetch (the server restarting) keeps the last answer on screen.
    let last_answer = Memo::new(
        move |previous: Option<&Option<Overview>>| match data.get() {
            Some(Ok(d)) => Some(d),
            _ => previous.cloned().flatten(),
        },
    );
    let merged = Memo::new(move |_| {
        last_answer.with(|d| d.as_ref().map(|d| live.with(|l| merge(d, l.as_ref()))))
    });
    (data, merged)
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! { <OverviewPage scope=Signal::derive(|| Scope::All)/> }
}

fn named_scope(make: fn(String) -> Scope) -> Signal<Scope> {
    let params = use_params_map();
    Signal::derive(move || make(params.read().get("name").unwrap_or_default()))
}

#[component]
pub fn AccountDetailPage() -> impl IntoView {
    view! { <OverviewPage scope=named_scope(Scope::Account)/> }
}

#[component]
pub fn ModelDetailPage() -> impl IntoView {
    view! { <OverviewPage scope=named_scope(Scope::Model)/> }
}

#[component]
pub fn PolicyDetailPage() -> impl IntoView {
    view! { <OverviewPage scope=named_scope(Scope::Policy)/> }
}

#[component]
pub fn KeyDetailPage() -> impl IntoView {
    view! { <OverviewPage scope=named_scope(Scope::Key)/> }
}

#[component]
fn OverviewPage(scope: Signal<Scope>) -> impl IntoView {
    let (data, merged) = use_overview(scope);
    let window = use_window();
    // The response cache and spend by key and team, on the Dashboard only: read on their own
    // (they are not in the rollups), and kept outside the live-updated body.
    let key_and_cache_figures = Resource::new(
        move || (scope.get() == Scope::All).then(|| window.get()),
        |window| async move {
            match window {
                Some(window) => keys_and_cache(window).await.ok(),
                None => None,
            }
        },
    );
    view! {
        <section class="page dashboard" data-testid="dashboard">
            <div class="dash-head">
                <h1>{move || title(&scope.get())}</h1>
                <nav class="window-picker" aria-label="Time window">
                    {Window::ALL.into_iter().map(|w| view! {
                        <a href=format!("?window={}", w.param())
                            class=move || if window.get() == w { "active" } else { "" }
                            aria-current=move || (window.get() == w).then_some("page")>{w.label()}</a>
                    }).collect_view()}
                </nav>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) if merged.get_untracked().is_none() => view! { <LoadError error/> }.into_any(),
                        _ => view! { {move || merged.get().map(body)} }.into_any(),
                    }
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { key_and_cache_figures.await.map(keys_and_cache_body) })}
            </Transition>
        </section>
    }
}

fn title(scope: &Scope) -> String {
    match scope {
        Scope::All => "Dashboard".into(),
        Scope::Account(name) => format!("Account {name}"),
        Scope::Model(name) => format!("Logical model {name}"),
        Scope::Policy(name) => format!("Policy {name}"),
        Scope::Key(name) => format!("Gateway key {name}"),
    }
}

fn body(d: Overview) -> impl IntoView {
    let grain = d.window.grain();
    let times: Vec<i64> = d.series.iter().map(|p| p.at_ms).collect();
    let values = |f: fn(&TrafficPoint) -> Option<f64>| d.series.iter().map(f).collect::<Vec<_>>();
    let traffic = view! {
        <TimeChart title=format!("Requests and errors per {}", grain.per()) unit=Unit::Requests(grain) grain
            times=times.clone() bars=true testid="chart-traffic"
            series=vec![
                Series { name: "requests".into(), colour: 0, values: values(|p| Some(p.requests as f64)) },
                Series { name: "errors".into(), colour: 1, values: values(|p| Some(p.errors as f64)) },
            ]/>
    };
    let latency = view! {
        <TimeChart title="Latency (whole request)".to_string() unit=Unit::Millis grain times=times.clone() testid="chart-latency"
            series=vec![
                Series { name: "p50".into(), colour: 2, values: values(|p| p.p50_ms) },
                Series { name: "p95".into(), colour: 3, values: values(|p| p.p95_ms) },
                Series { name: "p99".into(), colour: 1, values: values(|p| p.p99_ms) },
            ]/>
    };
    let spend_over_time = view! {
        <TimeChart title=format!("Spend per {}", grain.per()) unit=Unit::Dollars grain times=times.clone() bars=true testid="chart-spend"
            series=vec![Series { name: "spend".into(), colour: 4, values: values(|p| Some(p.cost.as_dollars())) }]/>
    };
    let fallbacks_over_time = view! {
        <TimeChart title=format!("Fallbacks per {}", grain.per()) unit=Unit::Requests(grain) grain times testid="chart-fallbacks"
            series=vec![Series { name: "requests that fell back".into(), colour: 3, values: values(|p| Some(p.fallbacks as f64)) }]/>
    };
    let empty = empty_state(&d);
    let month_spent: Money = d.months.iter().fold(Money::ZERO, |m, a| m + a.spent);
    let month_budget: Option<Money> = d
        .months
        .iter()
        .filter_map(|a| a.budget)
        .fold(None, |sum, b| Some(sum.unwrap_or(Money::ZERO) + b));
    let totals = totals_row(&d.totals, d.window, month_spent, month_budget, &d.scope);
    let scope = d.scope.clone();
    match scope {
        Scope::All => view! {
            {totals}
            {empty}
            <div class="chart-grid">
                {traffic}
                {latency}
                {budgets(&d.months)}
                {by_model(&d)}
                {fallbacks_by_policy(&d.by_policy)}
            </div>
            <h2>"Provider accounts"</h2>
            {account_tiles(&d)}
            <h2>"Policies"</h2>
            {policy_table(&d)}
        }
        .into_any(),
        Scope::Account(_) => view! {
            {totals}
            {empty}
            {account_tiles(&d)}
            <div class="chart-grid">
                {traffic}
                {latency}
                {month_by_day(&d.months)}
                {by_model(&d)}
            </div>
            <h2>"Circuit, health and budget events"</h2>
            {account_events(d.events)}
        }
        .into_any(),
        Scope::Model(_) => view! {
            {totals}
            {empty}
            <div class="chart-grid">
                {traffic}
                {latency}
                {bar_list("Requests by account (target)", &d.by_account, 0, account_href, |b| (b.requests as f64, compact(b.requests)), "chart-by-account")}
                {fallbacks_over_time}
                {fallbacks_by_policy(&d.by_policy)}
            </div>
        }
        .into_any(),
        Scope::Policy(_) => view! {
            {totals}
            {empty}
            <div class="chart-grid">
                {traffic}
                {latency}
                {fallbacks_over_time}
                {bar_list("Which accounts served", &d.by_account, 0, account_href, |b| (b.requests as f64, compact(b.requests)), "chart-by-account")}
            </div>
            {policy_table(&d)}
        }
        .into_any(),
        Scope::Key(_) => view! {
            {totals}
            {empty}
            <div class="chart-grid">
                {traffic}
                {spend_over_time}
                {latency}
                {by_model(&d)}
            </div>
        }
        .into_any(),
    }
}

/// The account's alerts, acknowledged here as on the Alerts page.
fn account_events(events: Vec<AlertView>) -> impl IntoView {
    if events.is_empty() {
        return view! {
            <div class="card empty-state" data-testid="account-events-empty">
                <p>"No circuit has opened, the account has not turned unhealthy and no budget threshold was reached."</p>
            </div>
        }
        .into_any();
    }
    let can_acknowledge = use_can(Role::Editor);
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    view! { <AlertTable list=events can_acknowledge acknowledge/> }.into_any()
}

fn totals_row(
    t: &Totals,
    window: Window,
    month_spent: Money,
    month_budget: Option<Money>,
    scope: &Scope,
) -> impl IntoView {
    let tile = |label: &'static str, value: String, note: String, testid: &'static str| {
        view! {
            <div class="stat card" data-testid=testid>
                <span class="stat-label">{label}</span>
                <span class="stat-value">{value}</span>
                <span class="stat-note muted">{note}</span>
            </div>
        }
    };
    let month = matches!(scope, Scope::All | Scope::Account(_)).then(|| {
        tile(
            "Spend this month",
            money(month_spent),
            match month_budget {
                Some(b) => format!(
                    "of {} budgeted ({})",
                    money(b),
                    format_rate(month_spent.micros().max(0) as u64, b.micros().max(1) as u64)
                ),
                None => "no budget set".into(),
            },
            "total-month",
        )
    });
    view! {
        <div class="stats">
            {tile("Requests", compact(t.requests), format!("last {}", window.label()), "total-requests")}
            {tile("Error rate", format_rate(t.errors, t.requests), format!("{} errors · {} fell back", compact(t.errors), compact(t.fallbacks)), "total-errors")}
            {tile("Tokens", compact(t.tokens), "prompt and completion".to_string(), "total-tokens")}
            {tile("Spend", money(t.cost), format!("last {}", window.label()), "total-spend")}
            {month}
        </div>
    }
}

/// What to do when there is nothing to draw yet.
fn empty_state(d: &Overview) -> Option<AnyView> {
    if !d.has_accounts {
        return Some(view! {
            <div class="card empty-state" data-testid="empty-state">
                <p><strong>"No provider account yet."</strong>" Add one on the "<a href="/accounts">"Accounts"</a>" page, then a logical model that uses it on the "<a href="/models">"Models"</a>" page."</p>
            </div>
        }.into_any());
    }
    if d.totals.requests > 0 {
        return None;
    }
    let model = d
        .first_model
        .clone()
        .unwrap_or_else(|| "primary-llm".into());
    let curl = format!(
        "curl {}/v1/chat/completions \\\n  -H \"Authorization: Bearer $SWITCHYARD_KEY\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'",
        d.public_url
    );
    Some(view! {
        <div class="card empty-state" data-testid="empty-state">
            <p><strong>{format!("No requests in the last {}.", d.window.label())}</strong>" Send a first one with a gateway key from the "<a href="/keys">"Keys"</a>" page; the charts move within a second:"</p>
            <pre class="mono">{curl}</pre>
        </div>
    }.into_any())
}

fn bar_list(
    title: &'static str,
    list: &[Breakdown],
    colour: usize,
    href: fn(&str) -> String,
    measure: fn(&Breakdown) -> (f64, String),
    testid: &'static str,
) -> impl IntoView {
    let mut rows: Vec<BarRow> = list
        .iter()
        .map(|b| {
            let (value, text) = measure(b);
            BarRow {
                label: b.name.clone(),
                href: Some(href(&b.name)),
                value,
                text,
            }
        })
        .filter(|r| r.value > 0.0)
        .collect();
    rows.sort_by(|a, b| b.value.total_cmp(&a.value));
    view! { <BarList title=title.to_string() rows colour empty="Nothing in this window." testid/> }
}

fn by_model(d: &Overview) -> impl IntoView {
    view! {
        {bar_list("Tokens per logical model", &d.by_model, 5, model_href, |b| (b.tokens as f64, compact(b.tokens)), "chart-model-tokens")}
        {bar_list("Spend per logical model", &d.by_model, 4, model_href, |b| (b.cost.as_dollars(), money(b.cost)), "chart-model-spend")}
    }
}

fn fallbacks_by_policy(list: &[Breakdown]) -> impl IntoView {
    bar_list(
        "Fallbacks per policy",
        list,
        3,
        policy_href,
        |b| {
            (
                b.fallbacks as f64,
                format!("{} of {}", compact(b.fallbacks), compact(b.requests)),
            )
        },
        "chart-fallbacks-policy",
    )
}

fn keys_and_cache_body(d: CacheAndKeySpend) -> impl IntoView {
    let lines = |list: Vec<SpendLine>, what: &'static str| {
        if list.is_empty() {
            return view! { <p class="muted">{format!("No {what} has spent anything this month.")}</p> }.into_any();
        }
        list.into_iter()
            .map(|line| {
                let name = match (line.name.is_empty(), line.team.is_empty()) {
                    (true, _) => "no team".to_string(),
                    (false, true) => line.name.clone(),
                    (false, false) => format!("{} ({})", line.name, line.team),
                };
                let of = line
                    .budget
                    .map(|b| format!(" of {}", money(b)))
                    .unwrap_or_default();
                view! {
                    <div class="budget-row" data-name=line.name.clone()>
                        <span>{name}</span>
                        <span class="num">{format!("{}{of}", money(line.spent))}</span>
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    let rate = d
        .cache
        .hit_rate()
        .map_or("—".to_string(), |r| format!("{:.0} %", r * 100.0));
    view! {
        <div class="chart-grid">
            <figure class="chart card" data-testid="cache-savings">
                <figcaption class="chart-head"><span class="chart-title">"Response cache"</span></figcaption>
                <dl class="stat-list">
                    <div><dt>"Hit rate"</dt><dd data-testid="cache-hit-rate">{rate}</dd></div>
                    <div><dt>"Answered from the cache"</dt><dd>{format!("{} of {}", compact(d.cache.hits), compact(d.cache.lookups))}</dd></div>
                    <div><dt>"Saved"</dt><dd data-testid="cache-saved">{money(d.cache.saved)}</dd></div>
                </dl>
            </figure>
            <figure class="chart card" data-testid="key-spend">
                <figcaption class="chart-head"><span class="chart-title">"Spend this month per gateway key"</span></figcaption>
                <div class="bar-list">{lines(d.keys, "key")}</div>
            </figure>
            <figure class="chart card" data-testid="team-spend">
                <figcaption class="chart-head"><span class="chart-title">"Spend this month per team"</span></figcaption>
                <div class="bar-list">{lines(d.teams, "team")}</div>
            </figure>
        </div>
    }
}

fn budgets(months: &[AccountMonth]) -> impl IntoView {
    let rows = months
        .iter()
        .map(|m| {
            view! {
                <div class="budget-row">
                    <a href=account_href(&m.name)>{m.name.clone()}</a>
                    <BudgetBar spent=m.spent projected=m.projected budget=m.budget thresholds=m.thresholds.clone()/>
                </div>
            }
        })
        .collect_view();
    view! {
        <figure class="chart card" data-testid="chart-budgets">
            <figcaption class="chart-head">
                <span class="chart-title">"Spend this month per account"</span>
                <span class="chart-legend">
                    <span class="legend-item"><span class="legend-swatch series-0"></span>"spent"</span>
                    <span class="legend-item"><span class="legend-swatch projection"></span>"projected by month end"</span>
                    <span class="legend-item"><span class="legend-swatch threshold"></span>"alert thresholds"</span>
                    <span class="legend-item"><span class="legend-swatch limit"></span>"budget"</span>
                </span>
            </figcaption>
            <div class="bar-list">{rows}</div>
        </figure>
    }
}

/// An account's spend so far this month, day by day, against its budget (the tile above
/// shows the projection and thresholds).
fn month_by_day(months: &[AccountMonth]) -> impl IntoView {
    months.first().map(|m| {
        let times: Vec<i64> = m.days.iter().map(|(d, _)| *d).collect();
        let mut total = 0.0;
        let cumulative = m
            .days
            .iter()
            .map(|(_, cost)| {
                total += cost.as_dollars();
                Some(total)
            })
            .collect();
        let mut series = vec![Series { name: "spent so far".into(), colour: 0, values: cumulative }];
        if let Some(budget) = m.budget {
            series.push(Series { name: "budget".into(), colour: 1, values: times.iter().map(|_| Some(budget.as_dollars())).collect() });
        }
        view! {
            <TimeChart title="Spend this month by day".to_string() unit=Unit::Dollars grain=Grain::Day times series testid="chart-month"/>
        }
    })
}

/// A tile per account: health with its reason, latency, error rate in the window, circuits of
/// its targets, spend against the budget.
fn account_tiles(d: &Overview) -> impl IntoView {
    if d.live_accounts.is_empty() {
        return view! { <p class="muted card">"No provider account is configured yet. "<a href="/accounts">"Add one"</a></p> }.into_any();
    }
    view! {
        <div class="tiles" data-testid="account-tiles">
            {d.live_accounts.iter().map(|a| account_tile(a, d)).collect_view()}
        </div>
    }
    .into_any()
}

fn account_tile(a: &LiveAccount, d: &Overview) -> impl IntoView {
    let window = d.by_account.iter().find(|b| b.name == a.name);
    let (requests, errors) = window.map_or((0, 0), |b| (b.requests, b.errors));
    let prefix = format!("{}/", a.name);
    let mut circuits: Vec<(String, CircuitState)> = d
        .live_policies
        .iter()
        .flat_map(|p| p.targets.iter())
        .filter(|t| t.target.starts_with(&prefix))
        .map(|t| (t.target.clone(), t.circuit))
        .collect();
    circuits.sort_by(|x, y| x.0.cmp(&y.0));
    circuits.dedup_by(|x, y| x.0 == y.0);
    let open = circuits
        .iter()
        .filter(|(_, c)| *c != CircuitState::Closed)
        .count();
    let circuit_text = if circuits.is_empty() {
        "no policy routes here".to_string()
    } else if open == 0 {
        format!("{} closed", circuits.len())
    } else {
        circuits
            .iter()
            .filter(|(_, c)| *c != CircuitState::Closed)
            .map(|(t, c)| format!("{t} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let month = d.months.iter().find(|m| m.name == a.name);
    let circuit_class = if open > 0 { "warn" } else { "" };
    view! {
        <div class="tile card" data-name=a.name.clone()>
            <div class="tile-head">
                <a href=account_href(&a.name)><strong>{a.name.clone()}</strong></a>
            </div>
            <p class="tile-reason"><HealthBadge level=a.health reason=a.health_reason.clone()/></p>
            <dl class="tile-figures">
                <dt>"Latency"</dt><dd>{a.latency_ewma_ms.map_or("—".to_string(), format_ms)}</dd>
                // Not the health's error rate: a call that failed here and fell back to another
                // account counts there, not here, since the app got an answer.
                <dt title="Requests this account answered last in the window whose answer to the app was an error. Calls that failed here but fell back to another account count in its health, not here.">"Errors to apps"</dt>
                <dd>{format!("{} of {}", format_rate(errors, requests), compact(requests))}</dd>
                <dt>"Now"</dt><dd>{format!("{} req/min", a.requests_last_minute)}</dd>
                <dt>"Circuits"</dt><dd class=circuit_class>{circuit_text}</dd>
            </dl>
            {month.map(|m| view! { <BudgetBar spent=m.spent projected=m.projected budget=m.budget thresholds=m.thresholds.clone()/> })}
        </div>
    }
}

fn policy_table(d: &Overview) -> impl IntoView {
    let mut names: Vec<String> = d.live_policies.iter().map(|p| p.name.clone()).collect();
    if let Scope::Policy(name) = &d.scope {
        names.retain(|n| n == name);
    }
    if names.is_empty() {
        return view! { <p class="muted card">"No enabled policy: requests use their logical model's own targets. "<a href="/policies">"Add a policy"</a></p> }.into_any();
    }
    let rows = names
        .iter()
        .map(|name| {
            let window = d.by_policy.iter().find(|b| &b.name == name).cloned().unwrap_or_else(|| Breakdown {
                name: name.clone(),
                requests_series: vec![0; d.series.len()],
                ..Breakdown::default()
            });
            let live: Option<&LivePolicy> = d.live_policies.iter().find(|p| &p.name == name);
            let circuits = live.map(|p| {
                p.targets
                    .iter()
                    .map(|t| view! { <span class=format!("circuit {}", t.circuit)>{format!("{} {}", t.target, t.circuit)}</span> })
                    .collect_view()
            });
            view! {
                <tr data-name=name.clone()>
                    <td><a href=policy_href(name)>{name.clone()}</a></td>
                    <td class="num">{compact(window.requests)}</td>
                    <td class="num">{format_rate(window.requests - window.errors, window.requests)}</td>
                    <td class="num">{format_rate(window.errors, window.requests)}</td>
                    <td class="num">{compact(window.fallbacks)}</td>
                    <td><Sparkline values=window.requests_series.clone()/></td>
                    <td class="circuits">{circuits}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="card table-card">
            <table class="table" data-testid="dashboard-policies">
                <thead><tr>
                    <th>"Policy"</th><th class="num">"Matches"</th><th class="num">"Success rate"</th>
                    <th class="num">"Error rate"</th><th class="num">"Fallbacks"</th><th>"Requests"</th><th>"Circuits"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
