//! Router policies in evaluation order with their live counters and circuit states (kept
//! current by the live stream), the editor for one, and the "which policy matches?" tester.

use crate::api::models::list_models;
use crate::api::policies::{
    list_policies, policy_arm_stats, policy_live_status, ArmStats, DeletePolicy, LivePolicy,
    SavePolicy, WhichPolicy, ARM_STATS_HOURS,
};
use crate::app::components::{
    checkbox_group, compact, form_error, grouped, loaded, money, optional_number, text_input,
    use_can, AddButton, Chooser, Confirm, ConfirmDialog, Editor, EditorDialog, PageHeader, Problem,
    RowActions,
};
use crate::app::pages::dashboard::{model_href, policy_href};
use crate::domain::{
    CircuitBreakerSettings, CircuitState, MatchCriteria, Money, Policy, Purpose, Role, SplitArm,
    StepType, MAX_SPLIT_ARMS,
};
use leptos::prelude::*;

/// The policy's own fields.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    priority: RwSignal<String>,
    enabled: RwSignal<bool>,
    step_types: RwSignal<Vec<StepType>>,
    purposes: RwSignal<Vec<Purpose>>,
    models: RwSignal<Vec<String>>,
    route: RwSignal<Vec<String>>,
    /// Canary arms: each one's route and weight; an arm without a route is left out.
    arms: [(RwSignal<Vec<String>>, RwSignal<String>); MAX_SPLIT_ARMS],
    threshold: RwSignal<String>,
    recovery: RwSignal<String>,
}

/// Each arm's Chooser needs its id, label and error fields as constants.
const ARM_FIELDS: [(&str, &str, &str, &str); MAX_SPLIT_ARMS] = [
    (
        "policy-arm-1",
        "Arm 1 route",
        "split[0].route",
        "split[0].weight",
    ),
    (
        "policy-arm-2",
        "Arm 2 route",
        "split[1].route",
        "split[1].weight",
    ),
    (
        "policy-arm-3",
        "Arm 3 route",
        "split[2].route",
        "split[2].weight",
    ),
    (
        "policy-arm-4",
        "Arm 4 route",
        "split[3].route",
        "split[3].weight",
    ),
];

impl Fields {
    fn new() -> Self {
        let fields = Fields {
            name: RwSignal::new(String::new()),
            priority: RwSignal::new(String::new()),
            enabled: RwSignal::new(true),
            step_types: RwSignal::new(vec![]),
            purposes: RwSignal::new(vec![]),
            models: RwSignal::new(vec![]),
            route: RwSignal::new(vec![]),
            arms: std::array::from_fn(|_| (RwSignal::new(vec![]), RwSignal::new(String::new()))),
            threshold: RwSignal::new(String::new()),
            recovery: RwSignal::new(String::new()),
        };
        fields.fill(None);
        fields
    }

    /// Loads `policy`, or the blank form for a new one.
    fn fill(&self, policy: Option<&Policy>) {
        let blank = Policy {
            name: String::new(),
            priority: 0,
            enabled: true,
            criteria: MatchCriteria::default(),
            route: vec![],
            split: vec![],
            circuit_breaker: CircuitBreakerSettings::default(),
        };
        let p = policy.unwrap_or(&blank);
        self.name.set(p.name.clone());
        self.priority.set(p.priority.to_string());
        self.enabled.set(p.enabled);
        self.step_types.set(p.criteria.step_types.clone());
        self.purposes.set(p.criteria.purposes.clone());
        self.models.set(p.criteria.logical_models.clone());
        self.route.set(p.route.clone());
        for (i, (route, weight)) in self.arms.iter().enumerate() {
            let arm = p.split.get(i);
            route.set(arm.map(|a| a.route.clone()).unwrap_or_default());
            weight.set(arm.map(|a| a.weight.to_string()).unwrap_or_default());
        }
        self.threshold
            .set(p.circuit_breaker.failure_threshold.to_string());
        self.recovery
            .set(p.circuit_breaker.recovery_seconds.to_string());
    }

