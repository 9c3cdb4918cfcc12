//! Language detection with `whatlang`, reported as ISO 639-1 codes.
//!
//! whatlang scores character trigrams, which is reliable on a sentence or more and guesswork on a word or
//! two; so short texts and low-confidence guesses give `None` rather than a wrong language. Restricting the
//! candidates to the languages a pipeline expects (`detect_language_among`) removes the typical confusions
//! on short customer texts, such as Dutch taken for Afrikaans, and adds function-word evidence for the
//! pipeline's core languages, which decides short sentences trigrams cannot.

use arrow_array::{Array, Float32Array, StringArray};
use rayon::prelude::*;
use whatlang::{Detector, Lang};

use super::function_words;

/// Fewer letters than this and a text is not worth guessing at ("ok", "Bedankt!", a bare order number).
pub const MIN_LETTERS: usize = 10;

/// The languages touchpoint's users mostly receive; detection considers these besides a pipeline's own
/// languages, so that a German e-mail in a Dutch/English pipeline is reported as German, not forced to Dutch.
pub const COMMON_LANGUAGES: [&str; 4] = ["nl", "en", "de", "fr"];

/// The candidates for detection: the common languages plus the given ones, without duplicates.
pub fn detection_candidates(languages: &[String]) -> Vec<&str> {
    let mut candidates: Vec<&str> = COMMON_LANGUAGES.to_vec();
    for language in languages {
        if !candidates.contains(&language.as_str()) {
            candidates.push(language);
        }
    }
    candidates
}

/// Confidences below this are too close to a runner-up to report.
pub const MIN_CONFIDENCE: f32 = 0.5;

/// Detection looks at no more than this many leading bytes: a few sentences settle the language, and long
/// e-mail threads would otherwise cost time in proportion to their quoted history.
const MAX_SAMPLE_BYTES: usize = 4096;

/// Rows per rayon task in `language_columns`; detection on one short text is too cheap to split finer.
const ROWS_PER_TASK: usize = 64;

/// A language detector restricted to an allow-list of ISO 639-1 codes, or open to every language whatlang
/// knows. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct LanguageDetector {
    detector: Detector,
    /// The allow-list as ISO 639-1 codes; empty when every language is considered.
    allowed: Vec<&'static str>,
}

impl LanguageDetector {
    /// Considers every language whatlang knows.
    pub fn all() -> Self {
        LanguageDetector {
            detector: Detector::new(),
            allowed: Vec::new(),
        }
    }

    /// Considers only the languages in `allow` (ISO 639-1 codes, case-insensitive). Codes whatlang does not
    /// know are ignored (check them with `is_supported_language`); if none is left, every language is
    /// considered, as with an empty list.
    pub fn among(allow: &[&str]) -> Self {
        let languages: Vec<Lang> = allow.iter().filter_map(|code| lang_of(code)).collect();
        if languages.is_empty() {
            return Self::all();
        }
        LanguageDetector {
            allowed: languages.iter().map(|&lang| iso_639_1(lang)).collect(),
            detector: Detector::with_allowlist(languages),
        }
    }

    /// The language of `text` and the confidence in it, or `None` when the text has fewer than
    /// `MIN_LETTERS` letters or the confidence is below `MIN_CONFIDENCE`.
    ///
    /// The evidence is whatlang's trigram guess and, with an allow-list, the function words of the
    /// pipeline's core languages (see `function_words`). Agreeing evidence adds up (as independent
    /// chances of being right: 1 - (1 - a)(1 - b)); conflicting evidence goes to the stronger side.
    pub fn detect(&self, text: &str) -> Option<(&'static str, f32)> {
        let sample = leading_sample(text);
        if sample.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
            return None;
        }
        let trigrams = self
            .detector
            .detect(sample)
            .map(|info| (iso_639_1(info.lang()), info.confidence() as f32));
        let words = if self.allowed.is_empty() {
            None
        } else {
            function_words::vote(sample, &self.allowed)
        };
        let (code, confidence) = match (trigrams, words) {
            (Some((a, p)), Some((b, q))) if a == b => (a, 1.0 - (1.0 - p) * (1.0 - q)),
            (Some(a), Some(b)) => {
                if a.1 >= b.1 {
                    a
                } else {
                    b
                }
            }
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => return None,
        };
        (confidence >= MIN_CONFIDENCE).then_some((code, confidence.clamp(0.0, 1.0)))
    }
}

/// The language of `text` among every language whatlang knows; see `LanguageDetector::detect`.
pub fn detect_language(text: &str) -> Option<(&'static str, f32)> {
    LanguageDetector::all().detect(text)
}

/// The language of `text` among the ISO 639-1 codes in `allow`; see `LanguageDetector::among`.
pub fn detect_language_among(text: &str, allow: &[&str]) -> Option<(&'static str, f32)> {
    LanguageDetector::among(allow).detect(text)
}

