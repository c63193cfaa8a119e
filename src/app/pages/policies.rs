//! Router policies in evaluation order with their live counters and circuit states (refreshed
//! every few seconds), a form to create or edit one, and the "which policy matches?" tester.

use crate::api::policies::{
    list_policies, policy_live_status, DeletePolicy, LivePolicy, SavePolicy, WhichPolicy,
};
use crate::app::components::{
    form_error, message_for, optional_number, split_list, text_field, use_can, use_tick, LoadError,
    LocalError,
};
use crate::domain::{
    CircuitBreakerSettings, CircuitState, MatchCriteria, Policy, Purpose, Role, SplitArm, StepType,
};
use leptos::prelude::*;
use std::time::Duration;

/// How often the page refetches the live figures.
const LIVE_REFRESH: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
struct Form {
    original: RwSignal<Option<String>>,
    name: RwSignal<String>,
    priority: RwSignal<String>,
    enabled: RwSignal<bool>,
    step_types: RwSignal<Vec<StepType>>,
    purposes: RwSignal<Vec<Purpose>>,
    models: RwSignal<String>,
    route: RwSignal<String>,
    split: RwSignal<Vec<SplitArm>>,
    threshold: RwSignal<String>,
    recovery: RwSignal<String>,
}

impl Form {
    fn new() -> Self {
        let breaker = CircuitBreakerSettings::default();
        Form {
            original: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            priority: RwSignal::new("0".into()),
            enabled: RwSignal::new(true),
            step_types: RwSignal::new(vec![]),
            purposes: RwSignal::new(vec![]),
            models: RwSignal::new(String::new()),
            route: RwSignal::new(String::new()),
            split: RwSignal::new(vec![]),
            threshold: RwSignal::new(breaker.failure_threshold.to_string()),
            recovery: RwSignal::new(breaker.recovery_seconds.to_string()),
        }
    }

    fn load(&self, p: &Policy) {
        self.original.set(Some(p.name.clone()));
        self.name.set(p.name.clone());
        self.priority.set(p.priority.to_string());
        self.enabled.set(p.enabled);
        self.step_types.set(p.criteria.step_types.clone());
        self.purposes.set(p.criteria.purposes.clone());
        self.models.set(p.criteria.logical_models.join(", "));
        self.route.set(p.route.join(", "));
        self.split.set(p.split.clone());
        self.threshold
            .set(p.circuit_breaker.failure_threshold.to_string());
        self.recovery
            .set(p.circuit_breaker.recovery_seconds.to_string());
    }

    fn reset(&self) {
        let fresh = Form::new();
        self.original.set(None);
        self.name.set(String::new());
        self.priority.set(fresh.priority.get_untracked());
        self.enabled.set(true);
        self.step_types.set(vec![]);
        self.purposes.set(vec![]);
        self.models.set(String::new());
        self.route.set(String::new());
        self.split.set(vec![]);
        self.threshold.set(fresh.threshold.get_untracked());
        self.recovery.set(fresh.recovery.get_untracked());
    }

    fn to_policy(self) -> Result<Policy, (String, String)> {
        let required = |n: Option<u32>, field: &str| {
            n.ok_or_else(|| (field.to_string(), "must not be empty".to_string()))
        };
        Ok(Policy {
            name: self.name.get_untracked().trim().to_string(),
            priority: optional_number(&self.priority.get_untracked(), "priority")?.unwrap_or(0),
            enabled: self.enabled.get_untracked(),
            criteria: MatchCriteria {
                step_types: self.step_types.get_untracked(),
                purposes: self.purposes.get_untracked(),
                logical_models: split_list(&self.models.get_untracked()),
            },
            route: split_list(&self.route.get_untracked()),
            split: self.split.get_untracked(),
            circuit_breaker: CircuitBreakerSettings {
                failure_threshold: required(
                    optional_number(
                        &self.threshold.get_untracked(),
                        "circuit_breaker.failure_threshold",
                    )?,
                    "circuit_breaker.failure_threshold",
                )?,
                recovery_seconds: required(
                    optional_number(
                        &self.recovery.get_untracked(),
                        "circuit_breaker.recovery_seconds",
                    )?,
                    "circuit_breaker.recovery_seconds",
                )?,
            },
        })
    }
}

