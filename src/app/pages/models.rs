//! Logical models: the list, and a form to create or edit one with its ordered targets.

use crate::api::accounts::list_accounts;
use crate::api::models::{list_models, DeleteModel, SaveModel};
use crate::app::components::{
    form_error, message_for, optional_number, split_list, use_can, LoadError, LocalError,
};
use crate::domain::{
    Capabilities, Capability, Defaults, LogicalModel, ModelTarget, Role, Strategy, Target,
    DEFAULT_WEIGHT,
};
use leptos::prelude::*;

#[derive(Clone, Copy)]
struct ModelForm {
    original: RwSignal<Option<String>>,
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
}

impl ModelForm {
    fn new() -> Self {
        ModelForm {
            original: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            description: RwSignal::new(String::new()),
            capabilities: RwSignal::new(vec![Capability::Streaming]),
            temperature: RwSignal::new(String::new()),
            max_tokens: RwSignal::new(String::new()),
            top_p: RwSignal::new(String::new()),
            stop: RwSignal::new(String::new()),
            strategy: RwSignal::new(Strategy::Ordered),
            retries: RwSignal::new("0".into()),
            targets: RwSignal::new(vec![new_target_row()]),
        }
    }

    fn load(&self, m: &LogicalModel) {
        let show = |n: Option<String>| n.unwrap_or_default();
        self.original.set(Some(m.name.clone()));
        self.name.set(m.name.clone());
        self.description.set(m.description.clone());
        self.capabilities.set(m.capabilities.iter().collect());
        self.temperature
            .set(show(m.defaults.temperature.map(|t| t.to_string())));
        self.max_tokens
            .set(show(m.defaults.max_tokens.map(|t| t.to_string())));
        self.top_p
            .set(show(m.defaults.top_p.map(|t| t.to_string())));
        self.stop.set(m.defaults.stop.join(", "));
        self.strategy.set(m.strategy);
        self.retries.set(m.retries.to_string());
        self.targets.set(
            m.targets
                .iter()
                .map(|t| {
                    (
                        t.target.account.clone(),
                        t.target.model.clone(),
                        t.weight.to_string(),
                    )
                })
                .collect(),
        );
    }

    fn reset(&self) {
        let fresh = ModelForm::new();
        self.original.set(None);
        self.name.set(fresh.name.get_untracked());
        self.description.set(String::new());
        self.capabilities.set(vec![Capability::Streaming]);
        for text in [self.temperature, self.max_tokens, self.top_p, self.stop] {
            text.set(String::new());
        }
        self.strategy.set(Strategy::Ordered);
        self.retries.set("0".into());
        self.targets.set(vec![new_target_row()]);
    }

    fn to_model(self) -> Result<LogicalModel, (String, String)> {
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
                    Ok(ModelTarget {
                        target: Target {
                            account,
                            model: model.trim().to_string(),
                        },
                        weight: optional_number(&weight, &format!("targets[{i}].weight"))?
                            .unwrap_or(DEFAULT_WEIGHT),
                    })
                })
                .collect::<Result<_, (String, String)>>()?,
            retries: optional_number(&self.retries.get_untracked(), "retries")?.unwrap_or(0),
        })
    }
}

fn new_target_row() -> (String, String, String) {
    (String::new(), String::new(), DEFAULT_WEIGHT.to_string())
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
    let form = ModelForm::new();
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            form.reset();
        }
    });
    let accounts = Resource::new(|| (), |_| list_accounts());
    let delete_error = form_error(delete.value());
    view! {
        <section class="page">
            <h1>"Logical models"</h1>
            <p class="form-error" role="alert">{delete_error}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match models.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted card">"No logical model is configured yet."</p> }.into_any()
                        }
                        Ok(list) => view! { <ModelTable list form delete can_edit/> }.into_any(),
                    }
                })}
            </Transition>
            // Inside a Transition, so the server waits for the role before rendering the form.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    // The account list is awaited, so the target pickers never render empty.
                    {move || Suspend::new(async move {
                        let account_names: Vec<String> = accounts
                            .await
                            .map(|list| list.into_iter().map(|a| a.name).collect())
                            .unwrap_or_default();
                        view! { <ModelEditor form save account_names/> }
                    })}
                </Show>
            </Transition>
        </section>
    }
}

