//! Logical models: the list, and the editor for one with its ordered targets.

use crate::api::accounts::list_accounts;
use crate::api::models::{list_models, DeleteModel, SaveModel};
use crate::api::policies::list_policies;
use crate::app::components::{
    checkbox_group, defaults_text, loaded, optional_number, split_list, text_input, use_can,
    AddButton, Confirm, ConfirmDialog, Editor, EditorDialog, PageHeader, Problem, RowActions,
};
use crate::app::pages::dashboard::{account_href, model_href};
use crate::domain::{
    CacheScope, CacheSettings, Capabilities, Capability, Defaults, LogicalModel, ModelTarget, Role,
    Strategy, Target, DEFAULT_WEIGHT, MAX_CACHE_TTL_SECONDS, MAX_RETRIES,
};
use leptos::prelude::*;

/// The model's own fields.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    description: RwSignal<String>,
    capabilities: RwSignal<Vec<Capability>>,
    temperature: RwSignal<String>,
    max_tokens: RwSignal<String>,
    top_p: RwSignal<String>,
    stop: RwSignal<String>,
    strategy: RwSignal<Strategy>,
    retries: RwSignal<String>,
    /// (account, provider model, weight)
    targets: RwSignal<Vec<(String, String, String)>>,
    /// Seconds an answer is cached; empty turns the cache off.
    cache_ttl: RwSignal<String>,
    cache_scope: RwSignal<CacheScope>,
    cache_nonzero_temperature: RwSignal<bool>,
}

fn text(n: Option<impl ToString>) -> String {
    n.map(|v| v.to_string()).unwrap_or_default()
}

impl Fields {
    fn new() -> Self {
        let fields = Fields {
            name: RwSignal::new(String::new()),
            description: RwSignal::new(String::new()),
            capabilities: RwSignal::new(Vec::new()),
            temperature: RwSignal::new(String::new()),
            max_tokens: RwSignal::new(String::new()),
            top_p: RwSignal::new(String::new()),
            stop: RwSignal::new(String::new()),
            strategy: RwSignal::new(Strategy::Ordered),
            retries: RwSignal::new(String::new()),
            targets: RwSignal::new(Vec::new()),
            cache_ttl: RwSignal::new(String::new()),
            cache_scope: RwSignal::new(CacheScope::Key),
            cache_nonzero_temperature: RwSignal::new(false),
        };
        fields.fill(None);
        fields
    }

    /// Loads `model`, or the blank form for a new one.
    fn fill(&self, model: Option<&LogicalModel>) {
        let blank = LogicalModel {
            name: String::new(),
            description: String::new(),
            capabilities: [Capability::Streaming].into_iter().collect(),
            defaults: Defaults::default(),
            strategy: Strategy::Ordered,
            targets: vec![ModelTarget::new("", "")],
            retries: 0,
            cache: None,
        };
        let m = model.unwrap_or(&blank);
        self.cache_ttl.set(text(m.cache.map(|c| c.ttl_seconds)));
        self.cache_scope
            .set(m.cache.map_or(CacheScope::Key, |c| c.scope));
        self.cache_nonzero_temperature
            .set(m.cache.is_some_and(|c| c.nonzero_temperature));
        self.name.set(m.name.clone());
        self.description.set(m.description.clone());
        self.capabilities.set(m.capabilities.iter().collect());
        self.temperature.set(text(m.defaults.temperature));
        self.max_tokens.set(text(m.defaults.max_tokens));
        self.top_p.set(text(m.defaults.top_p));
        self.stop.set(m.defaults.stop.join(", "));
        self.strategy.set(m.strategy);
        self.retries.set(m.retries.to_string());
        self.targets.set(
            m.targets
                .iter()
                .map(|t| {
                    let Target { account, model } = t.target.clone();
                    (account, model, t.weight.to_string())
                })
                .collect(),
        );
    }

