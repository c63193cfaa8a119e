//! Provider accounts: the list with key status, live health, traffic and spend (kept current
//! by the live stream) and "Test connection", and a form whose API key box is write-only (admins only;
//! empty keeps the stored key).

use crate::api::accounts::{
    account_live_status, list_accounts, AccountForm, AccountView, DeleteAccount, LiveAccount,
    SaveAccount, TestAccount,
};
use crate::app::components::{
    form_error, message_for, optional_number, split_list, text_field, use_can, used_of, LoadError,
    LocalError,
};
use crate::domain::{AzureSettings, HealthLevel, ProviderKind, Role};
use leptos::prelude::*;

#[derive(Clone, Copy)]
struct Form {
    original: RwSignal<Option<String>>,
    name: RwSignal<String>,
    kind: RwSignal<ProviderKind>,
    base_url: RwSignal<String>,
    api_key: RwSignal<String>,
    enabled: RwSignal<bool>,
    rpm: RwSignal<String>,
    tpm: RwSignal<String>,
    budget: RwSignal<String>,
    soft_budget: RwSignal<bool>,
    thresholds: RwSignal<String>,
    endpoint: RwSignal<String>,
    api_version: RwSignal<String>,
    /// `model=deployment`, comma-separated.
    deployments: RwSignal<String>,
}

fn text(n: Option<impl ToString>) -> String {
    n.map(|v| v.to_string()).unwrap_or_default()
}

impl Form {
    fn new() -> Self {
        Form {
            original: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            kind: RwSignal::new(ProviderKind::Openai),
            base_url: RwSignal::new(String::new()),
            api_key: RwSignal::new(String::new()),
            enabled: RwSignal::new(true),
            rpm: RwSignal::new(String::new()),
            tpm: RwSignal::new(String::new()),
            budget: RwSignal::new(String::new()),
            soft_budget: RwSignal::new(false),
            thresholds: RwSignal::new("50, 80, 100".into()),
            endpoint: RwSignal::new(String::new()),
            api_version: RwSignal::new(String::new()),
            deployments: RwSignal::new(String::new()),
        }
    }

