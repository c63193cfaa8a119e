//! The audit log: who changed what and when, as a readable diff of the fields that changed
//! (secrets are masked on the server), filtered by who, what and since when, a page at a time.

use crate::api::audit::{audit_actors, list_audit};
use crate::app::components::{loaded, PageHeader, Time};
use crate::domain::AuditEntry;
use leptos::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// Entries per page; the page keeps this size whatever the history holds.
const PAGE: usize = 25;

/// The resource kinds the log names, with their labels for the filter.
const KINDS: [(&str, &str); 7] = [
    ("account", "Provider accounts"),
    ("model", "Logical models"),
    ("policy", "Policies"),
    ("key", "Gateway keys"),
    ("price", "Prices"),
    ("alert-webhook", "Alert webhook"),
    ("user", "Users"),
];

/// The time filter: label and how many hours back (`None`: all time).
const PERIODS: [(&str, Option<i64>); 5] = [
    ("All time", None),
    ("Last hour", Some(1)),
    ("Last 24 hours", Some(24)),
    ("Last 7 days", Some(24 * 7)),
    ("Last 30 days", Some(24 * 30)),
];

/// One field of a change: where it is in the record, and its value before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldChange {
    field: String,
    before: Option<String>,
    after: Option<String>,
}

/// Flattens a record into `path: value` text, objects by dot and lists of objects by index;
/// a list of plain values stays one field.
fn flatten(path: String, value: &Value, out: &mut BTreeMap<String, String>) {
    let plain = |v: &Value| !matches!(v, Value::Object(_) | Value::Array(_));
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                flatten(join(key), v, out);
            }
        }
        Value::Array(items) if items.iter().all(plain) => {
            let list: Vec<String> = items.iter().map(text).collect();
            out.insert(path, format!("[{}]", list.join(", ")));
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(format!("{path}[{i}]"), v, out);
            }
        }
        other => {
            out.insert(path, text(other));
        }
    }
}

fn fields(json: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(value) = json.and_then(|j| serde_json::from_str::<Value>(j).ok()) {
        flatten(String::new(), &value, &mut out);
    }
    out
}

/// The fields that differ between two audit snapshots. For a create or a delete (one side
/// missing), the fields that are set.
fn diff(before: Option<&str>, after: Option<&str>) -> Vec<FieldChange> {
    let (old, new) = (fields(before), fields(after));
    let one_sided = before.is_none() || after.is_none();
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (b, a) = (old.get(name), new.get(name));
            let unset =
                |v: Option<&String>| v.is_none_or(|v| v.is_empty() || v == "—" || v == "[]");
            if b == a || (one_sided && unset(b) && unset(a)) {
                return None;
            }
            Some(FieldChange {
                field: name.clone(),
                before: b.cloned(),
                after: a.cloned(),
            })
        })
        .collect()
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let period = RwSignal::new(0usize);
    // The last entry of each page before this one; the page starts after the last of them.
    let cursors = RwSignal::new(Vec::<(i64, String)>::new());
    let entries = Resource::new(
        move || {
            (
                actor.get(),
                kind.get(),
                period.get(),
                cursors.get().last().cloned(),
            )
        },
        |(actor, kind, period, before)| {
            let since = PERIODS
                .get(period)
                .and_then(|(_, hours)| *hours)
                .map(|h| chrono::Utc::now().timestamp_millis() - h * 3_600_000);
            let (before_at, before_id) = before.unzip();
            // One more than a page, to know whether an older page exists.
            list_audit(
                Some(actor),
                Some(kind),
                since,
                before_at,
                before_id,
                i64::try_from(PAGE + 1).ok(),
            )
        },
    );
    let actors = Resource::new(|| (), |_| audit_actors());
    let refilter = move |apply: Box<dyn FnOnce()>| {
        apply();
        cursors.set(Vec::new());
    };
    view! {
        <section class="page">
            <PageHeader title="Audit log"
                description="Every configuration change: who made it, when, and what changed. Secrets are never shown."/>
            <div class="card">
                <form class="toolbar" aria-label="Filter the audit log" on:submit=|ev| ev.prevent_default()>
                    <div class="field">
                        <label for="audit-actor">"Who"</label>
                        <select id="audit-actor" on:change=move |ev| {
                            let v = event_target_value(&ev);
                            refilter(Box::new(move || actor.set(v)));
                        }>
                            <option value="">"Anyone"</option>
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    actors.await.unwrap_or_default().into_iter().map(|a| {
                                        view! { <option value=a.clone()>{a.clone()}</option> }
                                    }).collect_view()
                                })}
                            </Transition>
                        </select>
                    </div>
                    <div class="field">
                        <label for="audit-kind">"Resource"</label>
                        <select id="audit-kind" on:change=move |ev| {
                            let v = event_target_value(&ev);
                            refilter(Box::new(move || kind.set(v)));
                        }>
                            <option value="">"Everything"</option>
                            {KINDS.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="audit-period">"When"</label>
                        <select id="audit-period" on:change=move |ev| {
                            let v = event_target_value(&ev).parse().unwrap_or(0);
                            refilter(Box::new(move || period.set(v)));
                        }>
                            {PERIODS.into_iter().enumerate().map(|(i, (label, _))| view! { <option value=i.to_string()>{label}</option> }).collect_view()}
                        </select>
                    </div>
                </form>
            </div>
            {loaded(entries, "No change matches. Changes made on these pages or applied from a config file appear here.", move |list| {
                let older = list.len() > PAGE;
                let shown: Vec<AuditEntry> = list.into_iter().take(PAGE).collect();
                let last = shown.last().map(|e| (e.at, e.id.clone()));
                view! {
                    <AuditTable list=shown/>
                    <nav class="pager" aria-label="Audit log pages">
                        <button type="button" disabled=move || cursors.with(Vec::is_empty)
                            on:click=move |_| cursors.update(|c| { c.pop(); })>"← Newer"</button>
                        <span class="muted">{move || format!("Page {}", cursors.with(Vec::len) + 1)}</span>
                        <button type="button" disabled=!older
                            on:click=move |_| if let Some(last) = last.clone() { cursors.update(|c| c.push(last)); }>"Older →"</button>
                    </nav>
                }
            })}
        </section>
    }
}

