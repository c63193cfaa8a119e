//! Gateway keys: the list (last four characters only) with each key's limits, budget, team and
//! spend this month, the spend per team, create with the key shown once, change, rotate (the
//! previous secret keeps working for a day), revoke.

use crate::api::keys::{
    list_keys, CreateKey, CreatedKey, KeyGovernance, KeyView, RevokeKey, RotateKey, UpdateKey,
};
use crate::api::models::list_models;
use crate::app::components::{
    compact, dollars, loaded, money, now_millis, optional_number, text_input, use_can, used_of,
    AddButton, Chooser, Confirm, ConfirmDialog, Editor, EditorDialog, PageHeader, Problem,
    RowActions, Time,
};
use crate::app::pages::dashboard::{key_href, model_href};
use crate::domain::{Money, Role};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// A key's own fields.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    models: RwSignal<Vec<String>>,
    /// `YYYY-MM-DD`, from a date input; empty never expires.
    expires: RwSignal<String>,
    rpm: RwSignal<String>,
    tpm: RwSignal<String>,
    budget: RwSignal<String>,
    soft_budget: RwSignal<bool>,
    team: RwSignal<String>,
}

fn text(n: Option<impl ToString>) -> String {
    n.map(|v| v.to_string()).unwrap_or_default()
}

impl Fields {
    fn new() -> Self {
        Fields {
            name: RwSignal::new(String::new()),
            models: RwSignal::new(Vec::new()),
            expires: RwSignal::new(String::new()),
            rpm: RwSignal::new(String::new()),
            tpm: RwSignal::new(String::new()),
            budget: RwSignal::new(String::new()),
            soft_budget: RwSignal::new(false),
            team: RwSignal::new(String::new()),
        }
    }

    /// Loads `key`, or the blank form for a new one.
    fn fill(&self, key: Option<&KeyView>) {
        let blank = KeyGovernance::default();
        let g = key.map_or(&blank, |k| &k.governance);
        self.name
            .set(key.map(|k| k.name.clone()).unwrap_or_default());
        self.models
            .set(key.map(|k| k.models.clone()).unwrap_or_default());
        self.expires.set(
            key.and_then(|k| k.expires_at)
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        );
        self.rpm.set(text(g.rpm_limit));
        self.tpm.set(text(g.tpm_limit));
        self.budget.set(text(g.monthly_budget_usd));
        self.soft_budget.set(g.soft_budget);
        self.team.set(g.team.clone());
    }

    fn governance(self) -> Result<KeyGovernance, Problem> {
        Ok(KeyGovernance {
            rpm_limit: optional_number(&self.rpm.get_untracked(), "rpm_limit")?,
            tpm_limit: optional_number(&self.tpm.get_untracked(), "tpm_limit")?,
            monthly_budget_usd: optional_number(
                &self.budget.get_untracked(),
                "monthly_budget_usd",
            )?,
            soft_budget: self.soft_budget.get_untracked(),
            team: self.team.get_untracked(),
        })
    }