    fn read(self) -> Result<Policy, Problem> {
        let required = |field: &str, text: RwSignal<String>| {
            optional_number(&text.get_untracked(), field)?
                .ok_or_else(|| (field.to_string(), "must not be empty".to_string()))
        };
        Ok(Policy {
            name: self.name.get_untracked().trim().to_string(),
            priority: optional_number(&self.priority.get_untracked(), "priority")?.unwrap_or(0),
            enabled: self.enabled.get_untracked(),
            criteria: MatchCriteria {
                step_types: self.step_types.get_untracked(),
                purposes: self.purposes.get_untracked(),
                logical_models: self.models.get_untracked(),
            },
            route: self.route.get_untracked(),
            split: self
                .arms
                .iter()
                .zip(ARM_FIELDS)
                .filter(|((route, _), _)| !route.with_untracked(Vec::is_empty))
                .map(|((route, weight), (_, _, _, weight_field))| {
                    Ok(SplitArm {
                        route: route.get_untracked(),
                        weight: optional_number(&weight.get_untracked(), weight_field)?
                            .unwrap_or(1),
                    })
                })
                .collect::<Result<_, Problem>>()?,
            circuit_breaker: CircuitBreakerSettings {
                failure_threshold: required("circuit_breaker.failure_threshold", self.threshold)?,
                recovery_seconds: required("circuit_breaker.recovery_seconds", self.recovery)?,
            },
        })
    }
}

/// `a, b`, or `any` (named) when the list is empty.
fn names<T: ToString>(items: &[T], any: &str) -> String {
    if items.is_empty() {
        any.to_string()
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
    let models = Resource::new(|| (), |_| list_models());
    // The server renders the live cells once; the stream keeps them current.
    let live = Resource::new(|| (), |_| policy_live_status());
    let stream = crate::api::live::use_live();
    // The arms' figures come from the ledger: read again when the stream says usage was written.
    let arms = Resource::new(
        move || stream.get().map(|figures| figures.written),
        |_| policy_arm_stats(),
    );
    let fields = Fields::new();
    let editor = Editor::new(save.value());
    let confirm = Confirm::new(delete.value());
    let add = move || {
        fields.fill(None);
        editor.add();
    };
    view! {
        <section class="page">
            <PageHeader title="Router policies"
                description="Evaluated top to bottom: enabled policies by priority (highest first, ties by name). The first that matches a request gives its route.">
                <AddButton label="Add policy" show=can_edit on_add=add/>
            </PageHeader>
            {loaded(policies, "No router policy yet. Without one, each request goes to its logical model's own targets.", move |list| {
                view! { <PolicyTable list live stream fields editor confirm can_edit/> }
            })}
            <ArmComparison arms/>
            <Tester models/>
            // Inside a Transition, so the server waits for the role before rendering the editor.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    {move || Suspend::new(async move {
                        let model_names: Vec<String> = models
                            .await
                            .map(|list| list.into_iter().map(|m| m.name).collect())
                            .unwrap_or_default();
                        view! { <PolicyEditor fields editor save model_names/> }
                    })}
                    <ConfirmDialog confirm noun="policy" dependents=|_| Vec::new()
                        pending=delete.pending()
                        on_confirm=move |name| { delete.dispatch(DeletePolicy { name }); }/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
