//! The contact reason of each interaction, from a trained head where it is confident and zero-shot similarity
//! elsewhere.
//!
//! Contract: a trained head (`touchpoint train --pipeline`) answers the rows where its calibrated probability
//! clears its own `unknown` threshold; every other row, and so every reason the head was never trained on, is
//! decided by zero-shot similarity to the pipeline's anchors, which may still say `unknown`. The
//! `contact_reason_source` column says which one decided. A head's labels must all be contact reasons of the
//! pipeline, so that both speak of the same reasons, except its out-of-scope class: a row the head finds out of
//! scope is `unknown`, decided by the head, because the head was shown what out of scope looks like and
//! zero-shot was not.

use std::path::Path;

use arrow_array::StringArray;

use super::linear::LinearHead;
use super::zero_shot::{top_ranked, Decision, ReasonColumns, Source, ZeroShot};
use crate::error::{Error, Result};
use crate::model::{Embeddings, LayerEmbeddings};

pub struct ReasonClassifier {
    zero_shot: ZeroShot,
    head: Option<TrainedHead>,
}

struct TrainedHead {
    head: LinearHead,
    /// Pipeline reason index of each head label (`None` for its out-of-scope class).
    reason_of_label: Vec<Option<usize>>,
}

impl ReasonClassifier {
    pub fn zero_shot(zero_shot: ZeroShot) -> ReasonClassifier {
        ReasonClassifier {
            zero_shot,
            head: None,
        }
    }

    /// Adds a trained head (loaded from `dir`, for error messages) in front of zero-shot.
    pub fn with_head(
        zero_shot: ZeroShot,
        head: LinearHead,
        dir: &Path,
    ) -> Result<ReasonClassifier> {
        let reasons = zero_shot.reasons();
        let mut reason_of_label = Vec::with_capacity(head.labels().len());
        let mut unknown = Vec::new();
        for (index, label) in head.labels().iter().enumerate() {
            match reasons.iter().position(|r| r == label) {
                Some(i) => reason_of_label.push(Some(i)),
                None if head.out_of_scope() == Some(index) => reason_of_label.push(None),
                None => unknown.push(label.as_str()),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::Usage(format!(
                "{}: head labels that are not contact reasons of the pipeline: {} (train with --pipeline to map labels onto reasons)",
                dir.display(),
                unknown.join(", ")
            )));
        }
        Ok(ReasonClassifier {
            zero_shot,
            head: Some(TrainedHead {
                head,
                reason_of_label,
            }),
        })
    }

    /// The layers a batch's `embeddings` must hold for `classify`: the head's (none without a head).
    pub fn head_layers(&self) -> &[usize] {
        self.head
            .as_ref()
            .map_or(&[], |trained| trained.head.layers())
    }

    /// The contact-reason columns for a batch of embeddings; `languages` (detected per row) selects the
    /// pipeline's per-language zero-shot thresholds. Zero-shot reads the sentence embeddings, the head the
    /// layers it names (`head_layers`), or `head_embeddings`: the same texts embedded by the head's fine-tuned
    /// encoder, when it has one.
    pub fn classify(
        &self,
        embeddings: &LayerEmbeddings,
        head_embeddings: Option<&Embeddings>,
        languages: Option<&StringArray>,
    ) -> Result<ReasonColumns> {
        let sentence = embeddings.features(&[])?;
        let mut decisions = self.zero_shot.decide(&sentence, languages);
        if let Some(trained) = &self.head {
            let top_k = self.zero_shot.top_k();
            let row_languages: Vec<Option<&str>> = match languages {
                Some(column) => column.iter().collect(),
                None => vec![None; sentence.len()],
            };
            let features = match head_embeddings {
                Some(tuned) => std::borrow::Cow::Borrowed(tuned),
                None => embeddings.features(trained.head.layers())?,
            };
            let input = trained.head.input(&features, &row_languages)?;
            let predictions = trained.head.predict_with_probabilities(&input)?;
            for (decision, (prediction, mut probabilities)) in decisions.iter_mut().zip(predictions)
            {
                if prediction.answer.is_none() && !prediction.out_of_scope {
                    continue;
                }
                // The ranking lists contact reasons only.
                if let Some(oos) = trained.head.out_of_scope() {
                    probabilities[oos] = f32::NEG_INFINITY;
                }
                *decision = Decision {
                    reason: prediction
                        .answer
                        .and_then(|label| trained.reason_of_label[label]),
                    score: prediction.probability,
                    top: top_ranked(&probabilities, top_k)
                        .into_iter()
                        .filter_map(|(i, p)| Some((trained.reason_of_label[i]?, p)))
                        .collect(),
                    source: Source::Head,
                };
            }
        }
        Ok(self.zero_shot.columns(&decisions))
    }
}