    fn read(self) -> Result<CreateKey, Problem> {
        let expires_at = match self.expires.get_untracked().trim() {
            "" => None,
            day => chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
                .map(Some)
                .ok_or_else(|| ("expires_at".into(), "must be a date, YYYY-MM-DD".into()))?,
        };
        Ok(CreateKey {
            name: self.name.get_untracked(),
            models: self.models.get_untracked(),
            expires_at,
            governance: Some(self.governance()?),
        })
    }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let update = ServerAction::<UpdateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let rotate = ServerAction::<RotateKey>::new();
    let is_admin = use_can(Role::Admin);
    let keys = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                revoke.version().get(),
                rotate.version().get(),
            )
        },
        |_| list_keys(),
    );
    let models = Resource::new(|| (), |_| list_models());
    let fields = Fields::new();
    let editor = Editor::new(create.value());
    // Changing a key has its own dialog: its answers are another action's.
    let change = Editor::new(update.value());
    let confirm = Confirm::new(revoke.value());
    let confirm_rotate = Confirm::new(rotate.value());
    let add = move || {
        fields.fill(None);
        editor.add();
    };
    let shown_once = move || {
        create.value().get().and_then(Result::ok).map(|created| {
            let text = format!(
                "Key {} created. Copy it now; it will not be shown again:",
                created.view.name
            );
            secret_notice(text, created)
        })
    };
    let rotated_once = move || {
        rotate.value().get().and_then(Result::ok).map(|rotated| {
            let text = format!(
                "Key {} has a new secret. Copy it now; it will not be shown again. {}",
                rotated.view.name,
                if rotated.view.previous_valid_until.is_some() {
                    "The previous one keeps working for 24 hours."
                } else {
                    "The previous one no longer works."
                }
            );
            secret_notice(text, rotated)
        })
    };
    view! {
        <section class="page">
            <PageHeader title="Gateway keys"
                description="Apps call the /v1 API with one of these keys. Only the last four characters are kept in view.">
                <AddButton label="New key" show=is_admin on_add=add/>
            </PageHeader>
            {shown_once}
            {rotated_once}
            {loaded(keys, "No gateway key yet. Create one for each app or team that calls the /v1 API.", move |list| {
                view! {
                    <KeyTable list=list.clone() fields change confirm confirm_rotate is_admin/>
                    <TeamSpend list/>
                }
            })}
            // Inside a Transition, so the server waits for the role before rendering the editor.
            <Transition fallback=|| ()>
                <Show when=move || is_admin.get()>
                    {move || Suspend::new(async move {
                        let model_names: Vec<String> = models
                            .await
                            .map(|list| list.into_iter().map(|m| m.name).collect())
                            .unwrap_or_default();
                        let submit_create = move || {
                            create.dispatch(fields.read()?);
                            Ok(())
                        };
                        let submit_change = move || {
                            let read = fields.read()?;
                            update.dispatch(UpdateKey {
                                name: change.original().unwrap_or_default(),
                                models: read.models,
                                expires_at: read.expires_at,
                                governance: read.governance.unwrap_or_default(),
                            });
                            Ok(())
                        };
                        view! {
                            <KeyEditor fields editor model_names=model_names.clone() add_title="Create a gateway key"
                                test_id="key-form" submit_label="Create key" pending=create.pending()
                                on_submit=submit_create/>
                            <KeyEditor fields editor=change model_names add_title="Change a gateway key"
                                test_id="key-change-form" submit_label="Save key" pending=update.pending()
                                on_submit=submit_change/>
                        }
                    })}
                    <ConfirmDialog confirm noun="key" verb="Revoke" dependents=|_| Vec::new()
                        consequence="Apps using it are refused at once. A revoked key cannot be restored."
                        pending=revoke.pending()
                        on_confirm=move |name| { revoke.dispatch(RevokeKey { name }); }/>
                    <ConfirmDialog confirm=confirm_rotate noun="key" verb="Rotate" dependents=|_| Vec::new()
                        consequence="It gets a new secret, shown once. The current secret keeps working for 24 hours, so apps can move to the new one; limits, budget and spend stay with the key."
                        pending=rotate.pending()
                        on_confirm=move |name| { rotate.dispatch(RotateKey { name, overlap_hours: ROTATION_OVERLAP_HOURS }); }/>
                </Show>
            </Transition>
        </section>
    }
}

/// How long the Rotate button keeps the previous secret working (the API takes any overlap
/// up to a week).
const ROTATION_OVERLAP_HOURS: u32 = 24;

/// A new secret, shown this once.
fn secret_notice(text: String, created: CreatedKey) -> impl IntoView {
    view! {
        <div class="notice ok" data-testid="new-key" role="status">
            <p>{text}</p>
            <code class="secret">{created.key}</code>
        </div>
    }
}

/// `$3.20 of $10.00`, with `(soft)` for a budget that only alerts.
fn spend_text(spent: Money, g: &KeyGovernance) -> String {
    let budget = g.monthly_budget_usd.map(|b| {
        if g.soft_budget {
            format!("{} (soft)", dollars(b))
        } else {
            dollars(b)
        }
    });
    used_of(money(spent), budget)
}