fn PolicyTable(
    list: Vec<Policy>,
    live: Resource<Result<Vec<LivePolicy>, crate::api::ApiError>>,
    stream: ReadSignal<Option<crate::api::live::LiveFigures>>,
    fields: Fields,
    editor: Editor,
    confirm: Confirm,
    can_edit: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="policies-table">
                <thead><tr>
                    <th scope="col" class="num">"Priority"</th><th scope="col">"Name"</th>
                    <th scope="col">"Matches"</th><th scope="col">"Route"</th>
                    <th scope="col">"Breaker"</th>
                    <th scope="col" class="num" title="Requests matched since the server started; attempts that succeeded, failed, or were fallbacks">"Traffic"</th>
                    <th scope="col">"Circuits"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|p| {
                        let edit = p.clone();
                        let on_edit = Callback::new(move |()| {
                            fields.fill(Some(&edit));
                            editor.edit(edit.name.clone());
                        });
                        let (name, live_name) = (p.name.clone(), p.name.clone());
                        let criteria = [
                            names(&p.criteria.step_types, "any step type"),
                            names(&p.criteria.purposes, "any purpose"),
                            names(&p.criteria.logical_models, "any model"),
                        ]
                        .join(" · ");
                        view! {
                            <tr data-name=name.clone() class:disabled=!p.enabled>
                                <td class="num">{p.priority}</td>
                                <td>
                                    <a class="strong" href=policy_href(&p.name)>{p.name.clone()}</a>
                                    {(!p.enabled).then(|| view! { <span class="badge muted-badge">"disabled"</span> })}
                                </td>
                                <td class="muted">{criteria}</td>
                                <td class="route">{route_cell(&p)}</td>
                                <td class="nowrap">{format!("{} failures", p.circuit_breaker.failure_threshold)}<span class="cell-detail">{format!("then open {} s", p.circuit_breaker.recovery_seconds)}</span></td>
                                <Transition fallback=|| view! { <td></td><td></td> }>
                                    {
                                        move || {
                                            let name = live_name.clone();
                                            Suspend::new(async move {
                                                // The list still shows when the live figures fail to load.
                                                let first = live.await.unwrap_or_default();
                                                move || {
                                                    let now = stream.with(|s| s.as_ref().map(|f| f.policies.clone())).unwrap_or_else(|| first.clone());
                                                    live_cells(now.iter().find(|l| l.name == name))
                                                }
                                            })
                                        }
                                    }
                                </Transition>
                                <RowActions name=name.clone() show=can_edit on_edit confirm/>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The route, or each canary arm with its share of the traffic.
fn route_cell(p: &Policy) -> impl IntoView {
    let models = |route: &[String]| {
        route
            .iter()
            .map(|m| view! { <a class="mono" href=model_href(m)>{m.clone()}</a> })
            .collect_view()
    };
    if p.split.is_empty() {
        return models(&p.route).into_any();
    }
    let total: u32 = p.split.iter().map(|a| a.weight).sum();
    p.split
        .iter()
        .map(|arm| {
            let share = f64::from(arm.weight) * 100.0 / f64::from(total.max(1));
            view! {
                <div class="arm" data-arm=arm.name().to_string()>
                    <span class="badge">{format!("{share:.0} %")}</span>" "{models(&arm.route)}
                </div>
            }
        })
        .collect_view()
        .into_any()
}

/// The arms of each split policy side by side over the last day, from the usage ledger: the
/// comparison a canary is run for. Nothing shows while no policy splits its traffic.
#[component]
fn ArmComparison(arms: Resource<Result<Vec<ArmStats>, crate::api::ApiError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let arms = arms.await.unwrap_or_default();
                let mut policies: Vec<String> = arms.iter().map(|a| a.policy.clone()).collect();
                policies.dedup();
                (!arms.is_empty()).then(|| view! {
                    <div class="card table-card" data-testid="canary-arms">
                        <h2>{format!("Canary splits, last {ARM_STATS_HOURS} hours")}</h2>
                        <p class="muted">"Each arm's requests, how many got an answer, how fast and at what cost, side by side."</p>
                        {policies.into_iter().map(|policy| {
                            let rows: Vec<ArmStats> = arms.iter().filter(|a| a.policy == policy).cloned().collect();
                            let total: u64 = rows.iter().map(|a| a.requests).sum();
                            view! {
                                <h3>{policy.clone()}</h3>
                                <table class="table" data-policy=policy>
                                    <thead><tr>
                                        <th scope="col">"Arm"</th><th scope="col">"Route"</th>
                                        <th scope="col" class="num">"Configured share"</th>
                                        <th scope="col" class="num">"Requests"</th>
                                        <th scope="col" class="num">"Success rate"</th>
                                        <th scope="col" class="num">"Avg latency"</th>
                                        <th scope="col" class="num">"Cost"</th>
                                        <th scope="col" class="num">"Cost / request"</th>
                                    </tr></thead>
                                    <tbody>{rows.into_iter().map(|a| arm_row(a, total)).collect_view()}</tbody>
                                </table>
                            }
                        }).collect_view()}
                    </div>
                })
            })}
        </Transition>
    }
}

#[allow(clippy::cast_precision_loss)] // display only
fn arm_row(a: ArmStats, total: u64) -> impl IntoView {
    let percent = |part: u64, whole: u64| {
        (whole > 0).then(|| format!("{:.1} %", part as f64 * 100.0 / whole as f64))
    };
    let none = || "—".to_string();
    let per_request = (a.requests > 0).then(|| {
        money(Money::from_micros(
            a.cost.micros() / i64::try_from(a.requests).unwrap_or(i64::MAX),
        ))
    });
    view! {
        <tr data-arm=a.arm.clone()>
            <td class="strong mono">{a.arm.clone()}</td>
            <td class="mono">{a.route.join(" → ")}</td>
            <td class="num">{format!("{:.0} %", a.share_percent)}<span class="cell-detail">{format!("weight {}", a.weight)}</span></td>
            <td class="num">{grouped(a.requests)}<span class="cell-detail">{percent(a.requests, total).map(|p| format!("{p} of traffic"))}</span></td>
            <td class="num">{percent(a.successes, a.requests).unwrap_or_else(none)}</td>
            <td class="num">{a.avg_latency_ms.map(|ms| format!("{} ms", grouped(ms))).unwrap_or_else(none)}</td>
            <td class="num">{money(a.cost)}</td>
            <td class="num">{per_request.unwrap_or_else(none)}</td>
        </tr>
    }
}

