//! Alerts raised by the server, newest first, and (for admins) the webhook they are sent to.

use crate::api::alerts::{get_alert_webhook, list_alerts, SetAlertWebhook};
use crate::app::components::{
    field_error, form_error, use_can, LoadError, Loading, PageHeader, Time,
};
use crate::domain::{AlertView, Role};
use leptos::prelude::*;

#[component]
pub fn AlertsPage() -> impl IntoView {
    let is_admin = use_can(Role::Admin);
    let alerts = Resource::new(|| (), |_| list_alerts());
    view! {
        <section class="page">
            <PageHeader title="Alerts"
                description="An account's spend crossing a threshold of its monthly budget (50, 80 and 100 % by default) raises one alert per threshold and month."/>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match alerts.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <div class="card empty-state" data-testid="alerts-empty"><p>"No alert has been raised."</p></div>
                        }
                        .into_any(),
                        Ok(list) => view! { <AlertTable list/> }.into_any(),
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
fn AlertTable(list: Vec<AlertView>) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="alerts-table">
                <thead>
                    <tr>
                        <th>"Time"</th>
                        <th>"Kind"</th>
                        <th>"Account"</th>
                        <th>"Month"</th>
                        <th>"Threshold"</th>
                        <th>"Message"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|alert| view! {
                            <tr>
                                <td><Time millis=alert.at/></td>
                                <td>{alert.kind}</td>
                                <td>{alert.account}</td>
                                <td>{alert.month}</td>
                                <td>{format!("{} %", alert.threshold)}</td>
                                <td>{alert.message}</td>
                            </tr>
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
