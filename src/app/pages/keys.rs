//! Gateway keys: the list (last four characters only), create with the key shown once, revoke.

use crate::api::keys::{list_keys, CreateKey, KeyView, RevokeKey};
use crate::api::models::list_models;
use crate::app::components::{
    loaded, text_input, use_can, AddButton, Chooser, Confirm, ConfirmDialog, Editor, EditorDialog,
    PageHeader, Problem, RowActions, Time,
};
use crate::domain::Role;
use leptos::prelude::*;

/// A new key's own fields.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    models: RwSignal<Vec<String>>,
    /// `YYYY-MM-DD`, from a date input; empty never expires.
    expires: RwSignal<String>,
}

impl Fields {
    fn new() -> Self {
        Fields {
            name: RwSignal::new(String::new()),
            models: RwSignal::new(Vec::new()),
            expires: RwSignal::new(String::new()),
        }
    }

    fn clear(&self) {
        self.name.set(String::new());
        self.models.set(Vec::new());
        self.expires.set(String::new());
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
        })
    }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let is_admin = use_can(Role::Admin);
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_keys(),
    );
    let models = Resource::new(|| (), |_| list_models());
    let fields = Fields::new();
    let editor = Editor::new(create.value());
    let confirm = Confirm::new(revoke.value());
    let add = move || {
        fields.clear();
        editor.add();
    };
    let shown_once = move || {
        create.value().get().and_then(Result::ok).map(|created| {
            view! {
                <div class="notice ok" data-testid="new-key" role="status">
                    <p>{format!("Key {} created. Copy it now; it will not be shown again:", created.view.name)}</p>
                    <code class="secret">{created.key}</code>
                </div>
            }
        })
    };
    view! {
        <section class="page">
            <PageHeader title="Gateway keys"
                description="Apps call the /v1 API with one of these keys. Only the last four characters are kept in view.">
                <AddButton label="New key" show=is_admin on_add=add/>
            </PageHeader>
            {shown_once}
            {loaded(keys, "No gateway key yet. Create one for each app or team that calls the /v1 API.", move |list| {
                view! { <KeyTable list confirm is_admin/> }
            })}
            // Inside a Transition, so the server waits for the role before rendering the editor.
            <Transition fallback=|| ()>
                <Show when=move || is_admin.get()>
                    {move || Suspend::new(async move {
                        let model_names: Vec<String> = models
                            .await
                            .map(|list| list.into_iter().map(|m| m.name).collect())
                            .unwrap_or_default();
                        view! { <KeyEditor fields editor create model_names/> }
                    })}
                    <ConfirmDialog confirm noun="key" verb="Revoke" dependents=|_| Vec::new()
                        consequence="Apps using it are refused at once. A revoked key cannot be restored."
                        pending=revoke.pending()
                        on_confirm=move |name| { revoke.dispatch(RevokeKey { name }); }/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
fn KeyTable(list: Vec<KeyView>, confirm: Confirm, is_admin: Signal<bool>) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="keys-table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Allowed models"</th>
                    <th scope="col">"Created"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|k| {
                        let revoked = k.revoked;
                        let models = if k.models.is_empty() {
                            view! { <span class="muted">"all"</span> }.into_any()
                        } else {
                            view! { <span class="tags">{k.models.iter().map(|m| view! { <span class="tag">{m.clone()}</span> }).collect_view()}</span> }.into_any()
                        };
                        let when = |at: Option<i64>| match at {
                            Some(at) => view! { <Time millis=at/> }.into_any(),
                            None => view! { <span class="muted">"never"</span> }.into_any(),
                        };
                        view! {
                            <tr data-name=k.name.clone() class:disabled=revoked>
                                <td><a class="strong" href=format!("/keys/{}", k.name)>{k.name.clone()}</a></td>
                                <td class="mono key-tail">{format!("sk-sy-…{}", k.last4)}</td>
                                <td>{models}</td>
                                <td><Time millis=k.created_at/></td>
                                <td>{when(k.expires_at)}</td>
                                <td>{when(k.last_used_at)}</td>
                                <td>{if revoked {
                                    view! { <span class="badge bad">"✕ revoked"</span> }
                                } else {
                                    view! { <span class="badge ok">"● active"</span> }
                                }}</td>
                                <RowActions name=k.name.clone() show=Signal::derive(move || is_admin.get() && !revoked)
                                    confirm delete_label="Revoke"/>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn KeyEditor(
    fields: Fields,
    editor: Editor,
    create: ServerAction<CreateKey>,
    model_names: Vec<String>,
) -> impl IntoView {
    let submit = move || {
        create.dispatch(fields.read()?);
        Ok(())
    };
    view! {
        <EditorDialog editor add_title="Create a gateway key" test_id="key-form"
            submit_label="Create key" pending=create.pending() on_submit=submit>
            {text_input(editor, "key-name", "Name", "name", fields.name)}
            <div class="field">
                <label for="key-expires">"Expires (optional)"</label>
                <input id="key-expires" type="date" prop:value=move || fields.expires.get()
                    on:input=move |ev| fields.expires.set(event_target_value(&ev))/>
                <p class="field-error" data-field="expires_at">{editor.error_at("expires_at")}</p>
            </div>
            <Chooser id="key-models" label="Allowed logical models" field="models"
                options=model_names chosen=fields.models
                none_means="All models: the key may use every logical model." editor/>
        </EditorDialog>
    }
}