#[component]
fn AuditTable(list: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table audit" data-testid="audit-table">
                <thead><tr>
                    <th scope="col">"When"</th><th scope="col">"Who"</th>
                    <th scope="col">"What"</th><th scope="col">"Changes"</th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|e| {
                        let changes = diff(e.before.as_deref(), e.after.as_deref());
                        // A create or a delete lists the whole record: it flows in lines.
                        let list_class = if e.before.is_some() && e.after.is_some() { "diff" } else { "diff flow" };
                        let badge = match e.action.as_str() {
                            "create" => "badge ok",
                            "delete" | "revoke" => "badge bad",
                            _ => "badge",
                        };
                        view! {
                            <tr>
                                <td><Time millis=e.at/></td>
                                <td class="nowrap">{e.actor.clone()}</td>
                                <td>
                                    // The words read "create account main" for search and tests.
                                    <span class=badge>{e.action.clone()}</span>" "
                                    <span class="muted">{e.entity_kind.clone()}</span>" "
                                    <span class="strong">{e.entity_name.clone()}</span>
                                </td>
                                <td>
                                    <ul class=list_class>
                                        {changes.into_iter().map(|c| view! {
                                            <li>
                                                <span class="diff-field">{c.field}</span>
                                                {match (c.before, c.after) {
                                                    (Some(b), Some(a)) => view! {
                                                        <del class="diff-old">{b}</del>
                                                        <span aria-hidden="true">" → "</span>
                                                        <ins class="diff-new">{a}</ins>
                                                    }.into_any(),
                                                    (None, Some(a)) => view! { <ins class="diff-new">{a}</ins> }.into_any(),
                                                    (Some(b), None) => view! { <del class="diff-old">{b}</del> }.into_any(),
                                                    (None, None) => ().into_any(),
                                                }}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_lists_only_the_changed_fields() {
        let before = r#"{"name":"m","defaults":{"max_tokens":256,"stop":[]},"targets":[{"account":"a","model":"x"}]}"#;
        let after = r#"{"name":"m","defaults":{"max_tokens":512,"stop":[]},"targets":[{"account":"b","model":"x"}]}"#;
        let changes = diff(Some(before), Some(after));
        assert_eq!(
            changes,
            vec![
                FieldChange {
                    field: "defaults.max_tokens".into(),
                    before: Some("256".into()),
                    after: Some("512".into()),
                },
                FieldChange {
                    field: "targets[0].account".into(),
                    before: Some("a".into()),
                    after: Some("b".into()),
                },
            ]
        );
    }

    #[test]
    fn a_create_lists_the_fields_that_are_set() {
        let after = r#"{"name":"k","key":"ends in 1234","models":["m"],"expires_at":null}"#;
        let changes = diff(None, Some(after));
        let names: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(names, ["key", "models", "name"]);
        assert_eq!(changes[1].after.as_deref(), Some("[m]"));
    }
}
