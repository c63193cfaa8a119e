//! Token estimates made before a call, to reserve rate-limit room; the provider's reported usage
//! corrects them afterwards, so a rough but cheap estimate is enough here.

/// Characters per token for English text with the BPE tokenizers the providers use (OpenAI's
/// published rule of thumb). Code and non-Latin scripts use more tokens per character, which
/// the correction after the call absorbs.
pub const CHARS_PER_TOKEN: u32 = 4;
/// Tokens each chat message costs on top of its text (role and separators).
pub const MESSAGE_OVERHEAD_TOKENS: u32 = 4;
/// Completion room reserved when neither the request nor the logical model sets `max_tokens`.
pub const DEFAULT_COMPLETION_TOKENS: u32 = 1_024;

/// Estimated tokens of one text: characters / 4, rounded up.
pub fn estimate_text_tokens(text: &str) -> u32 {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    chars.div_ceil(CHARS_PER_TOKEN)
}

/// Estimated prompt tokens of a chat: each message's text plus its overhead.
pub fn estimate_prompt_tokens<'a>(messages: impl IntoIterator<Item = &'a str>) -> u32 {
    messages.into_iter().fold(0u32, |total, text| {
        total
            .saturating_add(estimate_text_tokens(text))
            .saturating_add(MESSAGE_OVERHEAD_TOKENS)
    })
}

/// What a call may use at most: the prompt estimate plus the completion limit.
pub fn estimate_request_tokens(prompt_tokens: u32, max_tokens: Option<u32>) -> u32 {
    prompt_tokens.saturating_add(max_tokens.unwrap_or(DEFAULT_COMPLETION_TOKENS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        let text_cases = [
            ("", 0),
            ("abc", 1),
            ("abcd", 1),
            ("abcde", 2),
            ("héllo wörld!", 3),
        ];
        for (text, tokens) in text_cases {
            assert_eq!(estimate_text_tokens(text), tokens, "{text:?}");
        }
        let prompt_cases: [(&[&str], u32); 3] = [
            (&[], 0),
            (&["You are terse."], 8),
            (&["abcd", "abcdefgh"], 11),
        ];
        for (messages, tokens) in prompt_cases {
            assert_eq!(
                estimate_prompt_tokens(messages.iter().copied()),
                tokens,
                "{messages:?}"
            );
        }
        let request_cases = [
            (100, Some(50), 150),
            (100, None, 1_124),
            (u32::MAX, Some(1), u32::MAX),
        ];
        for (prompt, max, tokens) in request_cases {
            assert_eq!(estimate_request_tokens(prompt, max), tokens);
        }
    }
}