    fn load(&self, a: &AccountView) {
        self.original.set(Some(a.name.clone()));
        self.name.set(a.name.clone());
        self.kind.set(a.kind);
        self.base_url.set(a.base_url.clone().unwrap_or_default());
        self.api_key.set(String::new());
        self.enabled.set(a.enabled);
        self.rpm.set(text(a.rpm_limit));
        self.tpm.set(text(a.tpm_limit));
        self.budget.set(text(a.monthly_budget_usd));
        self.soft_budget.set(a.soft_budget);
        self.thresholds.set(
            a.alert_thresholds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        );
        let azure = a.azure.clone().unwrap_or_default();
        self.endpoint.set(azure.endpoint);
        self.api_version.set(azure.api_version);
        self.deployments.set(
            azure
                .deployments
                .iter()
                .map(|(m, d)| format!("{m}={d}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }

    fn reset(&self) {
        self.load(&AccountView {
            name: String::new(),
            kind: ProviderKind::Openai,
            base_url: None,
            enabled: true,
            rpm_limit: None,
            tpm_limit: None,
            monthly_budget_usd: None,
            soft_budget: false,
            alert_thresholds: vec![50, 80, 100],
            azure: None,
            api_key_set: false,
            api_key_last4: None,
        });
        self.original.set(None);
    }

    fn to_form(self) -> Result<AccountForm, (String, String)> {
        let thresholds = split_list(&self.thresholds.get_untracked())
            .iter()
            .map(|t| t.trim_end_matches('%').parse::<u8>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                (
                    "alert_thresholds".to_string(),
                    "must be percentages from 1 to 100, comma-separated".to_string(),
                )
            })?;
        let kind = self.kind.get_untracked();
        let azure = (kind == ProviderKind::Azure).then(|| AzureSettings {
            endpoint: self.endpoint.get_untracked().trim().to_string(),
            api_version: self.api_version.get_untracked().trim().to_string(),
            deployments: split_list(&self.deployments.get_untracked())
                .iter()
                .filter_map(|pair| pair.split_once('='))
                .map(|(m, d)| (m.trim().to_string(), d.trim().to_string()))
                .collect(),
        });
        let key = self.api_key.get_untracked();
        Ok(AccountForm {
            name: self.name.get_untracked(),
            kind,
            base_url: Some(self.base_url.get_untracked()).filter(|u| !u.trim().is_empty()),
            enabled: self.enabled.get_untracked(),
            rpm_limit: optional_number(&self.rpm.get_untracked(), "rpm_limit")?,
            tpm_limit: optional_number(&self.tpm.get_untracked(), "tpm_limit")?,
            monthly_budget_usd: optional_number(
                &self.budget.get_untracked(),
                "monthly_budget_usd",
            )?,
            soft_budget: self.soft_budget.get_untracked(),
            alert_thresholds: thresholds,
            azure,
            api_key: Some(key).filter(|k| !k.trim().is_empty()),
        })
    }
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    let save = ServerAction::<SaveAccount>::new();
    let delete = ServerAction::<DeleteAccount>::new();
    let test = ServerAction::<TestAccount>::new();
    let can_edit = use_can(Role::Editor);
    let is_admin = use_can(Role::Admin);
    let accounts = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_accounts(),
    );
    // The server renders the live cells once; the stream keeps them current.
    let first_live = Resource::new(|| (), |_| account_live_status());
    let stream = crate::api::live::use_live();
    let form = Form::new();
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            form.reset();
        }
    });
    let test_result = move || {
        test.value().get().map(|answer| match answer {
            Ok(t) if t.ok => format!("Connected in {} ms.", t.latency_ms),
            Ok(t) => format!("Failed after {} ms: {}", t.latency_ms, t.message),
            Err(e) => e.to_string(),
        })
    };
    view! {
        <section class="page">
            <h1>"Provider accounts"</h1>
            <p class="form-error" role="alert">{form_error(delete.value())}</p>
            <p class="notice" data-testid="test-result">{test_result}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    // The list still shows when the live figures fail to load; the cells stay empty.
                    let first_live = first_live.await.unwrap_or_default();
                    let live = move || stream.with(|s| s.as_ref().map(|f| f.accounts.clone())).unwrap_or_else(|| first_live.clone());
                    match accounts.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted card">"No provider account is configured yet."</p> }.into_any()
                        }
                        Ok(list) => view! {
                            <div class="card table-card">
                                <table class="table" data-testid="accounts-table">
                                    <thead><tr>
                                        <th>"Name"</th><th>"Kind"</th><th>"Base URL"</th><th>"API key"</th><th>"Health"</th>
                                        <th>"Latency"</th><th>"Requests / min"</th><th>"Tokens / min"</th>
                                        <th>"Spend this month"</th><th>"Enabled"</th><th></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|a| {
                                            let key = match &a.api_key_last4 {
                                                Some(last4) if a.api_key_set => format!("set, …{last4}"),
                                                _ => "not set".to_string(),
                                            };
                                            let (cells, live) = (a.clone(), live.clone());
                                            let base = a.base_url.clone().or_else(|| a.kind.default_base_url().map(str::to_string)).unwrap_or_default();
                                            let (row, edit, gone, probe) = (a.name.clone(), a.clone(), a.name.clone(), a.name.clone());
                                            view! {
                                                <tr data-name=row>
                                                    <td><a href=format!("/accounts/{}", a.name)>{a.name.clone()}</a></td>
                                                    <td>{a.kind.label()}</td>
                                                    <td class="mono">{base}</td>
                                                    <td>{key}</td>
                                                    {move || live_cells(&cells, live().iter().find(|l| l.name == cells.name))}
                                                    <td>{if a.enabled { "yes" } else { "no" }}</td>
                                                    <td>
                                                        <Show when=move || can_edit.get()>
                                                            {
                                                                let (edit, gone, probe) = (edit.clone(), gone.clone(), probe.clone());
                                                                view! {
                                                                    <button class="small" on:click=move |_| { test.dispatch(TestAccount { name: probe.clone() }); }>"Test connection"</button>
                                                                    <button class="small" on:click=move |_| form.load(&edit)>"Edit"</button>
                                                                    <Show when=move || is_admin.get()>
                                                                        {
                                                                            let gone = gone.clone();
                                                                            view! {
                                                                                <button class="small danger" on:click=move |_| { delete.dispatch(DeleteAccount { name: gone.clone() }); }>"Delete"</button>
                                                                            }
                                                                        }
                                                                    </Show>
                                                                }
                                                            }
                                                        </Show>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
            // Inside a Transition, so the server waits for the role before rendering the form.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    <AccountEditor form save is_admin/>
                </Show>
            </Transition>
        </section>
    }
}

/// Health, latency, last-minute traffic against the limits and spend against the budget.
fn live_cells(account: &AccountView, live: Option<&LiveAccount>) -> impl IntoView {
    let Some(live) = live else {
        let limits = |limit: Option<u32>| used_of("—", limit);
        return view! {
            <td class="muted">"—"</td><td>"—"</td>
            <td>{limits(account.rpm_limit)}</td><td>{limits(account.tpm_limit)}</td>
            <td>{used_of("—", account.monthly_budget_usd.map(|b| format!("${b:.2}")))}</td>
        }
        .into_any();
    };
    let badge = match live.health {
        HealthLevel::Healthy => "badge on",
        HealthLevel::Degraded => "badge warn",
        HealthLevel::Unhealthy => "badge off",
    };
    let latency = live
        .latency_ewma_ms
        .map_or("—".to_string(), |ms| format!("{ms:.0} ms"));
    view! {
        <td data-testid="account-health">
            <span class=badge>{live.health.to_string()}</span>
            " "<span class="muted">{live.health_reason.clone()}</span>
        </td>
        <td>{latency}</td>
        <td>{used_of(live.requests_last_minute, live.rpm_limit)}</td>
        <td>{used_of(live.tokens_last_minute, live.tpm_limit)}</td>
        <td>{used_of(live.spent_this_month, live.monthly_budget)}</td>
    }
    .into_any()
}

#[component]
fn AccountEditor(
    form: Form,
    save: ServerAction<SaveAccount>,
    is_admin: Signal<bool>,
) -> impl IntoView {
    let local: LocalError = RwSignal::new(None);
    let value = save.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match form.to_form() {
            Ok(account) => {
                local.set(None);
                save.dispatch(SaveAccount {
                    original_name: form.original.get_untracked(),
                    account,
                });
            }
            Err(problem) => local.set(Some(problem)),
        }
    };
    let field = move |id, label, name, signal| {
        text_field(id, label, name, signal, message_for(value, local, name))
    };
    let title = move || match form.original.get() {
        Some(name) => format!("Edit {name}"),
        None => "Add a provider account".to_string(),
    };
    view! {
        <div class="card">
            <h2>{title}</h2>
            <form class="grid-form" on:submit=submit data-testid="account-form">
                {field("account-name", "Name", "name", form.name)}
                <div class="field">
                    <label for="account-kind">"Provider"</label>
                    <select id="account-kind" on:change=move |ev| {
                        if let Ok(kind) = event_target_value(&ev).parse::<ProviderKind>() { form.kind.set(kind); }
                    }>
                        {ProviderKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=move || form.kind.get() == k>{k.label()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="account-base-url">"Base URL (empty: the provider's default)"</label>
                    <input id="account-base-url" type="text"
                        placeholder=move || form.kind.get().default_base_url().unwrap_or("")
                        prop:value=move || form.base_url.get()
                        on:input=move |ev| form.base_url.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="base_url">{message_for(value, local, "base_url")}</p>
                </div>
                <Show when=move || form.kind.get() == ProviderKind::Azure>
                    {field("account-endpoint", "Azure endpoint", "azure.endpoint", form.endpoint)}
                    {field("account-api-version", "Azure api-version", "azure.api_version", form.api_version)}
                    {field("account-deployments", "Deployments (model=deployment, comma-separated)", "azure.deployments", form.deployments)}
                </Show>
                <Show when=move || is_admin.get()>
                    <div class="field">
                        <label for="account-api-key">"API key (write-only; empty keeps the stored key)"</label>
                        <input id="account-api-key" type="password" autocomplete="off"
                            prop:value=move || form.api_key.get()
                            on:input=move |ev| form.api_key.set(event_target_value(&ev))/>
                    </div>
                </Show>
                {field("account-rpm", "Requests per minute (empty: no limit)", "rpm_limit", form.rpm)}
                {field("account-tpm", "Tokens per minute (empty: no limit)", "tpm_limit", form.tpm)}
                {field("account-budget", "Monthly budget in USD (empty: none)", "monthly_budget_usd", form.budget)}
                {field("account-thresholds", "Alert thresholds (%)", "alert_thresholds", form.thresholds)}
                <label class="check">
                    <input type="checkbox" prop:checked=move || form.soft_budget.get()
                        on:change=move |ev| form.soft_budget.set(event_target_checked(&ev))/>
                    "Soft budget (alert only, never stop traffic)"
                </label>
                <label class="check">
                    <input type="checkbox" id="account-enabled" prop:checked=move || form.enabled.get()
                        on:change=move |ev| form.enabled.set(event_target_checked(&ev))/>
                    "Enabled"
                </label>
                <p class="form-error" role="alert">{form_error(value)}</p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || save.pending().get()>"Save account"</button>
                    <button type="button" on:click=move |_| form.reset()>"Clear"</button>
                </div>
            </form>
        </div>
    }
}
