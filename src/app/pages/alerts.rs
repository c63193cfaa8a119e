//! Alerts raised by the server, newest first, and (for admins) the webhook they are sent to.

use crate::api::alerts::{get_alert_webhook, list_alerts, AcknowledgeAlert, SetAlertWebhook};
use crate::app::components::{
    field_error, form_error, use_can, LoadError, Loading, PageHeader, Time,
};
use crate::app::pages::dashboard::{account_href, key_href};
use crate::domain::{AlertView, Role};
use leptos::prelude::*;

#[component]
pub fn AlertsPage() -> impl IntoView {
    let is_admin = use_can(Role::Admin);
    let can_acknowledge = use_can(Role::Editor);
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    let alerts = Resource::new(move || acknowledge.version().get(), |_| list_alerts());
    view! {
        <section class="page">
            <PageHeader title="Alerts"
                description="An account's spend crossing a threshold of its monthly budget (50, 80 and 100 % by default) raises one alert per threshold and month. A circuit that opens, an account that turns unhealthy and usage that cannot reach the database raise an alert that resolves by itself when it recovers. Acknowledging an alert takes it out of the banner."/>
            <p class="form-error" role="alert">{form_error(acknowledge.value())}</p>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match alerts.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <div class="card empty-state" data-testid="alerts-empty"><p>"No alert has been raised."</p></div>
                        }
                        .into_any(),
                        Ok(list) => view! { <AlertTable list can_acknowledge acknowledge/> }.into_any(),
                    }
                })}
            </Transition>
            // Inside a Transition, so a server-rendered page waits for the role before deciding.
            <Transition fallback=|| ()>
                <Show when=move || is_admin.get()>
                    <WebhookForm/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
pub fn AlertTable(
    list: Vec<AlertView>,
    can_acknowledge: Signal<bool>,
    acknowledge: ServerAction<AcknowledgeAlert>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="alerts-table">
                <thead>
                    <tr>
                        <th>"Raised"</th>
                        <th>"Kind"</th>
                        <th>"Account"</th>
                        <th>"Message"</th>
                        <th>"State"</th>
                        <th>"Acknowledged"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|alert| {
                            let state = match (alert.kind.as_str(), alert.resolved_at) {
                                ("budget", _) => view! { <span>{format!("{} % of {}", alert.threshold, alert.month)}</span> }.into_any(),
                                (_, Some(at)) => view! { <span>"resolved "<Time millis=at/></span> }.into_any(),
                                (_, None) => view! { <span>"open"</span> }.into_any(),
                            };
                            let open = alert.kind != "budget" && alert.resolved_at.is_none();
                            let id = alert.id.clone();
                            let acknowledged = alert.acknowledged_by.clone();
                            view! {
                                <tr data-testid="alert-row" class:alert-open=open>
                                    <td><Time millis=alert.at/></td>
                                    <td>{alert.kind_label()}</td>
                                    <td>{if alert.account.is_empty() {
                                        view! { <span class="muted">"—"</span> }.into_any()
                                    } else if alert.is_about_key() {
                                        view! { <a href=key_href(&alert.account)>{alert.account.clone()}</a> }.into_any()
                                    } else {
                                        view! { <a href=account_href(&alert.account)>{alert.account.clone()}</a> }.into_any()
                                    }}</td>
                                    <td>{alert.message.clone()}</td>
                                    <td>{state}</td>
                                    <td>
                                        {match acknowledged {
                                            Some(by) => view! { <span class="muted">{format!("by {by}")}</span> }.into_any(),
                                            None => view! {
                                                <Show when=move || can_acknowledge.get() fallback=|| view! { <span class="muted">"no"</span> }>
                                                    <button
                                                        class="small"
                                                        data-testid="acknowledge"
                                                        disabled=move || acknowledge.pending().get()
                                                        on:click={
                                                            let id = id.clone();
                                                            move |_| { acknowledge.dispatch(AcknowledgeAlert { id: id.clone() }); }
                                                        }
                                                    >"Acknowledge"</button>
                                                </Show>
                                            }.into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn WebhookForm() -> impl IntoView {
    let save = ServerAction::<SetAlertWebhook>::new();
    let current = Resource::new(move || save.version().get(), |_| get_alert_webhook());
    let url_error = field_error(save.value(), "url");
    let error = form_error(save.value());
    let saved = move || match save.value().get() {
        Some(Ok(Some(_))) => Some("Webhook saved; new alerts are POSTed to it as JSON."),
        Some(Ok(None)) => Some("Webhook removed; alerts are only shown here."),
        _ => None,
    };
    view! {
        <div class="card">
            <h2>"Webhook"</h2>
            <p class="muted">"Each new alert is POSTed as JSON to this URL, retried with backoff if it fails. Leave it empty to turn the webhook off."</p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let url = current.await.ok().flatten().unwrap_or_default();
                    view! {
                        <ActionForm action=save attr:class="grid-form">
                            <div class="field">
                                <label for="webhook-url">"Webhook URL"</label>
                                <input id="webhook-url" name="url" type="url" autocomplete="off" value=url placeholder="https://hooks.example.com/switchyard"/>
                                <p class="field-error" data-testid="webhook-error">{url_error}</p>
                            </div>
                            <p class="form-error" role="alert">{error}</p>
                            {move || saved().map(|message| view! { <p class="notice ok">{message}</p> })}
                            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save webhook"</button>
                        </ActionForm>
                    }
                })}
            </Transition>
        </div>
    }
}
