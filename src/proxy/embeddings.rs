//! `POST /v1/embeddings` answers in OpenAI's format, whichever provider computed the vectors.
//! Providers are always asked for floats; base64 (little-endian `f32`s, what OpenAI's SDKs
//! request by default) is encoded here, so every provider serves both formats.

use crate::providers::types::EncodingFormat;
use crate::providers::Embeddings;
use base64::Engine;
use serde_json::{json, Value};

/// The OpenAI-shaped response; `prompt_tokens` is the provider's count or the estimate.
pub fn response(
    embeddings: Embeddings,
    format: EncodingFormat,
    model: &str,
    prompt_tokens: u64,
) -> Value {
    let data: Vec<Value> = embeddings
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = match format {
                EncodingFormat::Float => json!(vector),
                EncodingFormat::Base64 => json!(base64_f32(&vector)),
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}

fn base64_f32(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_base64_carry_the_same_vector() {
        let embeddings = || Embeddings {
            vectors: vec![vec![0.5, -1.0], vec![0.25, 2.0]],
            prompt_tokens: Some(3),
        };
        let floats = response(embeddings(), EncodingFormat::Float, "m", 3);
        assert_eq!(floats["data"][1]["embedding"], json!([0.25, 2.0]));
        assert_eq!(floats["data"][1]["index"], 1);
        assert_eq!(floats["usage"]["total_tokens"], 3);
        let encoded = response(embeddings(), EncodingFormat::Base64, "m", 3);
        let text = encoded["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(decoded, vec![0.5, -1.0]);
    }
}