/// The policy's counters since the server started, and each route target's circuit.
fn live_cells(live: Option<&LivePolicy>) -> impl IntoView {
    let Some(live) = live else {
        // Disabled policies get no traffic, so the router keeps nothing for them.
        return view! { <td class="muted num">"—"</td><td class="muted">"—"</td> }.into_any();
    };
    let counters = format!("{} matched", compact(live.matches));
    let attempts = format!(
        "{} ok · {} errors · {} fallbacks · {} retries",
        compact(live.successes),
        compact(live.errors),
        compact(live.fallbacks),
        compact(live.retries)
    );
    // All closed is the normal case: one badge. Otherwise only the targets that are not.
    let tripped: Vec<_> = live
        .targets
        .iter()
        .filter(|t| t.circuit != CircuitState::Closed)
        .collect();
    let circuits = if tripped.is_empty() {
        let all = live.targets.len();
        view! { <span class="badge ok" title="Every target of the route accepts traffic">{format!("● all {all} closed")}</span> }
            .into_any()
    } else {
        tripped
            .into_iter()
            .map(|t| {
                let (badge, word) = match t.circuit {
                    CircuitState::HalfOpen => ("badge warn", "▲ half-open"),
                    _ => ("badge bad", "✕ open"),
                };
                let reopens = t
                    .reopens_at_ms
                    .filter(|_| t.circuit == CircuitState::Open)
                    .and_then(|ms| i64::try_from(ms).ok())
                    .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
                    // To the second: recovery windows are often under a minute.
                    .map(|at| format!("until {}", at.format("%H:%M:%S UTC")));
                view! {
                    <div class="circuit" data-target=t.target.clone()>
                        <span class=badge>{word}</span>" "
                        <span class="mono">{t.target.clone()}</span>
                        <span class="cell-detail">{reopens}</span>
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <td class="num" data-testid="policy-stats">{counters}<span class="cell-detail">{attempts}</span></td>
        <td>{circuits}</td>
    }
    .into_any()
}

#[component]
fn Tester(
    models: Resource<Result<Vec<crate::domain::LogicalModel>, crate::api::ApiError>>,
) -> impl IntoView {
    let which = ServerAction::<WhichPolicy>::new();
    let step_type = RwSignal::new(StepType::Inference);
    let purpose = RwSignal::new(Purpose::Chat);
    let model = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        which.dispatch(WhichPolicy {
            step_type: step_type.get_untracked(),
            purpose: purpose.get_untracked(),
            model: model.get_untracked(),
        });
    };
    let model_error = move || {
        which
            .value()
            .with(|v| v.as_ref()?.as_ref().err()?.for_field("model"))
    };
    let result = move || {
        which.value().get().and_then(Result::ok).map(|m| {
            let policy = m.policy.unwrap_or_else(|| "no policy: the model's own targets".into());
            let drawn = m.arm.clone();
            view! {
                <div class="tester-result" data-testid="tester-result">
                    <p>"Winning policy: " <strong>{policy}</strong></p>
                    {(!m.arms.is_empty()).then(|| view! {
                        <p>"Canary split; this draw took arm " <strong class="mono">{drawn.clone()}</strong></p>
                        <ul class="arms">{m.arms.into_iter().map(|a| view! { <li class="mono">{a}</li> }).collect_view()}</ul>
                    })}
                    <p class="muted">"Strategy: " {m.strategies.join("; ")}</p>
                    <ol class="candidates">{m.candidates.into_iter().map(|c| {
                        // `target (from model): why`
                        let (target, why) = match c.split_once("): ") {
                            Some((target, why)) => (format!("{target})"), why.to_string()),
                            None => (c, String::new()),
                        };
                        view! { <li><span class="mono">{target}</span>" "<span class="muted">{why}</span></li> }
                    }).collect_view()}</ol>
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
            <p class="muted">"The route a request would take now, and why each target has its place: the strategies read live latency, load and budgets, and limits and circuits rule targets out. Random strategies and splits show one draw."</p>
            <form class="toolbar" on:submit=submit>
                <div class="field">
                    <label for="tester-step">"Step type"</label>
                    <select id="tester-step" on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse() { step_type.set(v); }
                    }>
                        {StepType::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="tester-purpose">"Purpose"</label>
                    <select id="tester-purpose" on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse() { purpose.set(v); }
                    }>
                        {Purpose::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.as_str()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="tester-model">"Requested model"</label>
                    <select id="tester-model" on:change=move |ev| model.set(event_target_value(&ev))>
                        <option value="">"Choose a logical model"</option>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                models.await.unwrap_or_default().into_iter().map(|m| {
                                    view! { <option value=m.name.clone()>{m.name.clone()}</option> }
                                }).collect_view()
                            })}
                        </Transition>
                    </select>
                </div>
                <button type="submit">"Test"</button>
            </form>
            <p class="field-error" data-field="model">{model_error}</p>
            <p class="form-error" role="alert">{form_error(which.value())}</p>
            {result}
        </div>
    }
}

#[component]
fn PolicyEditor(
    fields: Fields,
    editor: Editor,
    save: ServerAction<SavePolicy>,
    model_names: Vec<String>,
) -> impl IntoView {
    let submit = move || {
        let policy = fields.read()?;
        save.dispatch(SavePolicy {
            original_name: editor.original(),
            policy,
        });
        Ok(())
    };
    let input = move |id, label, field, value| text_input(editor, id, label, field, value);
    view! {
        <EditorDialog editor add_title="Add a policy" test_id="policy-form"
            submit_label="Save policy" pending=save.pending() on_submit=submit>
            {input("policy-name", "Name", "name", fields.name)}
            {input("policy-priority", "Priority (highest first)", "priority", fields.priority)}
            {checkbox_group("Step types (none ticked: any)", StepType::ALL, |s| s.as_str(), fields.step_types)}
            {checkbox_group("Purposes (none ticked: any)", Purpose::ALL, |p| p.as_str(), fields.purposes)}
            <Chooser id="policy-models" label="Requested models" field="match.logical_models"
                options=model_names.clone() chosen=fields.models none_means="Any model: the policy matches whatever model is requested."
                editor/>
            <Chooser id="policy-route" label="Route: primary, then fallbacks" field="route"
                options=model_names.clone() chosen=fields.route ordered=true
                none_means="No single route: the canary split below gives each request its route."
                editor/>
            <fieldset class="field wide">
                <legend>"Canary split (optional): each request takes one arm, in proportion to the weights"</legend>
                <p class="field-error" data-field="split">{editor.error_at("split")}</p>
                {fields.arms.into_iter().zip(ARM_FIELDS).enumerate().map(|(i, ((route, weight), (id, label, field, weight_field)))| {
                    let options = model_names.clone();
                    // The third and fourth arm show once the one before has a route.
                    let shown = move || i < 2 || !fields.arms[i - 1].0.with(Vec::is_empty);
                    view! {
                        <Show when=shown>
                            <div class="arm-row">
                                <Chooser id label field options=options.clone() chosen=route ordered=true
                                    none_means="Unused arm." editor/>
                                <div class="field">
                                    <label for=format!("{id}-weight")>"Weight"</label>
                                    <input id=format!("{id}-weight") type="number" min="0" class="weight-input"
                                        prop:value=move || weight.get()
                                        on:input=move |ev| weight.set(event_target_value(&ev))/>
                                    <p class="field-error" data-field=weight_field>{editor.error_at(weight_field)}</p>
                                </div>
                            </div>
                        </Show>
                    }
                }).collect_view()}
            </fieldset>
            {input("policy-threshold", "Circuit breaker: failures to open", "circuit_breaker.failure_threshold", fields.threshold)}
            {input("policy-recovery", "Circuit breaker: seconds open", "circuit_breaker.recovery_seconds", fields.recovery)}
            <label class="check">
                <input type="checkbox" prop:checked=move || fields.enabled.get()
                    on:change=move |ev| fields.enabled.set(event_target_checked(&ev))/>
                "Enabled"
            </label>
        </EditorDialog>
    }
}
