//! Zero-shot from label names alone: the cold start before anyone has labelled an example
//! (`touchpoint eval --label-names`).
//!
//! Contract: each label becomes a phrase (`card_arrival` -> "card arrival", set in a template such as "I have a
//! question about {}"), embedded like the texts; each text gets the label whose phrase is nearest. Two things
//! make this work far better than the plain nearest phrase, and both use only the unlabelled texts being
//! classified, never their labels:
//!
//! - **Centring.** Short label phrases and long customer messages occupy different regions of the embedding
//!   space (e5 embeddings share a large common direction per kind of text). Each side's own mean is removed
//!   before comparing, so that what is compared is what sets one phrase or text apart from the others.
//! - **Adaptation** (transductive, like a few rounds of soft k-means seeded by the phrases): each label's
//!   centre moves to its phrase plus the weighted mean of the texts that lean towards it, and the texts are
//!   assigned again. A phrase says little; the texts that clearly match it say how customers put it.
//!
//! The result depends on the whole set of texts classified together, and is deterministic for a given set and
//! order.

use rayon::prelude::*;

use crate::model::bert::l2_normalise;
use crate::model::Embeddings;

/// The phrase template of `--label-names`: customers' messages are questions and requests, and a label set in
/// such a sentence sits nearer to them than the bare words (measured on Banking77, EVALUATION.md).
pub const DEFAULT_TEMPLATE: &str = "I have a question about {}";

/// A label as words in `template` (its `{}` replaced): separators become spaces, other punctuation goes,
/// camelCase is split and everything is lower case.
pub fn phrase(label: &str, template: &str) -> String {
    let mut words = String::with_capacity(label.len() + 4);
    let mut previous: Option<char> = None;
    for c in label.trim().chars() {
        if c == '_' || c == '-' || c == '.' || c == '/' || c.is_whitespace() {
            words.push(' ');
        } else if c.is_alphanumeric() {
            if c.is_uppercase() && previous.is_some_and(char::is_lowercase) {
                words.push(' ');
            }
            words.extend(c.to_lowercase());
        }
        previous = Some(c);
    }
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    if template.contains("{}") {
        template.replace("{}", &words)
    } else {
        words
    }
}

/// How the label centres adapt to the texts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adaptation {
    pub rounds: usize,
    /// Softmax temperature of a text's leaning towards each label (cosines of centred vectors): low is close
    /// to a hard assignment.
    pub temperature: f32,
}

impl Default for Adaptation {
    fn default() -> Self {
        Adaptation {
            rounds: 10,
            temperature: 0.05,
        }
    }
}

/// The index of the nearest label for every text. `phrases` holds one embedding per label; `adaptation`
/// `None` compares the centred vectors once, without moving the centres.
pub fn classify(
    phrases: &Embeddings,
    texts: &Embeddings,
    adaptation: Option<Adaptation>,
) -> Vec<usize> {
    if phrases.is_empty() || texts.is_empty() {
        return vec![0; texts.len()];
    }
    let dim = phrases.dim;
    let seeds = centred(phrases);
    let points = centred(texts);
    let mut centres = seeds.clone();
    let (rounds, temperature) =
        adaptation.map_or((0, 1.0), |a| (a.rounds, a.temperature.max(1e-6)));
    for _ in 0..rounds {
        let leaning: Vec<Vec<f32>> = points
            .par_chunks(dim)
            .map(|x| super::linear::softmax(&cosines(x, &centres, dim), temperature))
            .collect();
        // Summed in row order on one thread, so the result does not depend on the thread count.
        let mut sums = vec![0f32; centres.len()];
        let mut mass = vec![0f32; phrases.len()];
        for (x, weights) in points.chunks(dim).zip(&leaning) {
            for (label, &w) in weights.iter().enumerate() {
                mass[label] += w;
                for (s, v) in sums[label * dim..(label + 1) * dim].iter_mut().zip(x) {
                    *s += w * v;
                }
            }
        }
        for label in 0..phrases.len() {
            let centre = &mut centres[label * dim..(label + 1) * dim];
            let seed = &seeds[label * dim..(label + 1) * dim];
            let sum = &sums[label * dim..(label + 1) * dim];
            let m = mass[label].max(1e-12);
            for ((c, s), t) in centre.iter_mut().zip(seed).zip(sum) {
                *c = s + t / m;
            }
            l2_normalise(centre);
        }
    }
    points
        .par_chunks(dim)
        .map(|x| {
            let scores = cosines(x, &centres, dim);
            super::linear::argmax(&scores).0
        })
        .collect()
}

