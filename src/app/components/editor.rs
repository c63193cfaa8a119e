//! The one editor skeleton the configuration pages share: a page header with its "Add" button,
//! the list with its loading, error and empty states, a modal dialog around each resource's own
//! fields, row buttons, and a delete confirmation that names what depends on the record. A page
//! supplies only its fields, its columns and how to send them.

use super::LoadError;
use crate::api::ApiError;
use leptos::html;
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A problem the form itself found before sending (a number that is not one): field, message.
pub type Problem = (String, String);

/// One resource's editor: whether its dialog is open and for which record, and the errors to
/// show at each field (the form's own check first, then the server's answer).
#[derive(Clone, Copy)]
pub struct Editor {
    /// `None`: closed; `Some(None)`: adding; `Some(Some(name))`: editing `name`.
    open: RwSignal<Option<Option<String>>>,
    local: RwSignal<Option<Problem>>,
    server: Signal<Option<ApiError>>,
    forget: Callback<()>,
}

impl Editor {
    /// An editor over a save action's answers (`ServerAction::value()`); a successful save
    /// closes the dialog.
    pub fn new<T: Send + Sync + 'static>(
        answers: MappedSignal<Option<Result<T, ApiError>>>,
    ) -> Self {
        let editor = Editor {
            open: RwSignal::new(None),
            local: RwSignal::new(None),
            server: Signal::derive(move || answers.with(|a| a.as_ref()?.as_ref().err().cloned())),
            forget: Callback::new(move |()| answers.set(None)),
        };
        Effect::new(move |_| {
            if answers.with(|a| matches!(a, Some(Ok(_)))) {
                editor.open.set(None);
            }
        });
        editor
    }

    fn show(&self, original: Option<String>) {
        self.local.set(None);
        self.forget.run(());
        self.open.set(Some(original));
    }

    /// Opens the dialog for a new record.
    pub fn add(&self) {
        self.show(None);
    }

    /// Opens the dialog for the record named `name` (its fields are loaded by the caller).
    pub fn edit(&self, name: String) {
        self.show(Some(name));
    }

    pub fn close(&self) {
        self.open.set(None);
    }

    /// The name of the record being edited; `None` while adding.
    pub fn original(&self) -> Option<String> {
        self.open.get_untracked().flatten()
    }

    /// The message to show at `field`.
    pub fn error_at(
        &self,
        field: impl Into<String>,
    ) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
        let (local, server, field) = (self.local, self.server, field.into());
        move || {
            local
                .get()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| m)
                .or_else(|| server.with(|e| e.as_ref()?.for_field(&field)))
        }
    }

    /// The first message about `field` or one of its entries (`route[2]`), for a field that
    /// edits a list as a whole.
    pub fn error_under(
        &self,
        field: &'static str,
    ) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
        let (local, server) = (self.local, self.server);
        let under =
            move |f: &str| f == field || f.strip_prefix(field).is_some_and(|r| r.starts_with('['));
        move || {
            local
                .get()
                .filter(|(f, _)| under(f))
                .map(|(_, m)| m)
                .or_else(|| {
                    server.with(|e| match e {
                        Some(ApiError::Invalid { field: f, message }) if under(f) => {
                            Some(message.clone())
                        }
                        _ => None,
                    })
                })
        }
    }

    /// The server's answer when it is not about one field (forbidden, conflicts, outages).
    pub fn form_error(&self) -> Option<String> {
        self.server.with(|e| match e {
            Some(ApiError::Invalid { .. }) | None => None,
            Some(other) => Some(other.to_string()),
        })
    }
}

/// The page title, a sentence on what the page is for, and its main action.
#[component]
pub fn PageHeader(
    title: &'static str,
    #[prop(optional)] description: Option<&'static str>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <div>
                <h1>{title}</h1>
                {description.map(|d| view! { <p class="muted">{d}</p> })}
            </div>
            <div class="page-actions">{children.map(|c| c())}</div>
        </header>
    }
}

/// "Add …" in the page header, shown to those who may add.
#[component]
pub fn AddButton(
    label: &'static str,
    #[prop(into)] show: Signal<bool>,
    on_add: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        // Inside a Transition, so the server waits for the role before rendering it.
        <Transition fallback=|| ()>
            <Show when=move || show.get()>
                <button type="button" class="primary" on:click=move |_| on_add()>
                    <span aria-hidden="true">"+ "</span>{label}
                </button>
            </Show>
        </Transition>
    }
}

