//! The price table: USD per million tokens per provider model, editable by editors.

use crate::api::prices::{list_prices, DeletePrice, PriceView, SavePrice};
use crate::app::components::{
    loaded, optional_number, text_input, unit_price, use_can, AddButton, Confirm, ConfirmDialog,
    Editor, EditorDialog, PageHeader, Problem, RowActions,
};
use crate::domain::{ProviderKind, Role};
use leptos::prelude::*;

/// A price's own fields.
#[derive(Clone, Copy)]
struct Fields {
    kind: RwSignal<ProviderKind>,
    model: RwSignal<String>,
    input: RwSignal<String>,
    output: RwSignal<String>,
}

impl Fields {
    fn new() -> Self {
        Fields {
            kind: RwSignal::new(ProviderKind::Openai),
            model: RwSignal::new(String::new()),
            input: RwSignal::new(String::new()),
            output: RwSignal::new(String::new()),
        }
    }

    /// Loads `price`, or the blank form for a new one.
    fn fill(&self, price: Option<&PriceView>) {
        self.kind
            .set(price.map_or(ProviderKind::Openai, |p| p.kind));
        self.model
            .set(price.map(|p| p.model.clone()).unwrap_or_default());
        self.input.set(
            price
                .map(|p| p.input_per_mtok_usd.to_string())
                .unwrap_or_default(),
        );
        self.output.set(
            price
                .map(|p| p.output_per_mtok_usd.to_string())
                .unwrap_or_default(),
        );
    }

    fn read(self) -> Result<PriceView, Problem> {
        let required = |field: &str, text: RwSignal<String>| {
            optional_number::<f64>(&text.get_untracked(), field)?
                .ok_or_else(|| (field.to_string(), "must not be empty".to_string()))
        };
        Ok(PriceView {
            kind: self.kind.get_untracked(),
            model: self.model.get_untracked(),
            input_per_mtok_usd: required("input_per_mtok_usd", self.input)?,
            output_per_mtok_usd: required("output_per_mtok_usd", self.output)?,
        })
    }
}

#[component]
pub fn PricesPage() -> impl IntoView {
    let save = ServerAction::<SavePrice>::new();
    let delete = ServerAction::<DeletePrice>::new();
    let can_edit = use_can(Role::Editor);
    let prices = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_prices(),
    );
    let fields = Fields::new();
    let editor = Editor::new(save.value());
    let confirm = Confirm::new(delete.value());
    let add = move || {
        fields.fill(None);
        editor.add();
    };
    let submit = move || {
        save.dispatch(SavePrice {
            price: fields.read()?,
        });
        Ok(())
    };
    view! {
        <section class="page">
            <PageHeader title="Prices"
                description="List prices in USD per million tokens. Spend is computed from these and the tokens each provider reports.">
                <AddButton label="Set a price" show=can_edit on_add=add/>
            </PageHeader>
            {loaded(prices, "No price yet. Without one, calls to a model cost nothing in the spend figures.", move |list| {
                view! { <PriceTable list fields editor confirm can_edit/> }
            })}
            // Inside a Transition, so the server waits for the role before rendering the editor.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    <EditorDialog editor add_title="Set a price" test_id="price-form"
                        submit_label="Save price" pending=save.pending() on_submit=submit>
                        <div class="field">
                            <label for="price-kind">"Provider"</label>
                            <select id="price-kind" on:change=move |ev| {
                                if let Ok(k) = event_target_value(&ev).parse::<ProviderKind>() { fields.kind.set(k); }
                            }>
                                {ProviderKind::ALL.into_iter().map(|k| view! {
                                    <option value=k.as_str() selected=move || fields.kind.get() == k>{k.label()}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        {text_input(editor, "price-model", "Provider model", "model", fields.model)}
                        {text_input(editor, "price-input", "Input, USD per million tokens", "input_per_mtok_usd", fields.input)}
                        {text_input(editor, "price-output", "Output, USD per million tokens", "output_per_mtok_usd", fields.output)}
                    </EditorDialog>
                    <ConfirmDialog confirm noun="price" dependents=|_| Vec::new()
                        consequence="Calls to this model then cost nothing in the spend figures."
                        pending=delete.pending()
                        on_confirm=move |name: String| {
                            if let Some((kind, model)) = name.split_once('/') {
                                if let Ok(kind) = kind.parse() {
                                    delete.dispatch(DeletePrice { kind, model: model.to_string() });
                                }
                            }
                        }/>
                </Show>
            </Transition>
        </section>
    }
}

#[component]
fn PriceTable(
    list: Vec<PriceView>,
    fields: Fields,
    editor: Editor,
    confirm: Confirm,
    can_edit: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table" data-testid="prices-table">
                <thead><tr>
                    <th scope="col">"Provider"</th><th scope="col">"Model"</th>
                    <th scope="col" class="num">"Input / M tokens"</th><th scope="col" class="num">"Output / M tokens"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|p| {
                        // Named as the server names prices: by what they price.
                        let name = format!("{}/{}", p.kind, p.model);
                        let edit = p.clone();
                        let on_edit = Callback::new(move |()| {
                            fields.fill(Some(&edit));
                            editor.edit(format!("{}/{}", edit.kind, edit.model));
                        });
                        view! {
                            <tr data-name=name.clone()>
                                <td>{p.kind.label()}</td>
                                <td class="mono">{p.model.clone()}</td>
                                <td class="num">{unit_price(p.input_per_mtok_usd)}</td>
                                <td class="num">{unit_price(p.output_per_mtok_usd)}</td>
                                <RowActions name=name.clone() show=can_edit on_edit confirm/>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