/// The vectors with their mean removed, each scaled to unit length.
fn centred(embeddings: &Embeddings) -> Vec<f32> {
    let mean = super::language_centring::column_mean(embeddings);
    let mut vectors = embeddings.vectors.clone();
    vectors.par_chunks_mut(embeddings.dim).for_each(|row| {
        row.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
        l2_normalise(row);
    });
    vectors
}

/// Dot products of unit vector `x` with every unit vector in `centres`: their cosines.
fn cosines(x: &[f32], centres: &[f32], dim: usize) -> Vec<f32> {
    centres
        .chunks(dim)
        .map(|c| c.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embeddings(dim: usize, rows: &[&[f32]]) -> Embeddings {
        Embeddings {
            dim,
            vectors: rows.iter().flat_map(|r| r.iter().copied()).collect(),
            n_tokens: vec![1; rows.len()],
            n_chunks: vec![1; rows.len()],
        }
    }

    #[test]
    fn labels_become_phrases() {
        assert_eq!(phrase("card_arrival", "{}"), "card arrival");
        assert_eq!(
            phrase("Refund_not_showing_up", "{}"),
            "refund not showing up"
        );
        assert_eq!(
            phrase("reverted_card_payment?", "{}"),
            "reverted card payment"
        );
        assert_eq!(phrase("trackOrder", "{}"), "track order");
        assert_eq!(
            phrase("  top-up  limits ", "about {}"),
            "about top up limits"
        );
        assert_eq!(phrase("ATM", "{}"), "atm");
        assert_eq!(phrase("a_b", "no placeholder"), "a b");
    }

    #[test]
    fn a_shared_offset_does_not_decide_the_label() {
        // Both phrases lie far along the third axis, the texts far along the fourth: compared raw, every text
        // is about as near to either phrase. Centred, the first two axes decide.
        let phrases = embeddings(4, &[&[1.0, 0.0, 5.0, 0.0], &[0.0, 1.0, 5.0, 0.0]]);
        let texts = embeddings(
            4,
            &[
                &[0.9, 0.1, 0.0, 5.0],
                &[0.2, 0.8, 0.0, 5.0],
                &[0.7, 0.3, 0.0, 5.0],
            ],
        );
        assert_eq!(classify(&phrases, &texts, None), vec![0, 1, 0]);
    }

    #[test]
    fn adaptation_follows_the_texts_that_clearly_match() {
        // Three clusters of texts, each nearest its own phrase only roughly (label 0's texts lie between the
        // first two phrases): once the centres follow their texts, every text lands in its own cluster.
        let phrases = embeddings(3, &[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[-1.0, -1.0, 0.0]]);
        let texts = embeddings(
            3,
            &[
                &[0.8, 0.7, 0.0],
                &[0.85, 0.65, 0.0],
                &[0.6, 0.62, 0.0],
                &[-0.1, 1.0, 0.0],
                &[-0.2, 0.9, 0.0],
                &[-0.8, -0.9, 0.0],
                &[-0.9, -0.8, 0.0],
            ],
        );
        let adapted = classify(&phrases, &texts, Some(Adaptation::default()));
        assert_eq!(adapted, vec![0, 0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn empty_inputs_do_not_panic() {
        let none = embeddings(3, &[]);
        let one = embeddings(3, &[&[1.0, 0.0, 0.0]]);
        assert!(classify(&one, &none, None).is_empty());
        assert_eq!(classify(&none, &one, Some(Adaptation::default())), vec![0]);
    }
}