/// A list from the server with its loading, error and empty states; `render` draws the rows.
pub fn loaded<T, V>(
    list: Resource<Result<Vec<T>, ApiError>>,
    empty: &'static str,
    render: impl Fn(Vec<T>) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match list.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(items) if items.is_empty() => view! { <EmptyState text=empty/> }.into_any(),
                        Ok(items) => render(items).into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// Grey rows where the table will be, while it loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="card loading" role="status" aria-live="polite">
            <span class="visually-hidden">"Loading…"</span>
            <div class="skeleton"></div>
            <div class="skeleton"></div>
            <div class="skeleton"></div>
        </div>
    }
}

/// What an empty list means and what to do about it.
#[component]
pub fn EmptyState(text: &'static str) -> impl IntoView {
    view! {
        <div class="card empty-state" data-testid="empty-state">
            <p>{text}</p>
        </div>
    }
}

/// The modal dialog around a resource's fields. Escape, the close button and Cancel close it;
/// while open, the page behind is inert, so focus stays inside.
#[component]
pub fn EditorDialog(
    editor: Editor,
    /// The title while adding ("Add a logical model"); editing shows "Edit <name>".
    add_title: &'static str,
    /// The form's `data-testid`.
    test_id: &'static str,
    submit_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    /// Reads the fields and sends them; `Err` is a field the form itself found wrong.
    on_submit: impl Fn() -> Result<(), Problem> + 'static,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    Effect::new(move |_| {
        let open = editor.open.with(Option::is_some);
        if let Some(element) = dialog.get() {
            if open && !element.open() {
                // Fails only when the element is gone; then there is nothing to show.
                let _ = element.show_modal();
            } else if !open && element.open() {
                element.close();
            }
        }
    });
    let title = move || match editor.open.get() {
        Some(Some(name)) => format!("Edit {name}"),
        _ => add_title.to_string(),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        editor.local.set(on_submit().err());
    };
    let title_id = format!("{test_id}-title");
    view! {
        <dialog node_ref=dialog class="dialog" aria-labelledby=title_id.clone()
            on:close=move |_| editor.close()>
            <form on:submit=submit data-testid=test_id novalidate>
                <header class="dialog-head">
                    <h2 id=title_id.clone()>{title}</h2>
                    <button type="button" class="icon-button" aria-label="Close"
                        on:click=move |_| editor.close()>"×"</button>
                </header>
                <div class="dialog-body form-grid">{children()}</div>
                <footer class="dialog-foot">
                    <p class="form-error" role="alert">{move || editor.form_error()}</p>
                    <button type="button" on:click=move |_| editor.close()>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || pending.get()>{submit_label}</button>
                </footer>
            </form>
        </dialog>
    }
}

/// A delete (or revoke) waiting for confirmation: which record, and the action's answers.
#[derive(Clone, Copy)]
pub struct Confirm {
    target: RwSignal<Option<String>>,
    error: Signal<Option<String>>,
    forget: Callback<()>,
}

impl Confirm {
    /// Over a delete action's answers; a successful delete closes the question.
    pub fn new<T: Send + Sync + 'static>(
        answers: MappedSignal<Option<Result<T, ApiError>>>,
    ) -> Self {
        let confirm = Confirm {
            target: RwSignal::new(None),
            error: Signal::derive(move || {
                answers.with(|a| a.as_ref()?.as_ref().err().map(ToString::to_string))
            }),
            forget: Callback::new(move |()| answers.set(None)),
        };
        Effect::new(move |_| {
            if answers.with(|a| matches!(a, Some(Ok(_)))) {
                confirm.target.set(None);
            }
        });
        confirm
    }

    /// Asks before deleting `name`.
    pub fn ask(&self, name: String) {
        self.forget.run(());
        self.target.set(Some(name));
    }
}