/// Whether `code` is an ISO 639-1 code the detector can report, for validating a pipeline's allow-list.
pub fn is_supported_language(code: &str) -> bool {
    lang_of(code).is_some()
}

/// The `language` and `language_confidence` columns for `texts`, detected in parallel among `allow` (empty:
/// all languages). Null texts and undetectable ones give nulls in both columns.
pub fn language_columns(texts: &StringArray, allow: &[&str]) -> (StringArray, Float32Array) {
    let detector = LanguageDetector::among(allow);
    let detected: Vec<Option<(&'static str, f32)>> = (0..texts.len())
        .into_par_iter()
        .with_min_len(ROWS_PER_TASK)
        .map(|row| {
            if texts.is_null(row) {
                None
            } else {
                detector.detect(texts.value(row))
            }
        })
        .collect();
    let languages = detected.iter().map(|d| d.map(|(code, _)| code)).collect();
    let confidences = detected.iter().map(|d| d.map(|(_, conf)| conf)).collect();
    (languages, confidences)
}

/// At most `MAX_SAMPLE_BYTES` leading bytes of `text`, cut at a character boundary.
fn leading_sample(text: &str) -> &str {
    if text.len() <= MAX_SAMPLE_BYTES {
        return text;
    }
    let mut end = MAX_SAMPLE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or(text)
}

/// The whatlang language for an ISO 639-1 code, if whatlang knows it.
fn lang_of(code: &str) -> Option<Lang> {
    let code = code.trim().to_ascii_lowercase();
    Lang::all()
        .iter()
        .copied()
        .find(|&lang| iso_639_1(lang) == code)
}

/// The ISO 639-1 code of a whatlang language (whatlang itself speaks ISO 639-3). Mandarin reports as `zh`,
/// Iranian Persian as `fa`, Norwegian Bokmål as `nb`.
fn iso_639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Afr => "af",
        Lang::Aka => "ak",
        Lang::Amh => "am",
        Lang::Ara => "ar",
        Lang::Aze => "az",
        Lang::Bel => "be",
        Lang::Ben => "bn",
        Lang::Bul => "bg",
        Lang::Cat => "ca",
        Lang::Ces => "cs",
        Lang::Cmn => "zh",
        Lang::Cym => "cy",
        Lang::Dan => "da",
        Lang::Deu => "de",
        Lang::Ell => "el",
        Lang::Eng => "en",
        Lang::Epo => "eo",
        Lang::Est => "et",
        Lang::Fin => "fi",
        Lang::Fra => "fr",
        Lang::Guj => "gu",
        Lang::Heb => "he",
        Lang::Hin => "hi",
        Lang::Hrv => "hr",
        Lang::Hun => "hu",
        Lang::Hye => "hy",
        Lang::Ind => "id",
        Lang::Ita => "it",
        Lang::Jav => "jv",
        Lang::Jpn => "ja",
        Lang::Kan => "kn",
        Lang::Kat => "ka",
        Lang::Khm => "km",
        Lang::Kor => "ko",
        Lang::Lat => "la",
        Lang::Lav => "lv",
        Lang::Lit => "lt",
        Lang::Mal => "ml",
        Lang::Mar => "mr",
        Lang::Mkd => "mk",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Nld => "nl",
        Lang::Nob => "nb",
        Lang::Ori => "or",
        Lang::Pan => "pa",
        Lang::Pes => "fa",
        Lang::Pol => "pl",
        Lang::Por => "pt",
        Lang::Ron => "ro",
        Lang::Rus => "ru",
        Lang::Sin => "si",
        Lang::Slk => "sk",
        Lang::Slv => "sl",
        Lang::Sna => "sn",
        Lang::Spa => "es",
        Lang::Srp => "sr",
        Lang::Swe => "sv",
        Lang::Tam => "ta",
        Lang::Tel => "te",
        Lang::Tgl => "tl",
        Lang::Tha => "th",
        Lang::Tuk => "tk",
        Lang::Tur => "tr",
        Lang::Ukr => "uk",
        Lang::Urd => "ur",
        Lang::Uzb => "uz",
        Lang::Vie => "vi",
        Lang::Yid => "yi",
        Lang::Zul => "zu",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_whatlang_language_has_its_own_two_letter_code() {
        let mut codes: Vec<&str> = Lang::all().iter().map(|&lang| iso_639_1(lang)).collect();
        assert!(codes.iter().all(|code| code.len() == 2));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Lang::all().len());
        for &lang in Lang::all() {
            assert_eq!(lang_of(iso_639_1(lang)), Some(lang));
        }
    }

    #[test]
    fn sample_is_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_SAMPLE_BYTES);
        let sample = leading_sample(&text);
        assert!(sample.len() <= MAX_SAMPLE_BYTES && sample.len() >= MAX_SAMPLE_BYTES - 1);
    }
}
