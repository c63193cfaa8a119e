//! List prices and the cost of a call. Prices are kept in micro-dollars per million tokens, so a
//! cost is integer arithmetic end to end: no floating point error accumulates over millions of
//! requests.

pub use crate::domain::Price;
use crate::domain::ProviderKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedPrice {
    pub kind: ProviderKind,
    pub model: &'static str,
    pub price: Price,
}

const fn seed(kind: ProviderKind, model: &'static str, input: i64, output: i64) -> SeedPrice {
    SeedPrice {
        kind,
        model,
        price: Price::from_micros(input, output),
    }
}

use ProviderKind::{Anthropic, Azure, Cohere, Google, Mistral, Openai};

/// Seed list prices for the price table (standard tier, no batch or cache discounts), from the
/// providers' public pricing pages as known in mid-2025; the dashboard edits the live table.
/// Gemini 2.5 Pro is listed at its prompts-up-to-200k rate; Azure at its global deployment rate,
/// which matches OpenAI's. Embedding models are listed with their input price and no output.
pub const SEED_PRICES: &[SeedPrice] = &[
    seed(Openai, "gpt-5", 1_250_000, 10_000_000),
    seed(Openai, "gpt-5-mini", 250_000, 2_000_000),
    seed(Openai, "gpt-5-nano", 50_000, 400_000),
    seed(Openai, "gpt-4.1", 2_000_000, 8_000_000),
    seed(Openai, "gpt-4.1-mini", 400_000, 1_600_000),
    seed(Openai, "gpt-4.1-nano", 100_000, 400_000),
    seed(Openai, "gpt-4o", 2_500_000, 10_000_000),
    seed(Openai, "gpt-4o-mini", 150_000, 600_000),
    seed(Openai, "o3", 2_000_000, 8_000_000),
    seed(Openai, "o4-mini", 1_100_000, 4_400_000),
    seed(Azure, "gpt-4.1", 2_000_000, 8_000_000),
    seed(Azure, "gpt-4.1-mini", 400_000, 1_600_000),
    seed(Azure, "gpt-4o", 2_500_000, 10_000_000),
    seed(Azure, "gpt-4o-mini", 150_000, 600_000),
    seed(Azure, "o4-mini", 1_100_000, 4_400_000),
    seed(Anthropic, "claude-opus-4-1", 15_000_000, 75_000_000),
    seed(Anthropic, "claude-opus-4", 15_000_000, 75_000_000),
    seed(Anthropic, "claude-sonnet-4-5", 3_000_000, 15_000_000),
    seed(Anthropic, "claude-sonnet-4", 3_000_000, 15_000_000),
    seed(Anthropic, "claude-haiku-4-5", 1_000_000, 5_000_000),
    seed(Anthropic, "claude-3-5-haiku", 800_000, 4_000_000),
    seed(Google, "gemini-2.5-pro", 1_250_000, 10_000_000),
    seed(Google, "gemini-2.5-flash", 300_000, 2_500_000),
    seed(Google, "gemini-2.5-flash-lite", 100_000, 400_000),
    seed(Google, "gemini-2.0-flash", 100_000, 400_000),
    seed(Cohere, "command-a-03-2025", 2_500_000, 10_000_000),
    seed(Cohere, "command-r-plus-08-2024", 2_500_000, 10_000_000),
    seed(Cohere, "command-r-08-2024", 150_000, 600_000),
    seed(Cohere, "command-r7b-12-2024", 37_500, 150_000),
    seed(Mistral, "mistral-large-latest", 2_000_000, 6_000_000),
    seed(Mistral, "mistral-medium-latest", 400_000, 2_000_000),
    seed(Mistral, "mistral-small-latest", 100_000, 300_000),
    seed(Mistral, "codestral-latest", 300_000, 900_000),
    seed(Mistral, "ministral-8b-latest", 100_000, 100_000),
    // Embedding models: input tokens only.
    seed(Openai, "text-embedding-3-small", 20_000, 0),
    seed(Openai, "text-embedding-3-large", 130_000, 0),
    seed(Openai, "text-embedding-ada-002", 100_000, 0),
    seed(Azure, "text-embedding-3-small", 20_000, 0),
    seed(Azure, "text-embedding-3-large", 130_000, 0),
    seed(Azure, "text-embedding-ada-002", 100_000, 0),
    seed(Google, "gemini-embedding-001", 150_000, 0),
    seed(Cohere, "embed-v4.0", 120_000, 0),
    seed(Cohere, "embed-english-v3.0", 100_000, 0),
    seed(Cohere, "embed-multilingual-v3.0", 100_000, 0),
    seed(Mistral, "mistral-embed", 100_000, 0),
    seed(Mistral, "codestral-embed", 150_000, 0),
];

/// The seed price of a model. Providers answer with dated names (`gpt-4o-2024-08-06`,
/// `claude-sonnet-4-5-20250929`), so the longest listed name that prefixes the model at a `-`
/// boundary counts as well.
pub fn seed_price(kind: ProviderKind, model: &str) -> Option<Price> {
    SEED_PRICES
        .iter()
        .filter(|p| p.kind == kind)
        .filter(|p| {
            model == p.model
                || model
                    .strip_prefix(p.model)
                    .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|p| p.model.len())
        .map(|p| p.price)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;

    #[test]
    fn cost_is_exact_integer_micros() {
        let gpt4o = seed_price(Openai, "gpt-4o").unwrap();
        // 1,000 prompt tokens at $2.50/M = $0.0025; 500 completion at $10/M = $0.005.
        assert_eq!(gpt4o.cost(1_000, 500), Money(7_500));
        // Sub-micro amounts round half up once, not per side.
        let small = seed_price(Cohere, "command-r7b-12-2024").unwrap();
        assert_eq!(small.cost(13, 1), Money(1)); // 0.4875 + 0.15 = 0.6375 µ$
        assert_eq!(small.cost(1, 1), Money(0)); // 0.1875 µ$
                                                // A million calls add up exactly.
        let mut total = Money::ZERO;
        for _ in 0..1_000_000 {
            total += gpt4o.cost(1_000, 500);
        }
        assert_eq!(total, Money::from_dollars(7_500.0));
    }

    #[test]
    fn dated_model_names_find_their_price() {
        assert_eq!(
            seed_price(Anthropic, "claude-sonnet-4-5-20250929"),
            seed_price(Anthropic, "claude-sonnet-4-5")
        );
        // The longest prefix wins: gpt-4o-mini is not priced as gpt-4o.
        assert_eq!(
            seed_price(Openai, "gpt-4o-mini-2024-07-18"),
            Some(Price::from_micros(150_000, 600_000))
        );
        assert_eq!(seed_price(Openai, "gpt-4"), None);
        assert_eq!(seed_price(Google, "gpt-4o"), None);
    }

    #[test]
    fn every_provider_has_seed_prices() {
        for kind in ProviderKind::ALL {
            assert!(SEED_PRICES.iter().any(|p| p.kind == kind), "{kind}");
        }
    }
}