/// "Delete <name>?" in a modal dialog, naming what still depends on the record; the delete
/// button stays off while anything does, since the server would refuse.
#[component]
pub fn ConfirmDialog(
    confirm: Confirm,
    /// "logical model"
    noun: &'static str,
    /// "Delete", or "Revoke" for keys.
    #[prop(default = "Delete")]
    verb: &'static str,
    /// What happens, in a sentence after the question.
    #[prop(default = "This cannot be undone.")]
    consequence: &'static str,
    /// Sentences naming the records that depend on the one named.
    #[prop(into)]
    dependents: Callback<String, Vec<String>>,
    #[prop(into)] pending: Signal<bool>,
    on_confirm: impl Fn(String) + Send + Sync + 'static,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    Effect::new(move |_| {
        let open = confirm.target.with(Option::is_some);
        if let Some(element) = dialog.get() {
            if open && !element.open() {
                let _ = element.show_modal();
            } else if !open && element.open() {
                element.close();
            }
        }
    });
    let blockers = Memo::new(move |_| {
        confirm
            .target
            .get()
            .map(|name| dependents.run(name))
            .unwrap_or_default()
    });
    // Unique per verb too: a page may ask two questions about one kind of record.
    let title_id = format!("confirm-{}-{}", verb.to_lowercase(), noun.replace(' ', "-"));
    let question = move || {
        let name = confirm.target.get().unwrap_or_default();
        format!("{verb} {noun} {name}?")
    };
    let close = move || confirm.target.set(None);
    view! {
        <dialog node_ref=dialog class="dialog narrow" role="alertdialog" aria-labelledby=title_id.clone()
            on:close=move |_| close() data-testid="confirm-dialog">
            <header class="dialog-head">
                <h2 id=title_id.clone()>{question}</h2>
                <button type="button" class="icon-button" aria-label="Close" on:click=move |_| close()>"×"</button>
            </header>
            <div class="dialog-body">
                {move || {
                    let list = blockers.get();
                    if list.is_empty() {
                        view! { <p>{consequence}</p> }.into_any()
                    } else {
                        view! {
                            <p>"These depend on it; change them first:"</p>
                            <ul class="dependents" data-testid="dependents">
                                {list.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}
                            </ul>
                        }
                        .into_any()
                    }
                }}
            </div>
            <footer class="dialog-foot">
                <p class="form-error" role="alert">{move || confirm.error.get()}</p>
                <button type="button" on:click=move |_| close()>"Cancel"</button>
                <button type="button" class="danger-solid"
                    disabled=move || pending.get() || !blockers.with(Vec::is_empty)
                    on:click=move |_| {
                        if let Some(name) = confirm.target.get_untracked() {
                            on_confirm(name);
                        }
                    }>{verb}</button>
            </footer>
        </dialog>
    }
}

/// The Edit and Delete buttons of one row, shown to those who may use them; `extra` comes first
/// (e.g. "Test connection").
#[component]
pub fn RowActions(
    /// The record's name, for the buttons' accessible names.
    name: String,
    #[prop(into)] show: Signal<bool>,
    #[prop(optional)] on_edit: Option<Callback<()>>,
    #[prop(optional)] confirm: Option<Confirm>,
    /// Who may delete, when fewer than may edit.
    #[prop(into, optional)]
    can_delete: Option<Signal<bool>>,
    #[prop(default = "Delete")] delete_label: &'static str,
    #[prop(optional)] extra: Option<ChildrenFn>,
) -> impl IntoView {
    let can_delete = can_delete.unwrap_or(show);
    view! {
        <td class="row-actions">
            <Show when=move || show.get()>
                {
                    let (edit_name, delete_name) = (name.clone(), name.clone());
                    let extra = extra.clone();
                    view! {
                        {extra.map(|e| e())}
                        {on_edit.map(|edit| view! {
                            <button type="button" class="small" aria-label=format!("Edit {edit_name}")
                                on:click=move |_| edit.run(())>"Edit"</button>
                        })}
                        {confirm.map(|confirm| {
                            let delete_name = delete_name.clone();
                            view! {
                                <Show when=move || can_delete.get()>
                                    {
                                        let name = delete_name.clone();
                                        view! {
                                            <button type="button" class="small danger"
                                                aria-label=format!("{delete_label} {name}")
                                                on:click=move |_| confirm.ask(name.clone())>{delete_label}</button>
                                        }
                                    }
                                </Show>
                            }
                        })}
                    }
                }
            </Show>
        </td>
    }
}

