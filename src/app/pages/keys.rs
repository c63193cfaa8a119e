//! Gateway keys: the list (last four characters only), create with the key shown once, revoke.

use crate::api::keys::{list_keys, CreateKey, RevokeKey};
use crate::app::components::{
    form_error, format_time, message_for, split_list, use_can, LoadError, LocalError,
};
use crate::domain::Role;
use leptos::prelude::*;

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let is_admin = use_can(Role::Admin);
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_keys(),
    );
    view! {
        <section class="page">
            <h1>"Gateway keys"</h1>
            <p class="form-error" role="alert">{form_error(revoke.value())}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted card">"No gateway key exists yet."</p> }.into_any()
                        }
                        Ok(list) => view! {
                            <div class="card table-card">
                                <table class="table" data-testid="keys-table">
                                    <thead><tr>
                                        <th>"Name"</th><th>"Key"</th><th>"Models"</th><th>"Expires"</th>
                                        <th>"Last used"</th><th>"Status"</th><th></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|k| {
                                            let (row, gone) = (k.name.clone(), k.name.clone());
                                            let revoked = k.revoked;
                                            view! {
                                                <tr data-name=row>
                                                    <td><a href=format!("/keys/{}", k.name)>{k.name.clone()}</a></td>
                                                    <td class="mono">{format!("sk-sy-…{}", k.last4)}</td>
                                                    <td>{if k.models.is_empty() { "all".to_string() } else { k.models.join(", ") }}</td>
                                                    <td>{k.expires_at.map_or("never".to_string(), format_time)}</td>
                                                    <td>{k.last_used_at.map_or("never".to_string(), format_time)}</td>
                                                    <td>{if revoked { "revoked" } else { "active" }}</td>
                                                    <td>
                                                        <Show when=move || is_admin.get() && !revoked>
                                                            {
                                                                let gone = gone.clone();
                                                                view! {
                                                                    <button class="small danger" on:click=move |_| { revoke.dispatch(RevokeKey { name: gone.clone() }); }>"Revoke"</button>
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
            // Inside a Transition, so the server waits for the role before rendering the form.
            <Transition fallback=|| ()>
                <Show when=move || is_admin.get()>
                    <NewKeyForm create/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
fn NewKeyForm(create: ServerAction<CreateKey>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let models = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let local: LocalError = RwSignal::new(None);
    let value = create.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let expires_at = match expires.get_untracked().trim() {
            "" => None,
            day => match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(date) => date
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc().timestamp_millis()),
                Err(_) => {
                    local.set(Some((
                        "expires_at".into(),
                        "must be a date, YYYY-MM-DD".into(),
                    )));
                    return;
                }
            },
        };
        local.set(None);
        create.dispatch(CreateKey {
            name: name.get_untracked(),
            models: split_list(&models.get_untracked()),
            expires_at,
        });
    };
    let shown_once = move || {
        value.get().and_then(Result::ok).map(|created| {
            view! {
                <div class="notice ok" data-testid="new-key">
                    <p>"Copy this key now; it will not be shown again:"</p>
                    <code>{created.key}</code>
                </div>
            }
        })
    };
    view! {
        <div class="card">
            <h2>"Create a key"</h2>
            {shown_once}
            <form class="grid-form" on:submit=submit data-testid="key-form">
                <div class="field">
                    <label for="key-name">"Name"</label>
                    <input id="key-name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="name">{message_for(value, local, "name")}</p>
                </div>
                <div class="field">
                    <label for="key-models">"Allowed logical models (comma-separated; empty: all)"</label>
                    <input id="key-models" type="text" prop:value=move || models.get() on:input=move |ev| models.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="models">{message_for(value, local, "models")}</p>
                </div>
                <div class="field">
                    <label for="key-expires">"Expires (optional)"</label>
                    <input id="key-expires" type="date" prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="expires_at">{message_for(value, local, "expires_at")}</p>
                </div>
                <p class="form-error" role="alert">{form_error(value)}</p>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create key"</button>
            </form>
        </div>
    }
}
