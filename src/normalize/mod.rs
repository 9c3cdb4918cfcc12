//! Text clean-up before embedding, and language detection.
//!
//! Contract:
//! - `clean_text` gives the text the encoder should see: line endings normalised, control characters
//!   dropped, whitespace runs collapsed, trimmed. It borrows when there is nothing to change.
//! - `detect_language` / `detect_language_among` name a text's language as an ISO 639-1 code with a
//!   confidence in 0..=1, or `None` when the text is too short or too ambiguous to tell.
//! - `language_columns` does the same for a whole text column in parallel, giving the `language` and
//!   `language_confidence` columns.
//! - `redact` replaces personal data (e-mail, phone, IBAN, card, BSN, address) by typed placeholders and
//!   counts it; `redact_column` does so for a column, giving the `redactions` counts column.
//! - `customer_turns` finds the customer's turns of each conversation, for turn-level sentiment.

mod function_words;
mod language;
mod redact;
mod text;
mod turns;

pub use self::language::{
    detect_language, detect_language_among, detection_candidates, is_supported_language,
    language_columns, LanguageDetector, COMMON_LANGUAGES, MIN_CONFIDENCE, MIN_LETTERS,
};
pub use self::redact::{
    find_pii, redact, redact_column, redact_columns, redact_turns, PiiKind, PiiSpan,
    RedactionCounts,
};
pub use self::text::clean_text;
pub use self::turns::{customer_turns, CustomerTurn};
