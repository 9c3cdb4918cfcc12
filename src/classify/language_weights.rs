//! Language-specific weights: a head that keeps shared weights for every language and, for a few named
//! languages, weights of their own on top.
//!
//! Why: a head trained on Dutch and English reviews together learns what the two have in common, and a head
//! trained on one language alone fits that language better but serves the others worse and sees half the data.
//! Expanding each embedding `x` into `[x, x if the text is language 1, ..., x if language L]` (zeros elsewhere)
//! lets one linear head have both: its effective weights for language `l` are the shared block plus block `l`,
//! and the L2 penalty that the trainer chooses on validation decides how far each language may move away from
//! the shared weights ("frustratingly easy domain adaptation", Daumé III, 2007). Texts in any other language,
//! or of no detected language, read the shared block alone.
//!
//! Contract: `expand` turns `d`-wide rows into `d * (1 + L)`-wide rows for the `L` languages named, in the
//! order named; every user of a head applies it after language centring (`LinearHead::input`), with the
//! languages detected the way centring detects them, so training and inference see the same features.

use crate::error::{Error, Result};
use crate::model::Embeddings;

/// `embeddings` with one extra block per language in `specific`: a copy of the row in its language's block,
/// zeros in the others (`languages`, one per row; `None` or another language fills no extra block).
pub fn expand(
    embeddings: &Embeddings,
    languages: &[Option<&str>],
    specific: &[String],
) -> Result<Embeddings> {
    if languages.len() != embeddings.len() {
        return Err(Error::model(format!(
            "language-specific weights: {} languages for {} embeddings",
            languages.len(),
            embeddings.len()
        )));
    }
    let d = embeddings.dim;
    let width = d * (1 + specific.len());
    let mut vectors = vec![0f32; width * embeddings.len()];
    for (row, (out, language)) in vectors
        .chunks_exact_mut(width.max(1))
        .zip(languages)
        .enumerate()
    {
        let x = embeddings.row(row);
        out[..d].copy_from_slice(x);
        if let Some(block) = language.and_then(|l| specific.iter().position(|s| s == l)) {
            let start = d * (1 + block);
            out[start..start + d].copy_from_slice(x);
        }
    }
    Ok(Embeddings {
        dim: width,
        vectors,
        n_tokens: embeddings.n_tokens.clone(),
        n_chunks: embeddings.n_chunks.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_copied_into_the_shared_block_and_its_own_languages_block() {
        let embeddings = Embeddings {
            dim: 2,
            vectors: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            n_tokens: vec![1, 2, 3],
            n_chunks: vec![1, 1, 1],
        };
        let specific = ["nl".to_string(), "en".to_string()];
        let expanded = expand(&embeddings, &[Some("en"), Some("de"), None], &specific).unwrap();
        assert_eq!(expanded.dim, 6);
        assert_eq!(
            expanded.vectors,
            vec![
                1.0, 2.0, 0.0, 0.0, 1.0, 2.0, // en: shared + en block
                3.0, 4.0, 0.0, 0.0, 0.0, 0.0, // de: shared only
                5.0, 6.0, 0.0, 0.0, 0.0, 0.0, // undetected: shared only
            ]
        );
        assert_eq!(expanded.n_tokens, vec![1, 2, 3]);
        let nl = expand(&embeddings, &[Some("nl"), None, None], &specific).unwrap();
        assert_eq!(&nl.vectors[..6], &[1.0, 2.0, 1.0, 2.0, 0.0, 0.0]);
        assert!(expand(&embeddings, &[None], &specific).is_err());
    }
}
