//! The price table: USD per million tokens per provider model, editable by editors.

use crate::api::prices::{list_prices, DeletePrice, PriceView, SavePrice};
use crate::app::components::{
    form_error, message_for, optional_number, use_can, LoadError, LocalError,
};
use crate::domain::{ProviderKind, Role};
use leptos::prelude::*;

#[component]
pub fn PricesPage() -> impl IntoView {
    let save = ServerAction::<SavePrice>::new();
    let delete = ServerAction::<DeletePrice>::new();
    let can_edit = use_can(Role::Editor);
    let prices = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_prices(),
    );
    let kind = RwSignal::new(ProviderKind::Openai);
    let model = RwSignal::new(String::new());
    let input = RwSignal::new(String::new());
    let output = RwSignal::new(String::new());
    let local: LocalError = RwSignal::new(None);
    let value = save.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed =
            optional_number::<f64>(&input.get_untracked(), "input_per_mtok_usd").and_then(|i| {
                optional_number::<f64>(&output.get_untracked(), "output_per_mtok_usd")
                    .map(|o| (i, o))
            });
        match parsed {
            Ok((Some(i), Some(o))) => {
                local.set(None);
                save.dispatch(SavePrice {
                    price: PriceView {
                        kind: kind.get_untracked(),
                        model: model.get_untracked(),
                        input_per_mtok_usd: i,
                        output_per_mtok_usd: o,
                    },
                });
            }
            Ok((None, _)) => local.set(Some((
                "input_per_mtok_usd".into(),
                "must not be empty".into(),
            ))),
            Ok((_, None)) => local.set(Some((
                "output_per_mtok_usd".into(),
                "must not be empty".into(),
            ))),
            Err(problem) => local.set(Some(problem)),
        }
    };
    view! {
        <section class="page">
            <h1>"Prices"</h1>
            <p class="muted">"List prices in USD per million tokens; spend is computed from these and the tokens each provider reports."</p>
            <p class="form-error" role="alert">{form_error(delete.value())}</p>
            // Inside a Transition, so the server waits for the role before rendering the form.
            <Transition fallback=|| ()>
                <Show when=move || can_edit.get()>
                    <div class="card">
                        <h2>"Set a price"</h2>
                        <form class="inline" on:submit=submit data-testid="price-form">
                            <select aria-label="Provider" on:change=move |ev| {
                                if let Ok(k) = event_target_value(&ev).parse::<ProviderKind>() { kind.set(k); }
                            }>
                                {ProviderKind::ALL.into_iter().map(|k| view! {
                                    <option value=k.as_str() selected=move || kind.get() == k>{k.label()}</option>
                                }).collect_view()}
                            </select>
                            <input type="text" placeholder="provider model" aria-label="Provider model"
                                prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev))/>
                            <input type="text" placeholder="input $/Mtok" aria-label="Input price"
                                prop:value=move || input.get() on:input=move |ev| input.set(event_target_value(&ev))/>
                            <input type="text" placeholder="output $/Mtok" aria-label="Output price"
                                prop:value=move || output.get() on:input=move |ev| output.set(event_target_value(&ev))/>
                            <button type="submit" class="small primary">"Save price"</button>
                        </form>
                        <p class="field-error" data-field="model">{message_for(value, local, "model")}</p>
                        <p class="field-error" data-field="input_per_mtok_usd">{message_for(value, local, "input_per_mtok_usd")}</p>
                        <p class="field-error" data-field="output_per_mtok_usd">{message_for(value, local, "output_per_mtok_usd")}</p>
                        <p class="form-error" role="alert">{form_error(value)}</p>
                    </div>
                </Show>
            </Transition>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match prices.await {
                        Err(error) => view! { <LoadError error/> }.into_any(),
                        Ok(list) => view! {
                            <div class="card table-card">
                                <table class="table" data-testid="prices-table">
                                    <thead><tr><th>"Provider"</th><th>"Model"</th><th>"Input $/Mtok"</th><th>"Output $/Mtok"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|p| {
                                            let (edit, gone) = (p.clone(), p.clone());
                                            view! {
                                                <tr>
                                                    <td>{p.kind.label()}</td>
                                                    <td>{p.model.clone()}</td>
                                                    <td>{format!("{:.3}", p.input_per_mtok_usd)}</td>
                                                    <td>{format!("{:.3}", p.output_per_mtok_usd)}</td>
                                                    <td>
                                                        <Show when=move || can_edit.get()>
                                                            {
                                                                let (edit, gone) = (edit.clone(), gone.clone());
                                                                view! {
                                                                    <button class="small" on:click=move |_| {
                                                                        kind.set(edit.kind);
                                                                        model.set(edit.model.clone());
                                                                        input.set(edit.input_per_mtok_usd.to_string());
                                                                        output.set(edit.output_per_mtok_usd.to_string());
                                                                    }>"Edit"</button>
                                                                    <button class="small danger" on:click=move |_| {
                                                                        delete.dispatch(DeletePrice { kind: gone.kind, model: gone.model.clone() });
                                                                    }>"Delete"</button>
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
        </section>
    }
}