fn names<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        "any".to_string()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let save = ServerAction::<SavePolicy>::new();
    let delete = ServerAction::<DeletePolicy>::new();
    let can_edit = use_can(Role::Editor);
    let policies = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_policies(),
    );
    let tick = use_tick(LIVE_REFRESH);
    let live = Resource::new(move || tick.get(), |_| policy_live_status());
    let form = Form::new();
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            form.reset();
        }
    });
    view! {
        <section class="page">
            <h1>"Router policies"</h1>
            <p class="muted">"Evaluated top to bottom: enabled policies by priority (highest first, ties by name). The first that matches gives the route."</p>
            <p class="form-error" role="alert">{form_error(delete.value())}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    // The list still shows when the live figures fail to load; the cells stay empty.
                    let live = live.await.unwrap_or_default();
                    match policies.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted card">"No router policy is configured yet."</p> }.into_any()
                        }
                        Ok(list) => view! {
                            <div class="card table-card">
                                <table class="table" data-testid="policies-table">
                                    <thead><tr>
                                        <th>"Priority"</th><th>"Name"</th><th>"Step types"</th><th>"Purposes"</th>
                                        <th>"Models"</th><th>"Route"</th><th>"Breaker"</th><th>"Enabled"</th>
                                        <th>"Matches / successes / errors / fallbacks"</th><th>"Circuits"</th><th></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|p| {
                                            let (row, edit, gone) = (p.name.clone(), p.clone(), p.name.clone());
                                            view! {
                                                <tr data-name=row>
                                                    <td>{p.priority}</td>
                                                    <td>{p.name.clone()}</td>
                                                    <td>{names(&p.criteria.step_types)}</td>
                                                    <td>{names(&p.criteria.purposes)}</td>
                                                    <td>{names(&p.criteria.logical_models)}</td>
                                                    <td>{p.route.join(" → ")}</td>
                                                    <td>{format!("{} failures, {} s", p.circuit_breaker.failure_threshold, p.circuit_breaker.recovery_seconds)}</td>
                                                    <td>{if p.enabled { "yes" } else { "no" }}</td>
                                                    {live_cells(live.iter().find(|l| l.name == p.name))}
                                                    <td>
                                                        <Show when=move || can_edit.get()>
                                                            {
                                                                let (edit, gone) = (edit.clone(), gone.clone());
                                                                view! {
                                                                    <button class="small" on:click=move |_| form.load(&edit)>"Edit"</button>
                                                                    <button class="small danger" on:click=move |_| { delete.dispatch(DeletePolicy { name: gone.clone() }); }>"Delete"</button>
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
            <Tester/>
            // Inside a Transition, so the server waits for the role before rendering the form.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    <PolicyEditor form save/>
                </Show>
            </Transition>
        </section>
    }
}

/// The policy's counters since the server started, and each route target's circuit.
fn live_cells(live: Option<&LivePolicy>) -> impl IntoView {
    let Some(live) = live else {
        // Disabled policies get no traffic, so the router keeps nothing for them.
        return view! { <td class="muted">"—"</td><td class="muted">"—"</td> }.into_any();
    };
    let counters = format!(
        "{} / {} / {} / {}",
        live.matches, live.successes, live.errors, live.fallbacks
    );
    let circuits = live
        .targets
        .iter()
        .map(|t| {
            let badge = match t.circuit {
                CircuitState::Closed => "badge on",
                CircuitState::HalfOpen => "badge warn",
                CircuitState::Open => "badge off",
            };
            let reopens = t
                .reopens_at_ms
                .filter(|_| t.circuit == CircuitState::Open)
                .and_then(|ms| i64::try_from(ms).ok())
                .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
                // To the second: recovery windows are often under a minute.
                .map(|at| format!(" until {}", at.format("%H:%M:%S UTC")));
            view! {
                <li data-target=t.target.clone()>
                    <span class="mono">{t.target.clone()}</span>" "
                    <span class=badge>{t.circuit.to_string()}</span>
                    {reopens}
                </li>
            }
        })
        .collect_view();
    view! {
        <td data-testid="policy-stats">{counters}</td>
        <td><ul class="plain">{circuits}</ul></td>
    }
    .into_any()
}

#[component]
fn Tester() -> impl IntoView {
    let which = ServerAction::<WhichPolicy>::new();
    let step_type = RwSignal::new(StepType::Inference);
    let purpose = RwSignal::new(Purpose::Chat);
    let model = RwSignal::new(String::new());
    let local: LocalError = RwSignal::new(None);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        which.dispatch(WhichPolicy {
            step_type: step_type.get_untracked(),
            purpose: purpose.get_untracked(),
            model: model.get_untracked().trim().to_string(),
        });
    };
    let result = move || {
        which.value().get().and_then(Result::ok).map(|m| {
            let policy = m.policy.unwrap_or_else(|| "no policy: the model's own targets".into());
            view! {
                <div data-testid="tester-result">
                    <p>"Winning policy: " <strong>{policy}</strong></p>
                    <ol>{m.candidates.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ol>
                    {(!m.skipped.is_empty()).then(|| view! {
                        <p class="muted">"Skipped: " {m.skipped.join("; ")}</p>
                    })}
                </div>
            }
        })
    };
    view! {
        <div class="card">
            <h2>"Which policy matches?"</h2>
            <form class="inline" on:submit=submit>
                <select aria-label="Step type" on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse() { step_type.set(v); }
                }>
                    {StepType::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
                <select aria-label="Purpose" on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse() { purpose.set(v); }
                }>
                    {Purpose::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.as_str()}</option> }).collect_view()}
                </select>
                <input type="text" placeholder="requested model, e.g. primary-llm" aria-label="Requested model"
                    prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev))/>
                <button type="submit" class="small">"Test"</button>
            </form>
            <p class="field-error" data-field="model">{message_for(which.value(), local, "model")}</p>
            <p class="form-error" role="alert">{form_error(which.value())}</p>
            {result}
        </div>
    }
}

