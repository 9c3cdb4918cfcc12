//! Language centring: removing each language's mean from sentence embeddings, so that a head trained on one
//! language serves the others.
//!
//! Why: a multilingual encoder places the same request in Dutch and in English close together, but every
//! language also shifts all its sentences by a common offset. A head trained on English texts alone folds
//! English's offset into its biases; a Dutch text then arrives shifted, and the shift moves the logits of some
//! labels more than others. Subtracting the mean embedding of the text's language (and L2-normalising again)
//! removes that offset for training and inference alike.
//!
//! Contract: `LanguageCentring::estimate` embeds the shipped parallel reference
//! (`models/language-reference/parallel.csv`: the same topic-neutral customer-contact sentences in every
//! supported language, none about an evaluation set's intents) with the head's encoder and prefix, and keeps
//! one mean per language; texts whose language is not detected, or is not one of these, take the mean of the
//! language means. `apply` centres and renormalises every row. The means are stored in the head's `head.json`,
//! so a head centres exactly as it did in training, with no reference file needed at inference.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::bert::l2_normalise;
use crate::model::{Embeddings, Encoder};
use crate::normalize::LanguageDetector;

/// The parallel reference sentences, one column per language (ISO 639-1), built into the binary so that
/// training works from an installed binary alone.
const PARALLEL_REFERENCE: &str = include_str!("../../models/language-reference/parallel.csv");

/// Per-language mean embeddings of one encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageCentring {
    /// ISO 639-1 code -> mean embedding of the reference sentences in that language.
    pub means: BTreeMap<String, Vec<f32>>,
    /// The mean of the language means: the offset removed from texts of no known language.
    pub fallback: Vec<f32>,
    /// Sentences per language the means were estimated from.
    pub reference_sentences: usize,
}

impl LanguageCentring {
    /// Estimates the means with `encoder` (texts prefixed with `prefix` and read at `layers`, as the head's
    /// inputs are; see `Encoder::embed_features`).
    pub fn estimate(
        encoder: &Encoder,
        prefix: &str,
        token_budget: usize,
        layers: &[usize],
    ) -> Result<Self> {
        let reference = parallel_reference()?;
        let mut means = BTreeMap::new();
        let mut sentences = 0;
        for (language, texts) in &reference {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let embeddings = encoder.embed_features(&refs, prefix, token_budget, layers)?;
            means.insert(language.clone(), column_mean(&embeddings));
            sentences = texts.len();
        }
        let mut fallback = vec![0f32; means.values().next().map_or(0, Vec::len)];
        for mean in means.values() {
            for (f, m) in fallback.iter_mut().zip(mean) {
                *f += m / means.len() as f32;
            }
        }
        Ok(LanguageCentring {
            means,
            fallback,
            reference_sentences: sentences,
        })
    }

    /// The languages with a mean of their own.
    pub fn languages(&self) -> Vec<&str> {
        self.means.keys().map(String::as_str).collect()
    }

    /// Detects each text's language among `languages()`, the way the head was trained.
    pub fn detect(&self, texts: &[&str]) -> Vec<Option<&'static str>> {
        let detector = LanguageDetector::among(&self.languages());
        texts
            .par_iter()
            .with_min_len(64)
            .map(|t| detector.detect(t).map(|(code, _)| code))
            .collect()
    }

    /// `embeddings` with each row's language mean removed (`languages`, one per row; `None` or a language
    /// without a mean takes the fallback), L2-normalised again.
    pub fn apply(&self, embeddings: &Embeddings, languages: &[Option<&str>]) -> Result<Embeddings> {
        if languages.len() != embeddings.len() {
            return Err(Error::model(format!(
                "language centring: {} languages for {} embeddings",
                languages.len(),
                embeddings.len()
            )));
        }
        if embeddings.dim != self.fallback.len() && !embeddings.is_empty() {
            return Err(Error::model(format!(
                "language centring expects {}-dimensional embeddings, got {}",
                self.fallback.len(),
                embeddings.dim
            )));
        }
        let mut vectors = embeddings.vectors.clone();
        vectors
            .par_chunks_mut(embeddings.dim.max(1))
            .zip(languages.par_iter())
            .for_each(|(row, language)| {
                let mean = language
                    .and_then(|l| self.means.get(l))
                    .unwrap_or(&self.fallback);
                for (x, m) in row.iter_mut().zip(mean) {
                    *x -= m;
                }
                l2_normalise(row);
            });
        Ok(Embeddings {
            dim: embeddings.dim,
            vectors,
            n_tokens: embeddings.n_tokens.clone(),
            n_chunks: embeddings.n_chunks.clone(),
        })
    }
}

/// The languages that get a mean of their own (those of the parallel reference).
pub fn reference_languages() -> Result<Vec<String>> {
    Ok(parallel_reference()?.into_keys().collect())
}

/// The reference sentences by language, from the built-in CSV (header: one ISO 639-1 code per column).
fn parallel_reference() -> Result<BTreeMap<String, Vec<String>>> {
    let bad =
        |what: String| Error::model(format!("models/language-reference/parallel.csv: {what}"));
    let mut reader = csv::Reader::from_reader(PARALLEL_REFERENCE.as_bytes());
    let languages: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut out: BTreeMap<String, Vec<String>> =
        languages.iter().map(|l| (l.clone(), Vec::new())).collect();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", row + 2)))?;
        for (language, text) in languages.iter().zip(record.iter()) {
            out.get_mut(language)
                .expect("every header has a column")
                .push(text.to_string());
        }
    }
    if out.values().any(Vec::is_empty) {
        return Err(bad("a language without sentences".to_string()));
    }
    Ok(out)
}

/// The mean of the rows (zeros when there are none).
pub(crate) fn column_mean(embeddings: &Embeddings) -> Vec<f32> {
    let mut mean = vec![0f32; embeddings.dim];
    for i in 0..embeddings.len() {
        for (m, x) in mean.iter_mut().zip(embeddings.row(i)) {
            *m += x / embeddings.len() as f32;
        }
    }
    mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_has_four_languages_of_equal_length() {
        let reference = parallel_reference().unwrap();
        assert_eq!(
            reference.keys().map(String::as_str).collect::<Vec<_>>(),
            ["de", "en", "fr", "nl"]
        );
        let lengths: Vec<usize> = reference.values().map(Vec::len).collect();
        assert!(lengths.iter().all(|&n| n == lengths[0] && n >= 50));
    }

    #[test]
    fn apply_removes_the_language_mean_and_renormalises() {
        let centring = LanguageCentring {
            means: BTreeMap::from([("nl".to_string(), vec![0.5, 0.0])]),
            fallback: vec![0.0, 0.5],
            reference_sentences: 1,
        };
        let embeddings = Embeddings {
            dim: 2,
            vectors: vec![1.0, 0.0, 0.0, 1.0],
            n_tokens: vec![3, 3],
            n_chunks: vec![1, 1],
        };
        let centred = centring.apply(&embeddings, &[Some("nl"), None]).unwrap();
        // nl: (1 - 0.5, 0) normalised; undetected: (0, 1 - 0.5) normalised.
        assert_eq!(centred.vectors, vec![1.0, 0.0, 0.0, 1.0]);
        let centred = centring.apply(&embeddings, &[None, Some("nl")]).unwrap();
        let s = 1.0 / 1.25f32.sqrt();
        for (got, want) in centred.vectors.iter().zip([s, -0.5 * s, -0.5 * s, s]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!(centring.apply(&embeddings, &[None]).is_err());
    }
}