/// A labelled one-line text input bound to `value`, with the editor's error for `field`
/// below (`data-field` names it for tests).
pub fn text_input(
    editor: Editor,
    id: &'static str,
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id type="text" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
            <p class="field-error" data-field=field>{editor.error_at(field)}</p>
        </div>
    }
}

/// A checkbox per value; none ticked usually means "any".
pub fn checkbox_group<T>(
    legend: &'static str,
    all: impl IntoIterator<Item = T>,
    label: fn(&T) -> &'static str,
    chosen: RwSignal<Vec<T>>,
) -> impl IntoView
where
    T: Copy + PartialEq + Send + Sync + 'static,
{
    let boxes = all
        .into_iter()
        .map(|value| {
            view! {
                <label class="check">
                    <input type="checkbox" name=label(&value)
                        prop:checked=move || chosen.with(|list| list.contains(&value))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|list| {
                                list.retain(|x| *x != value);
                                if on {
                                    list.push(value);
                                }
                            });
                        }/>
                    {label(&value)}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="field checks">
            <legend>{legend}</legend>
            {boxes}
        </fieldset>
    }
}

/// Picks several of the known `options`: the chosen ones as removable chips (in order, with
/// up and down when `ordered`), and a search box listing the rest. Used wherever valid names
/// are known (logical models, accounts), instead of free text.
#[component]
pub fn Chooser(
    id: &'static str,
    label: &'static str,
    /// `data-field` of the error line.
    field: &'static str,
    options: Vec<String>,
    chosen: RwSignal<Vec<String>>,
    #[prop(optional)] ordered: bool,
    /// What choosing nothing means ("any model"); `None` when something must be chosen.
    #[prop(optional)]
    none_means: Option<&'static str>,
    editor: Editor,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let options = StoredValue::new(options);
    let remaining = move || {
        let needle = query.get().trim().to_lowercase();
        let taken = chosen.get();
        options.with_value(|all| {
            all.iter()
                .filter(|o| !taken.contains(o) && o.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let chips = move || {
        let list = chosen.get();
        let count = list.len();
        if count == 0 {
            return view! { <p class="chooser-none muted">{none_means.unwrap_or("None chosen yet.")}</p> }
                .into_any();
        }
        let items = list
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let label_up = format!("Move {name} up");
                let label_down = format!("Move {name} down");
                let label_remove = format!("Remove {name}");
                view! {
                    <li class="chip" data-value=name.clone()>
                        {ordered.then(|| view! { <span class="chip-rank">{i + 1}</span> })}
                        <span class="chip-name">{name.clone()}</span>
                        {ordered.then(|| view! {
                            <button type="button" class="icon-button" aria-label=label_up disabled=i == 0
                                on:click=move |_| chosen.update(|l| l.swap(i, i - 1))>"↑"</button>
                            <button type="button" class="icon-button" aria-label=label_down disabled=i + 1 == count
                                on:click=move |_| chosen.update(|l| l.swap(i, i + 1))>"↓"</button>
                        })}
                        <button type="button" class="icon-button" aria-label=label_remove
                            on:click=move |_| chosen.update(|l| { l.remove(i); })>"×"</button>
                    </li>
                }
            })
            .collect_view();
        if ordered {
            view! { <ol class="chips">{items}</ol> }.into_any()
        } else {
            view! { <ul class="chips">{items}</ul> }.into_any()
        }
    };
    let search_id = format!("{id}-search");
    view! {
        <div class="field chooser" id=id data-testid=id>
            <label for=search_id.clone()>{label}</label>
            {chips}
            <input id=search_id type="search" placeholder="Search to add…" autocomplete="off"
                prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/>
            <div class="chooser-options" role="group" aria-label=format!("{label}: add")>
                {move || {
                    let rest = remaining();
                    if rest.is_empty() {
                        view! { <span class="muted small">"No more to add."</span> }.into_any()
                    } else {
                        rest.into_iter()
                            .map(|name| {
                                let add = name.clone();
                                view! {
                                    <button type="button" class="option"
                                        on:click=move |_| {
                                            chosen.update(|l| l.push(add.clone()));
                                            query.set(String::new());
                                        }>{format!("+ {name}")}</button>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }
                }}
            </div>
            <p class="field-error" data-field=field>{editor.error_under(field)}</p>
        </div>
    }
}
