//! The audit log: who changed what and when, before and after (secrets redacted on the server).

use crate::api::audit::list_audit;
use crate::app::components::{format_time, LoadError};
use leptos::prelude::*;

#[component]
pub fn AuditPage() -> impl IntoView {
    let entries = Resource::new(|| (), |_| list_audit(None));
    view! {
        <section class="page">
            <h1>"Audit log"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted card">"No change has been made yet."</p> }.into_any()
                        }
                        Ok(list) => view! {
                            <div class="card table-card">
                                <table class="table" data-testid="audit-table">
                                    <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Before"</th><th>"After"</th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|e| view! {
                                            <tr>
                                                <td>{format_time(e.at)}</td>
                                                <td>{e.actor}</td>
                                                <td>{format!("{} {} {}", e.action, e.entity_kind, e.entity_name)}</td>
                                                <td class="mono">{e.before.unwrap_or_default()}</td>
                                                <td class="mono">{e.after.unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