    fn read(self) -> Result<LogicalModel, Problem> {
        Ok(LogicalModel {
            name: self.name.get_untracked().trim().to_string(),
            description: self.description.get_untracked(),
            capabilities: self
                .capabilities
                .get_untracked()
                .into_iter()
                .collect::<Capabilities>(),
            defaults: Defaults {
                temperature: optional_number(
                    &self.temperature.get_untracked(),
                    "defaults.temperature",
                )?,
                max_tokens: optional_number(
                    &self.max_tokens.get_untracked(),
                    "defaults.max_tokens",
                )?,
                top_p: optional_number(&self.top_p.get_untracked(), "defaults.top_p")?,
                stop: split_list(&self.stop.get_untracked()),
            },
            strategy: self.strategy.get_untracked(),
            targets: self
                .targets
                .get_untracked()
                .into_iter()
                .enumerate()
                .map(|(i, (account, model, weight))| {
                    let weight = optional_number(&weight, &format!("targets[{i}].weight"))?;
                    Ok(ModelTarget {
                        target: Target {
                            account,
                            model: model.trim().to_string(),
                        },
                        weight: weight.unwrap_or(DEFAULT_WEIGHT),
                    })
                })
                .collect::<Result<_, Problem>>()?,
            retries: optional_number(&self.retries.get_untracked(), "retries")?.unwrap_or(0),
            cache: optional_number(&self.cache_ttl.get_untracked(), "cache.ttl_seconds")?.map(
                |ttl_seconds| CacheSettings {
                    ttl_seconds,
                    scope: self.cache_scope.get_untracked(),
                    nonzero_temperature: self.cache_nonzero_temperature.get_untracked(),
                },
            ),
        })
    }
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    let save = ServerAction::<SaveModel>::new();
    let delete = ServerAction::<DeleteModel>::new();
    let can_edit = use_can(Role::Editor);
    let models = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_models(),
    );
    let accounts = Resource::new(|| (), |_| list_accounts());
    let policies = Resource::new(move || delete.version().get(), |_| list_policies());
    let fields = Fields::new();
    let editor = Editor::new(save.value());
    let confirm = Confirm::new(delete.value());
    let add = move || {
        fields.fill(None);
        editor.add();
    };
    let dependents = Callback::new(move |name: String| {
        policies
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                p.routed_models().any(|m| *m == name) || p.criteria.logical_models.contains(&name)
            })
            .map(|p| format!("policy {} routes to or matches it", p.name))
            .collect::<Vec<_>>()
    });
    view! {
        <section class="page">
            <PageHeader title="Logical models"
                description="The names apps ask for. Each is served by its targets, in the order its strategy gives each request.">
                <AddButton label="Add logical model" show=can_edit on_add=add/>
            </PageHeader>
            {loaded(models, "No logical model yet. Add one, naming the provider account and model that serve it.", move |list| {
                view! { <ModelTable list fields editor confirm can_edit/> }
            })}
            // Inside a Transition, so the server waits for the role before rendering the editor.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    // The account list is awaited, so the target pickers never render empty.
                    {move || Suspend::new(async move {
                        let account_names: Vec<String> = accounts
                            .await
                            .map(|list| list.into_iter().map(|a| a.name).collect())
                            .unwrap_or_default();
                        view! { <ModelEditor fields editor save account_names/> }
                    })}
                    <ConfirmDialog confirm noun="logical model" dependents
                        pending=delete.pending()
                        on_confirm=move |name| { delete.dispatch(DeleteModel { name }); }/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
fn ModelTable(
    list: Vec<LogicalModel>,
    fields: Fields,
    editor: Editor,
    confirm: Confirm,
    can_edit: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="models-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th><th scope="col">"Strategy"</th><th scope="col">"Targets"</th>
                        <th scope="col">"Capabilities"</th><th scope="col">"Defaults"</th><th scope="col">"Cache"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|m| {
                        let caps = m.capabilities.iter().map(|c| view! { <span class="tag">{c.to_string()}</span> }).collect_view();
                        let weighted = m.strategy == Strategy::Weighted;
                        let separator = if m.strategy == Strategy::Ordered { " → " } else { " · " };
                        // Each target's account is a link to its page.
                        let targets = m.targets.iter().enumerate().map(|(i, t)| view! {
                            {(i > 0).then_some(separator)}
                            <span class="target">
                                <a href=account_href(&t.target.account)>{t.target.account.clone()}</a>
                                {format!("/{}", t.target.model)}
                                {weighted.then(|| format!(" ×{}", t.weight))}
                            </span>
                        }).collect_view();
                        let retries = match m.retries {
                            0 => "no retries".to_string(),
                            1 => "1 retry per target".to_string(),
                            n => format!("{n} retries per target"),
                        };
                        let defaults = defaults_text(&m.defaults);
                        let cache = match m.cache {
                            None => view! { <span class="muted">"off"</span> }.into_any(),
                            Some(c) => view! {
                                <span>{format!("{} s", c.ttl_seconds)}</span>
                                <span class="cell-detail">{match c.scope {
                                    CacheScope::Key => "per key",
                                    CacheScope::Shared => "shared by keys",
                                }}{if c.nonzero_temperature { ", any temperature" } else { "" }}</span>
                            }.into_any(),
                        };
                        let (name, edit) = (m.name.clone(), m.clone());
                        let on_edit = Callback::new(move |()| {
                            fields.fill(Some(&edit));
                            editor.edit(edit.name.clone());
                        });
                        view! {
                            <tr data-name=name.clone()>
                                <td>
                                    <a class="strong" href=model_href(&m.name)>{m.name.clone()}</a>
                                    {(!m.description.is_empty()).then(|| view! { <span class="cell-detail">{m.description.clone()}</span> })}
                                </td>
                                <td title=m.strategy.describe()>
                                    <span class="tag">{m.strategy.as_str()}</span>
                                    <span class="cell-detail">{retries}</span>
                                </td>
                                <td class="mono wrap">{targets}</td>
                                <td><span class="tags">{caps}</span></td>
                                <td class="muted">{defaults}</td>
                                <td data-testid="model-cache">{cache}</td>
                                <RowActions name=name.clone() show=can_edit on_edit confirm/>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn ModelEditor(
    fields: Fields,
    editor: Editor,
    save: ServerAction<SaveModel>,
    account_names: Vec<String>,
) -> impl IntoView {
    let submit = move || {
        let model = fields.read()?;
        save.dispatch(SaveModel {
            original_name: editor.original(),
            model,
        });
        Ok(())
    };
    let input = move |id, label, field, value| text_input(editor, id, label, field, value);
    view! {
        <EditorDialog editor add_title="Add a logical model" test_id="model-form"
            submit_label="Save model" pending=save.pending() on_submit=submit>
            {input("model-name", "Name", "name", fields.name)}
            {input("model-description", "Description", "description", fields.description)}
            {checkbox_group("Capabilities", Capability::ALL, |c| c.as_str(), fields.capabilities)}
            <div class="field">
                <label for="model-strategy">"Load balancing strategy"</label>
                <select id="model-strategy" on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse() { fields.strategy.set(v); }
                }>
                    {Strategy::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || fields.strategy.get() == s>{s.as_str()}</option>
                    }).collect_view()}
                </select>
                <p class="field-hint muted">{move || fields.strategy.get().describe()}</p>
                <p class="field-error" data-field="strategy">{editor.error_at("strategy")}</p>
            </div>
            <div class="field">
                <label for="model-retries">{format!("Retries on the same target (0–{MAX_RETRIES})")}</label>
                <input id="model-retries" type="number" min="0" max=MAX_RETRIES.to_string()
                    prop:value=move || fields.retries.get()
                    on:input=move |ev| fields.retries.set(event_target_value(&ev))/>
                <p class="field-hint muted">"After a connect error, timeout or 5xx before any output, with a short random pause; then the next target."</p>
                <p class="field-error" data-field="retries">{editor.error_at("retries")}</p>
            </div>
            <fieldset class="field wide">
                <legend>{move || if fields.strategy.get() == Strategy::Ordered {
                    "Targets, in the order they are tried"
                } else {
                    "Targets (the order breaks ties; the weight counts under weighted)"
                }}</legend>
                <p class="field-error" data-field="targets">{editor.error_at("targets")}</p>
                {move || {
                    let account_names = account_names.clone();
                    let rows = fields.targets.get();
                    let count = rows.len();
                    rows.into_iter().enumerate().map(|(i, (account, model, weight))| {
                        let names = account_names.clone();
                        let field = format!("targets[{i}].account");
                        let model_field = format!("targets[{i}].model");
                        let weight_field = format!("targets[{i}].weight");
                        view! {
                            <div class="target-row" data-testid="target-row">
                                <span class="chip-rank">{i + 1}</span>
                                <select aria-label=format!("Account of target {}", i + 1)
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        fields.targets.update(|t| if let Some(row) = t.get_mut(i) { row.0 = v; });
                                    }>
                                    <option value="" selected=account.is_empty()>"Choose an account"</option>
                                    {names.into_iter().map(|n| {
                                        let selected = n == account;
                                        view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
                                    }).collect_view()}
                                </select>
                                <input type="text" placeholder="provider model, e.g. gpt-4o"
                                    aria-label=format!("Provider model of target {}", i + 1)
                                    prop:value=model
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        fields.targets.update(|t| if let Some(row) = t.get_mut(i) { row.1 = v; });
                                    }/>
                                <input type="number" min="0" class="weight-input" title="Weight: its share of the traffic under the weighted strategy"
                                    aria-label=format!("Weight of target {}", i + 1)
                                    prop:value=weight
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        fields.targets.update(|t| if let Some(row) = t.get_mut(i) { row.2 = v; });
                                    }/>
                                <button type="button" class="icon-button" disabled=i == 0
                                    aria-label=format!("Move target {} up", i + 1)
                                    on:click=move |_| fields.targets.update(|t| t.swap(i, i - 1))>"↑"</button>
                                <button type="button" class="icon-button" disabled=i + 1 == count
                                    aria-label=format!("Move target {} down", i + 1)
                                    on:click=move |_| fields.targets.update(|t| t.swap(i, i + 1))>"↓"</button>
                                <button type="button" class="icon-button"
                                    aria-label=format!("Remove target {}", i + 1)
                                    on:click=move |_| fields.targets.update(|t| { t.remove(i); })>"×"</button>
                                <p class="field-error" data-field=field.clone()>{editor.error_at(field.clone())}</p>
                                <p class="field-error" data-field=model_field.clone()>{editor.error_at(model_field.clone())}</p>
                                <p class="field-error" data-field=weight_field.clone()>{editor.error_at(weight_field.clone())}</p>
                            </div>
                        }
                    }).collect_view()
                }}
                <button type="button" class="small"
                    on:click=move |_| fields.targets.update(|t| t.push((String::new(), String::new(), DEFAULT_WEIGHT.to_string())))>"Add target"</button>
            </fieldset>
            {input("model-temperature", "Default temperature (0–2)", "defaults.temperature", fields.temperature)}
            {input("model-max-tokens", "Default max tokens", "defaults.max_tokens", fields.max_tokens)}
            {input("model-top-p", "Default top-p (0–1)", "defaults.top_p", fields.top_p)}
            {input("model-stop", "Stop sequences (comma-separated, up to 4)", "defaults.stop", fields.stop)}
            <fieldset class="field wide">
                <legend>"Response cache"</legend>
                <p class="field-hint muted">"An identical request is answered from the cache, at no cost. Empty: off."</p>
                {input("model-cache-ttl", "Keep answers for (seconds)", "cache.ttl_seconds", fields.cache_ttl)}
                <p class="field-hint muted">{format!("1 to {MAX_CACHE_TTL_SECONDS} seconds (a week)")}</p>
                <div class="field">
                    <label for="model-cache-scope">"Shared between keys"</label>
                    <select id="model-cache-scope" on:change=move |ev| {
                        fields.cache_scope.set(if event_target_value(&ev) == "shared" { CacheScope::Shared } else { CacheScope::Key });
                    }>
                        <option value="key" selected=move || fields.cache_scope.get() == CacheScope::Key>"No: each key has its own answers"</option>
                        <option value="shared" selected=move || fields.cache_scope.get() == CacheScope::Shared>"Yes: every key gets the cached answer"</option>
                    </select>
                </div>
                <label class="check">
                    <input type="checkbox" id="model-cache-temperature"
                        prop:checked=move || fields.cache_nonzero_temperature.get()
                        on:change=move |ev| fields.cache_nonzero_temperature.set(event_target_checked(&ev))/>
                    "Also cache requests with a temperature above 0 (their answers would vary)"
                </label>
            </fieldset>
        </EditorDialog>
    }
}