#[component]
fn ModelTable(
    list: Vec<LogicalModel>,
    form: ModelForm,
    delete: ServerAction<DeleteModel>,
    can_edit: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="models-table">
                <thead>
                    <tr><th>"Name"</th><th>"Capabilities"</th><th>"Targets (in order)"</th><th>"Defaults"</th><th></th></tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|m| {
                        let caps = m.capabilities.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
                        let targets = m.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → ");
                        let defaults = serde_json::to_string(&m.defaults).unwrap_or_default();
                        let name = m.name.clone();
                        let row = name.clone();
                        view! {
                            <tr data-name=row>
                                <td>{m.name.clone()}</td>
                                <td>{caps}</td>
                                <td>{targets}</td>
                                <td class="mono">{defaults}</td>
                                <td>
                                    <Show when=move || can_edit.get()>
                                        {
                                            let (edit, gone) = (m.clone(), name.clone());
                                            view! {
                                                <button class="small" on:click=move |_| form.load(&edit)>"Edit"</button>
                                                <button class="small danger" on:click=move |_| {
                                                    delete.dispatch(DeleteModel { name: gone.clone() });
                                                }>"Delete"</button>
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
    }
}

#[component]
fn ModelEditor(
    form: ModelForm,
    save: ServerAction<SaveModel>,
    account_names: Vec<String>,
) -> impl IntoView {
    let local: LocalError = RwSignal::new(None);
    let value = save.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match form.to_model() {
            Ok(model) => {
                local.set(None);
                save.dispatch(SaveModel {
                    original_name: form.original.get_untracked(),
                    model,
                });
            }
            Err(problem) => local.set(Some(problem)),
        }
    };
    let title = move || match form.original.get() {
        Some(name) => format!("Edit {name}"),
        None => "Add a logical model".to_string(),
    };
    let text_field = move |id: &'static str,
                           label: &'static str,
                           field: &'static str,
                           signal: RwSignal<String>| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input id=id type="text" prop:value=move || signal.get()
                    on:input=move |ev| signal.set(event_target_value(&ev))/>
                <p class="field-error" data-field=field>{message_for(value, local, field)}</p>
            </div>
        }
    };
    view! {
        <div class="card">
            <h2>{title}</h2>
            <form class="grid-form" on:submit=submit data-testid="model-form">
                {text_field("model-name", "Name", "name", form.name)}
                {text_field("model-description", "Description", "description", form.description)}
                <fieldset class="field">
                    <legend>"Capabilities"</legend>
                    {Capability::ALL.into_iter().map(|c| view! {
                        <label class="check">
                            <input type="checkbox" name=c.as_str()
                                prop:checked=move || form.capabilities.get().contains(&c)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    form.capabilities.update(|list| {
                                        list.retain(|x| *x != c);
                                        if on { list.push(c); }
                                    });
                                }/>
                            {c.as_str()}
                        </label>
                    }).collect_view()}
                </fieldset>
                {text_field("model-temperature", "Temperature (0–2)", "defaults.temperature", form.temperature)}
                {text_field("model-max-tokens", "Max tokens", "defaults.max_tokens", form.max_tokens)}
                {text_field("model-top-p", "Top-p (0–1)", "defaults.top_p", form.top_p)}
                {text_field("model-stop", "Stop sequences (comma-separated, up to 4)", "defaults.stop", form.stop)}
                <fieldset class="field">
                    <legend>"Targets, in the order they are tried"</legend>
                    <p class="field-error" data-field="targets">{message_for(value, local, "targets")}</p>
                    {move || {
                        let account_names = account_names.clone();
                        let rows = form.targets.get();
                        let count = rows.len();
                        rows.into_iter().enumerate().map(|(i, (account, model, _))| {
                            let names = account_names.clone();
                            let field = format!("targets[{i}].account");
                            let model_field = format!("targets[{i}].model");
                            view! {
                                <div class="target-row" data-testid="target-row">
                                    <select aria-label=format!("Account of target {}", i + 1)
                                        on:change=move |ev| {
                                            let v = event_target_value(&ev);
                                            form.targets.update(|t| if let Some(row) = t.get_mut(i) { row.0 = v; });
                                        }>
                                        <option value="" selected=account.is_empty()>"— account —"</option>
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
                                            form.targets.update(|t| if let Some(row) = t.get_mut(i) { row.1 = v; });
                                        }/>
                                    <button type="button" class="small" disabled=i == 0
                                        on:click=move |_| form.targets.update(|t| t.swap(i, i - 1))>"↑"</button>
                                    <button type="button" class="small" disabled=i + 1 == count
                                        on:click=move |_| form.targets.update(|t| t.swap(i, i + 1))>"↓"</button>
                                    <button type="button" class="small"
                                        on:click=move |_| form.targets.update(|t| { t.remove(i); })>"Remove"</button>
                                    <p class="field-error" data-field=field.clone()>{message_for(value, local, field.clone())}</p>
                                    <p class="field-error" data-field=model_field.clone()>{message_for(value, local, model_field.clone())}</p>
                                </div>
                            }
                        }).collect_view()
                    }}
                    <button type="button" class="small"
                        on:click=move |_| form.targets.update(|t| t.push(new_target_row()))>"Add target"</button>
                </fieldset>
                <p class="form-error" role="alert">{form_error(value)}</p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || save.pending().get()>"Save model"</button>
                    <button type="button" on:click=move |_| form.reset()>"Clear"</button>
                </div>
            </form>
        </div>
    }
}