#[component]
fn KeyTable(
    list: Vec<KeyView>,
    fields: Fields,
    change: Editor,
    confirm: Confirm,
    confirm_rotate: Confirm,
    is_admin: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="keys-table">
                <thead><tr>
                    <th scope="col">"Name and key"</th><th scope="col">"Team"</th>
                    <th scope="col">"Allowed models"</th>
                    <th scope="col" class="num">"Per minute"</th>
                    <th scope="col" class="num">"Spent this month"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|k| {
                        let revoked = k.revoked;
                        let models = if k.models.is_empty() {
                            view! { <span class="muted">"all"</span> }.into_any()
                        } else {
                            view! { <span class="tags">{k.models.iter().map(|m| view! { <a class="tag" href=model_href(m)>{m.clone()}</a> }).collect_view()}</span> }.into_any()
                        };
                        // Expiry and last use under the status, so the row fits at 1280 px.
                        let when = |label: &'static str, at: Option<i64>, none: &'static str| match at {
                            Some(at) => view! { <span class="cell-detail">{label}" "<Time millis=at/></span> }.into_any(),
                            None => view! { <span class="cell-detail">{none}</span> }.into_any(),
                        };
                        let g = &k.governance;
                        let per_minute = match (g.rpm_limit, g.tpm_limit) {
                            (None, None) => "no limit".to_string(),
                            (rpm, tpm) => [
                                rpm.map(|r| format!("{} req", compact(u64::from(r)))),
                                tpm.map(|t| format!("{} tok", compact(u64::from(t)))),
                            ].into_iter().flatten().collect::<Vec<_>>().join(" · "),
                        };
                        let spent = spend_text(k.spent_this_month, g);
                        let team = if g.team.is_empty() {
                            view! { <span class="muted">"—"</span> }.into_any()
                        } else {
                            view! { <span class="tag">{g.team.clone()}</span> }.into_any()
                        };
                        let edit = k.clone();
                        let on_edit = Callback::new(move |()| {
                            fields.fill(Some(&edit));
                            change.edit(edit.name.clone());
                        });
                        view! {
                            <tr data-name=k.name.clone() class:disabled=revoked>
                                <td>
                                    <a class="strong" href=key_href(&k.name)>{k.name.clone()}</a>
                                    // Under the name, so the row (with three actions) fits at 1280 px.
                                    <span class="cell-detail mono key-tail">{format!("sk-sy-…{}", k.last4)}</span>
                                    <span class="cell-detail">"created "<Time millis=k.created_at/></span>
                                </td>
                                <td>{team}</td>
                                <td>{models}</td>
                                <td class="num muted">{per_minute}</td>
                                <td class="num" data-testid="key-spend">{spent}</td>
                                <td>
                                    {if revoked {
                                        view! { <span class="badge bad">"✕ revoked"</span> }
                                    } else {
                                        view! { <span class="badge ok">"● active"</span> }
                                    }}
                                    {when("expires", k.expires_at, "never expires")}
                                    {when("used", k.last_used_at, "never used")}
                                    {k.previous_valid_until.filter(|at| !revoked && *at > now_millis()).map(|at| view! {
                                        <span class="cell-detail" data-testid="previous-secret">"previous secret until "<Time millis=at/></span>
                                    })}
                                </td>
                                <RowActions name=k.name.clone() show=Signal::derive(move || is_admin.get() && !revoked)
                                    on_edit confirm delete_label="Revoke"
                                    extra=ChildrenFn::to_children({
                                        let name = k.name.clone();
                                        move || {
                                            let name = name.clone();
                                            view! {
                                                <button type="button" class="small" aria-label=format!("Rotate {name}")
                                                    on:click=move |_| confirm_rotate.ask(name.clone())>"Rotate"</button>
                                            }.into_any()
                                        }
                                    })/>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Spend this month summed by team (keys without one together), with their budgets.
#[component]
fn TeamSpend(list: Vec<KeyView>) -> impl IntoView {
    let mut teams: BTreeMap<String, (Money, usize)> = BTreeMap::new();
    for k in &list {
        let entry = teams.entry(k.governance.team.clone()).or_default();
        entry.0 += k.spent_this_month;
        entry.1 += 1;
    }
    (teams.keys().any(|t| !t.is_empty())).then(|| view! {
        <div class="card table-card">
            <h2 class="card-title">"Spend by team this month"</h2>
            <table class="table" data-testid="team-spend">
                <thead><tr>
                    <th scope="col">"Team"</th><th scope="col" class="num">"Keys"</th>
                    <th scope="col" class="num">"Spent"</th>
                </tr></thead>
                <tbody>
                    {teams.into_iter().map(|(team, (spent, keys))| view! {
                        <tr data-name=team.clone()>
                            <td>{if team.is_empty() { "no team".to_string() } else { team.clone() }}</td>
                            <td class="num">{keys}</td>
                            <td class="num">{money(spent)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    })
}

#[component]
fn KeyEditor(
    fields: Fields,
    editor: Editor,
    model_names: Vec<String>,
    add_title: &'static str,
    test_id: &'static str,
    submit_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    on_submit: impl Fn() -> Result<(), Problem> + 'static,
) -> impl IntoView {
    // Both dialogs are on the page at once: the change dialog's ids differ.
    let creating = test_id == "key-form";
    let id =
        move |create: &'static str, change: &'static str| if creating { create } else { change };
    let input = move |id, label, field, value| text_input(editor, id, label, field, value);
    view! {
        <EditorDialog editor add_title test_id submit_label pending on_submit>
            {creating.then(|| input("key-name", "Name", "name", fields.name))}
            {input(id("key-team", "key-change-team"), "Team (optional)", "team", fields.team)}
            <div class="field">
                <label for=format!("{test_id}-expires")>"Expires (optional)"</label>
                <input id=format!("{test_id}-expires") type="date" prop:value=move || fields.expires.get()
                    on:input=move |ev| fields.expires.set(event_target_value(&ev))/>
                <p class="field-error" data-field="expires_at">{editor.error_at("expires_at")}</p>
            </div>
            {input(id("key-rpm", "key-change-rpm"), "Requests per minute (empty: no limit)", "rpm_limit", fields.rpm)}
            {input(id("key-tpm", "key-change-tpm"), "Tokens per minute (empty: no limit)", "tpm_limit", fields.tpm)}
            {input(id("key-budget", "key-change-budget"), "Monthly budget in USD (empty: none)", "monthly_budget_usd", fields.budget)}
            <label class="check">
                <input type="checkbox" prop:checked=move || fields.soft_budget.get()
                    on:change=move |ev| fields.soft_budget.set(event_target_checked(&ev))/>
                "Soft budget (alerts at 50, 80 and 100 %, never refuses)"
            </label>
            <Chooser id=id("key-models", "key-change-models") label="Allowed logical models" field="models"
                options=model_names chosen=fields.models
                none_means="All models: the key may use every logical model." editor/>
        </EditorDialog>
    }
}
