//! Team members: admins create users with a role, change roles, disable and re-enable
//! accounts and reset passwords. Other roles see the server's refusal.

use crate::api::users::{list_users, ChangeRole, CreateUser, ResetPassword, SetUserDisabled};
use crate::app::components::{
    field_error, form_error, AddButton, Editor, EditorDialog, LoadError, Loading, PageHeader,
};
use crate::domain::{Role, UserView, PASSWORD_MIN};
use leptos::prelude::*;

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let change = ServerAction::<ChangeRole>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                change.version().get(),
                disable.version().get(),
                reset.version().get(),
            )
        },
        |_| list_users(),
    );
    let row_error = move || {
        form_error(change.value())()
            .or_else(form_error(disable.value()))
            .or_else(form_error(reset.value()))
            .or_else(field_error(reset.value(), "password"))
    };
    let reset_done = move || matches!(reset.value().get(), Some(Ok(())));
    let editor = Editor::new(create.value());
    // Only admins get this far: the list itself is refused to everyone else.
    let is_admin = Signal::derive(move || users.get().is_some_and(|u| u.is_ok()));

    view! {
        <section class="page">
            <PageHeader title="Users"
                description="Who may sign in, and with which role: viewers read, editors also change models, policies and prices, admins everything.">
                <AddButton label="Add user" show=is_admin on_add=move || editor.add()/>
            </PageHeader>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) => view! {
                            <p class="form-error" role="alert" data-testid="users-error">{row_error}</p>
                            <Show when=reset_done>
                                <p class="notice ok">"Password changed."</p>
                            </Show>
                            <UserTable list change disable reset/>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
            // Outside the list, so reloading the list after an answer keeps what was typed.
            <NewUserDialog create editor/>
        </section>
    }
}

#[component]
fn UserTable(
    list: Vec<UserView>,
    change: ServerAction<ChangeRole>,
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="users-table">
                <thead>
                    <tr>
                        <th>"User"</th>
                        <th>"Role"</th>
                        <th>"Status"</th>
                        <th>"Password"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|user| {
                            let UserView { id, username, role, disabled, single_sign_on, .. } = user;
                            let (id_for_role, id_for_access) = (id.clone(), id.clone());
                            let role_label = format!("Role of {username}");
                            let password_label = format!("New password for {username}");
                            let row_key = username.clone();
                            view! {
                                <tr data-username=row_key>
                                    <td>{username}</td>
                                    <td>
                                        <ActionForm action=change attr:class="inline">
                                            <input type="hidden" name="id" value=id_for_role/>
                                            <select name="role" aria-label=role_label>
                                                {Role::ALL
                                                    .into_iter()
                                                    .map(|r| view! {
                                                        <option value=r.as_str() selected=r == role>{r.as_str()}</option>
                                                    })
                                                    .collect_view()}
                                            </select>
                                            <button type="submit" class="small">"Change role"</button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        <ActionForm action=disable attr:class="inline">
                                            <input type="hidden" name="id" value=id_for_access/>
                                            <input type="hidden" name="disabled" value=(!disabled).to_string()/>
                                            <span class=if disabled { "badge off" } else { "badge on" }>
                                                {if disabled { "disabled" } else { "active" }}
                                            </span>
                                            <button type="submit" class="small">
                                                {if disabled { "Enable" } else { "Disable" }}
                                            </button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        {if single_sign_on {
                                            view! { <span class="muted">"Signs in with single sign-on"</span> }.into_any()
                                        } else {
                                            view! {
                                                <ActionForm action=reset attr:class="inline">
                                                    <input type="hidden" name="id" value=id/>
                                                    <input
                                                        type="password"
                                                        name="password"
                                                        placeholder="New password"
                                                        autocomplete="new-password"
                                                        aria-label=password_label
                                                        minlength=PASSWORD_MIN
                                                        required
                                                    />
                                                    <button type="submit" class="small">"Reset"</button>
                                                </ActionForm>
                                            }
                                            .into_any()
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

/// The dialog that adds a user; the fields keep what was typed when the server refuses it.
#[component]
fn NewUserDialog(create: ServerAction<CreateUser>, editor: Editor) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let submit = move || {
        create.dispatch(CreateUser {
            username: username.get_untracked(),
            password: password.get_untracked(),
            role: role.get_untracked(),
        });
        Ok(())
    };
    view! {
        <EditorDialog editor add_title="Add a user" test_id="user-form" submit_label="Create user"
            pending=create.pending() on_submit=submit>
            <div class="field">
                <label for="new-username">"User name"</label>
                <input id="new-username" type="text" autocomplete="off" prop:value=move || username.get()
                    on:input=move |ev| username.set(event_target_value(&ev))/>
                <p class="field-error" data-testid="username-error">{editor.error_at("username")}</p>
            </div>
            <div class="field">
                <label for="new-password">{format!("Password (at least {PASSWORD_MIN} characters)")}</label>
                <input id="new-password" type="password" autocomplete="new-password" prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))/>
                <p class="field-error" data-testid="password-error">{editor.error_at("password")}</p>
            </div>
            <div class="field wide">
                <label for="new-role">"Role"</label>
                <select id="new-role" on:change=move |ev| {
                    if let Ok(r) = event_target_value(&ev).parse() { role.set(r); }
                }>
                    <option value="viewer">"viewer: reads everything except secrets"</option>
                    <option value="editor">"editor: also changes models, policies and prices"</option>
                    <option value="admin">"admin: everything, including credentials and users"</option>
                </select>
            </div>
        </EditorDialog>
    }
}
