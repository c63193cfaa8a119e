//! Provider accounts: the list with key status, live health, traffic and spend (kept current
//! by the live stream) and "Test connection", and a form whose API key box is write-only (admins only;
//! empty keeps the stored key).

use crate::api::accounts::{
    account_live_status, list_accounts, AccountForm, AccountView, DeleteAccount, LiveAccount,
    SaveAccount, TestAccount,
};
use crate::api::models::list_models;
use crate::app::components::{
    compact, dollars, grouped, loaded, money, optional_number, split_list, text_input, use_can,
    used_of, AddButton, Confirm, ConfirmDialog, Editor, EditorDialog, HealthBadge, PageHeader,
    Problem, RowActions,
};
use crate::app::pages::dashboard::account_href;
use crate::domain::{AzureSettings, ProviderKind, Role};
use leptos::prelude::*;

/// The account's own fields.
#[derive(Clone, Copy)]
struct Fields {
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

impl Fields {
    fn new() -> Self {
        let fields = Fields {
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
        };
        fields.fill(None);
        fields
    }

    /// Loads `account`, or the blank form for a new one.
    fn fill(&self, account: Option<&AccountView>) {
        let blank = AccountView {
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
        };
        let a = account.unwrap_or(&blank);
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

    fn read(self) -> Result<AccountForm, Problem> {
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
    let models = Resource::new(move || delete.version().get(), |_| list_models());
    // The server renders the live cells once; the stream keeps them current.
    let live = Resource::new(|| (), |_| account_live_status());
    let stream = crate::api::live::use_live();
    let fields = Fields::new();
    let editor = Editor::new(save.value());
    let confirm = Confirm::new(delete.value());
    let add = move || {
        fields.fill(None);
        editor.add();
    };
    let dependents = Callback::new(move |name: String| {
        models
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.targets.iter().any(|t| t.target.account == name))
            .map(|m| format!("logical model {} targets it", m.name))
            .collect::<Vec<_>>()
    });
    let test_result = move || {
        test.value().get().map(|answer| match answer {
            Ok(t) if t.ok => view! { <p class="notice ok" role="status">{format!("Connected in {} ms.", t.latency_ms)}</p> }.into_any(),
            Ok(t) => view! { <p class="notice error" role="status">{format!("Failed after {} ms: {}", t.latency_ms, t.message)}</p> }.into_any(),
            Err(e) => view! { <p class="notice error" role="status">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="page">
            <PageHeader title="Provider accounts"
                description="Where requests go: each account's credentials, limits and budget, with live health, traffic and spend.">
                <AddButton label="Add account" show=can_edit on_add=add/>
            </PageHeader>
            <div data-testid="test-result">{test_result}</div>
            {loaded(accounts, "No provider account yet. Add one with its API key to start routing requests.", move |list| {
                view! { <AccountTable list live stream fields editor confirm test can_edit is_admin/> }
            })}
            // Inside a Transition, so the server waits for the role before rendering the editor.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    <AccountEditor fields editor save is_admin/>
                    <ConfirmDialog confirm noun="provider account" dependents
                        consequence="Its stored API key is deleted with it. This cannot be undone."
                        pending=delete.pending()
                        on_confirm=move |name| { delete.dispatch(DeleteAccount { name }); }/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
#[allow(clippy::too_many_arguments)] // the table's data and the page's shared editor state
fn AccountTable(
    list: Vec<AccountView>,
    live: Resource<Result<Vec<LiveAccount>, crate::api::ApiError>>,
    stream: ReadSignal<Option<crate::api::live::LiveFigures>>,
    fields: Fields,
    editor: Editor,
    confirm: Confirm,
    test: ServerAction<TestAccount>,
    can_edit: Signal<bool>,
    is_admin: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="accounts-table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col" class="health">"Health"</th>
                    <th scope="col" class="num">"Latency"</th><th scope="col" class="num">"Requests / min"</th>
                    <th scope="col" class="num">"Tokens / min"</th><th scope="col" class="num">"Spend this month"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|a| {
                        let key = match &a.api_key_last4 {
                            Some(last4) if a.api_key_set => view! { " · "<span class="nowrap">"key "<span class="mono">{format!("…{last4}")}</span></span> }.into_any(),
                            _ => view! { " · "<span class="badge warn">"▲ no API key"</span> }.into_any(),
                        };
                        let base = a.base_url.clone().or_else(|| a.kind.default_base_url().map(str::to_string)).unwrap_or_default();
                        let edit = a.clone();
                        let on_edit = Callback::new(move |()| {
                            fields.fill(Some(&edit));
                            editor.edit(edit.name.clone());
                        });
                        let (name, probe, row) = (a.name.clone(), a.name.clone(), a.clone());
                        let extra: ChildrenFn = std::sync::Arc::new(move || {
                            let probe = probe.clone();
                            view! {
                                <button type="button" class="small" aria-label=format!("Test connection of {probe}")
                                    on:click=move |_| { test.dispatch(TestAccount { name: probe.clone() }); }>"Test"</button>
                            }
                            .into_any()
                        });
                        view! {
                            <tr data-name=name.clone() class:disabled=!a.enabled>
                                <td>
                                    <a class="strong" href=account_href(&a.name)>{a.name.clone()}</a>
                                    {(!a.enabled).then(|| view! { <span class="badge muted-badge">"disabled"</span> })}
                                    <span class="cell-detail">{a.kind.label()}{key}</span>
                                    {(!base.is_empty()).then(|| view! { <span class="cell-detail mono">{base.clone()}</span> })}
                                </td>
                                <Transition fallback=|| view! { <td></td><td></td><td></td><td></td><td></td> }>
                                    {
                                        let row = row.clone();
                                        move || {
                                            let row = row.clone();
                                            Suspend::new(async move {
                                                // The list still shows when the live figures fail to load.
                                                let first = live.await.unwrap_or_default();
                                                move || {
                                                    let now = stream.with(|s| s.as_ref().map(|f| f.accounts.clone())).unwrap_or_else(|| first.clone());
                                                    live_cells(&row, now.iter().find(|l| l.name == row.name))
                                                }
                                            })
                                        }
                                    }
                                </Transition>
                                <RowActions name=name.clone() show=can_edit on_edit confirm can_delete=is_admin extra/>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Health, latency, last-minute traffic against the limits and spend against the budget.
fn live_cells(account: &AccountView, live: Option<&LiveAccount>) -> impl IntoView {
    let limit = |l: Option<u32>| l.map(|n| grouped(u64::from(n)));
    let Some(live) = live else {
        return view! {
            <td class="muted">"—"</td><td class="num">"—"</td>
            <td class="num">{used_of("—", limit(account.rpm_limit))}</td>
            <td class="num">{used_of("—", limit(account.tpm_limit))}</td>
            <td class="num">{used_of("—", account.monthly_budget_usd.map(dollars))}</td>
        }
        .into_any();
    };
    let latency = live
        .latency_ewma_ms
        .map_or("—".to_string(), |ms| format!("{ms:.0} ms"));
    view! {
        <td data-testid="account-health">
            <HealthBadge level=live.health reason=live.health_reason.clone()/>
        </td>
        <td class="num">{latency}</td>
        <td class="num">{used_of(compact(u64::from(live.requests_last_minute)), limit(live.rpm_limit))}</td>
        <td class="num">{used_of(compact(live.tokens_last_minute), limit(live.tpm_limit))}</td>
        <td class="num">{used_of(money(live.spent_this_month), live.monthly_budget.map(money))}</td>
    }
    .into_any()
}

#[component]
fn AccountEditor(
    fields: Fields,
    editor: Editor,
    save: ServerAction<SaveAccount>,
    is_admin: Signal<bool>,
) -> impl IntoView {
    let submit = move || {
        let account = fields.read()?;
        save.dispatch(SaveAccount {
            original_name: editor.original(),
            account,
        });
        Ok(())
    };
    let input = move |id, label, field, value| text_input(editor, id, label, field, value);
    view! {
        <EditorDialog editor add_title="Add a provider account" test_id="account-form"
            submit_label="Save account" pending=save.pending() on_submit=submit>
            {input("account-name", "Name", "name", fields.name)}
            <div class="field">
                <label for="account-kind">"Provider"</label>
                <select id="account-kind" on:change=move |ev| {
                    if let Ok(kind) = event_target_value(&ev).parse::<ProviderKind>() { fields.kind.set(kind); }
                }>
                    {ProviderKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=move || fields.kind.get() == k>{k.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field wide">
                <label for="account-base-url">"Base URL (empty: the provider's default)"</label>
                <input id="account-base-url" type="text"
                    placeholder=move || fields.kind.get().default_base_url().unwrap_or("")
                    prop:value=move || fields.base_url.get()
                    on:input=move |ev| fields.base_url.set(event_target_value(&ev))/>
                <p class="field-error" data-field="base_url">{editor.error_at("base_url")}</p>
            </div>
            <Show when=move || fields.kind.get() == ProviderKind::Azure>
                {input("account-endpoint", "Azure endpoint", "azure.endpoint", fields.endpoint)}
                {input("account-api-version", "Azure api-version", "azure.api_version", fields.api_version)}
                {input("account-deployments", "Deployments (model=deployment, comma-separated)", "azure.deployments", fields.deployments)}
            </Show>
            <Show when=move || is_admin.get()>
                <div class="field wide">
                    <label for="account-api-key">"API key (write-only; empty keeps the stored key)"</label>
                    <input id="account-api-key" type="password" autocomplete="off"
                        prop:value=move || fields.api_key.get()
                        on:input=move |ev| fields.api_key.set(event_target_value(&ev))/>
                </div>
            </Show>
            {input("account-rpm", "Requests per minute (empty: no limit)", "rpm_limit", fields.rpm)}
            {input("account-tpm", "Tokens per minute (empty: no limit)", "tpm_limit", fields.tpm)}
            {input("account-budget", "Monthly budget in USD (empty: none)", "monthly_budget_usd", fields.budget)}
            {input("account-thresholds", "Alert thresholds (%)", "alert_thresholds", fields.thresholds)}
            <label class="check">
                <input type="checkbox" prop:checked=move || fields.soft_budget.get()
                    on:change=move |ev| fields.soft_budget.set(event_target_checked(&ev))/>
                "Soft budget (alert only, never stop traffic)"
            </label>
            <label class="check">
                <input type="checkbox" id="account-enabled" prop:checked=move || fields.enabled.get()
                    on:change=move |ev| fields.enabled.set(event_target_checked(&ev))/>
                "Enabled"
            </label>
        </EditorDialog>
    }
}