#[component]
fn PolicyEditor(form: Form, save: ServerAction<SavePolicy>) -> impl IntoView {
    let local: LocalError = RwSignal::new(None);
    let value = save.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match form.to_policy() {
            Ok(policy) => {
                local.set(None);
                save.dispatch(SavePolicy {
                    original_name: form.original.get_untracked(),
                    policy,
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
        None => "Add a policy".to_string(),
    };
    view! {
        <div class="card">
            <h2>{title}</h2>
            <form class="grid-form" on:submit=submit data-testid="policy-form">
                {field("policy-name", "Name", "name", form.name)}
                {field("policy-priority", "Priority (highest first)", "priority", form.priority)}
                <fieldset class="field">
                    <legend>"Step types (none ticked: any)"</legend>
                    {StepType::ALL.into_iter().map(|s| view! {
                        <label class="check">
                            <input type="checkbox" prop:checked=move || form.step_types.get().contains(&s)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    form.step_types.update(|l| { l.retain(|x| *x != s); if on { l.push(s); } });
                                }/>
                            {s.as_str()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <fieldset class="field">
                    <legend>"Purposes (none ticked: any)"</legend>
                    {Purpose::ALL.into_iter().map(|p| view! {
                        <label class="check">
                            <input type="checkbox" prop:checked=move || form.purposes.get().contains(&p)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    form.purposes.update(|l| { l.retain(|x| *x != p); if on { l.push(p); } });
                                }/>
                            {p.as_str()}
                        </label>
                    }).collect_view()}
                </fieldset>
                {field("policy-models", "Requested models (comma-separated; empty: any)", "match.logical_models[0]", form.models)}
                {field("policy-route", "Route: primary, then fallbacks (comma-separated)", "route", form.route)}
                <p class="field-error" data-field="route[0]">{message_for(value, local, "route[0]")}</p>
                {field("policy-threshold", "Circuit breaker: failures to open", "circuit_breaker.failure_threshold", form.threshold)}
                {field("policy-recovery", "Circuit breaker: seconds open", "circuit_breaker.recovery_seconds", form.recovery)}
                <label class="check">
                    <input type="checkbox" prop:checked=move || form.enabled.get()
                        on:change=move |ev| form.enabled.set(event_target_checked(&ev))/>
                    "Enabled"
                </label>
                <p class="form-error" role="alert">{form_error(value)}</p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || save.pending().get()>"Save policy"</button>
                    <button type="button" on:click=move |_| form.reset()>"Clear"</button>
                </div>
            </form>
        </div>
    }
}
