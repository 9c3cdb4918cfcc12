//! Sentiment of interactions and of customer turns.
//!
//! Contract: a `SentimentModel` turns texts (through their embeddings, or itself for a Hub classifier) into a
//! probability per class; each class is mapped onto a `Polarity`: one of `schema::SENTIMENTS` and a value in
//! -1..=1. The answer is the most probable class's sentiment, and `sentiment_score` is the expected value,
//! `sum(p * value)`, so a confident positive scores near 1, a confident negative near -1, and neutral, mixed
//! or uncertain texts near 0. Class names are mapped by `polarity_of` (negative / neutral / positive /
//! mixed or ambivalent in several languages, star ratings, `LABEL_n` only through the pipeline's `labels`).
//!
//! Two kinds of model: a linear head on the shared embeddings (the built-in one, trained on MultiEmo nl+en
//! and shipped in `models/sentiment-multiemo/`, or one trained with `touchpoint train`), or a Hugging Face
//! sequence classifier that reads the texts itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, Float32Builder, ListBuilder, StringBuilder, StructBuilder, UInt32Builder,
};
use arrow_array::{ArrayRef, Float32Array, StringArray};
use arrow_schema::DataType;

use super::linear::LinearHead;
use crate::error::{Error, Result};
use crate::model::{Embeddings, Encoder, LayerEmbeddings, SequenceClassifier};
use crate::schema;

/// The built-in head's files, compiled in so that every binary has it.
const BUILTIN_META: &str = include_str!("../../models/sentiment-multiemo/head.json");
const BUILTIN_WEIGHTS: &[u8] = include_bytes!("../../models/sentiment-multiemo/head.safetensors");
/// How the built-in head is named in logs and file metadata.
pub const BUILTIN: &str = "builtin:sentiment-multiemo";

/// Score change between a conversation's first and last customer turn that counts as a trend.
pub const TREND_MIN_CHANGE: f32 = 0.3;

/// Where a class sits: its sentiment value (`schema::SENTIMENTS`) and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polarity {
    pub sentiment: &'static str,
    pub value: f32,
}

/// One text's sentiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentimentScore {
    pub sentiment: &'static str,
    /// -1 (negative) ..= 1 (positive).
    pub score: f32,
}

enum Model {
    Head(Box<LinearHead>),
    Classifier(Box<SequenceClassifier>),
}

/// A sentiment model with its classes mapped onto polarities.
pub struct SentimentModel {
    model: Model,
    polarities: Vec<Polarity>,
    name: String,
}

impl SentimentModel {
    /// The head shipped with touchpoint, for the default encoder.
    pub fn builtin() -> Result<SentimentModel> {
        let head = LinearHead::from_bytes(BUILTIN_META, BUILTIN_WEIGHTS, BUILTIN)?;
        SentimentModel::from_head(head, &BTreeMap::new(), BUILTIN)
    }

    /// A head trained with `touchpoint train` on sentiment labels; `labels` maps its class names where
    /// `polarity_of` cannot.
    pub fn from_head(
        head: LinearHead,
        labels: &BTreeMap<String, String>,
        name: &str,
    ) -> Result<SentimentModel> {
        let polarities = polarities(head.labels(), labels, name)?;
        Ok(SentimentModel {
            model: Model::Head(Box::new(head)),
            polarities,
            name: name.to_string(),
        })
    }

    /// A Hugging Face sequence classifier; its `id2label` names are mapped like a head's.
    pub fn from_classifier(
        classifier: SequenceClassifier,
        labels: &BTreeMap<String, String>,
    ) -> Result<SentimentModel> {
        let name = classifier.location().id.clone();
        let polarities = polarities(classifier.labels(), labels, &name)?;
        Ok(SentimentModel {
            model: Model::Classifier(Box::new(classifier)),
            polarities,
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The head, when the model reads the shared embeddings (its encoder must be the one that made them).
    pub fn head(&self) -> Option<&LinearHead> {
        match &self.model {
            Model::Head(head) => Some(head),
            Model::Classifier(_) => None,
        }
    }

    /// The layers a batch's embeddings must hold for `score`: a head's (none for a classifier).
    pub fn layers(&self) -> &[usize] {
        self.head().map_or(&[], LinearHead::layers)
    }

    /// Sentiment of the texts whose `embeddings` (from `encoder`, holding `layers()`) or whose texts are
    /// given; a head reads the embeddings, a classifier the texts.
    pub fn score(
        &self,
        texts: &[&str],
        embeddings: &LayerEmbeddings,
        token_budget: usize,
    ) -> Result<Vec<SentimentScore>> {
        match &self.model {
            Model::Head(head) => {
                let features = embeddings.features(head.layers())?;
                self.score_features(head, texts, &features)
            }
            Model::Classifier(classifier) => self.score_classifier(classifier, texts, token_budget),
        }
    }

    /// Sentiment of texts that have no embeddings yet (customer turns): embeds them with `encoder` for a head.
    pub fn score_texts(
        &self,
        encoder: &Encoder,
        prefix: &str,
        texts: &[&str],
        token_budget: usize,
    ) -> Result<Vec<SentimentScore>> {
        match &self.model {
            Model::Head(head) => {
                let features =
                    encoder.embed_features(texts, prefix, token_budget, head.layers())?;
                self.score_features(head, texts, &features)
            }
            Model::Classifier(classifier) => self.score_classifier(classifier, texts, token_budget),
        }
    }

    fn score_features(
        &self,
        head: &LinearHead,
        texts: &[&str],
        features: &Embeddings,
    ) -> Result<Vec<SentimentScore>> {
        let input = head.input_for_texts(features, texts)?;
        Ok(head
            .predict_with_probabilities(&input)?
            .iter()
            .map(|(_, p)| self.combine(p))
            .collect())
    }

    fn score_classifier(
        &self,
        classifier: &SequenceClassifier,
        texts: &[&str],
        token_budget: usize,
    ) -> Result<Vec<SentimentScore>> {
        let probabilities = classifier.probabilities(texts, token_budget)?;
        Ok(probabilities.iter().map(|p| self.combine(p)).collect())
    }

    fn combine(&self, probabilities: &[f32]) -> SentimentScore {
        let (best, _) = super::linear::argmax(probabilities);
        let score: f32 = probabilities
            .iter()
            .zip(&self.polarities)
            .map(|(p, polarity)| p * polarity.value)
            .sum();
        SentimentScore {
            sentiment: self.polarities[best].sentiment,
            score: score.clamp(-1.0, 1.0),
        }
    }
}

fn polarities(
    classes: &[String],
    overrides: &BTreeMap<String, String>,
    model: &str,
) -> Result<Vec<Polarity>> {
    classes
        .iter()
        .map(|class| {
            let mapped = overrides.get(class).map(String::as_str).unwrap_or(class);
            polarity_of(mapped).ok_or_else(|| {
                Error::model(format!(
                    "{model}: class '{class}' cannot be read as a sentiment; map it in the pipeline's \
                     [sentiment] labels (to one of {})",
                    schema::SENTIMENTS.join(", ")
                ))
            })
        })
        .collect()
}

/// A class name read as a polarity: sentiment words in English, Dutch, German and French (and common
/// abbreviations), `ambivalent` as `mixed`, and star ratings (`1 star` .. `5 stars`: 1-2 negative, 3
/// neutral, 4-5 positive, scored linearly).
pub fn polarity_of(class: &str) -> Option<Polarity> {
    let name = class.trim().to_lowercase();
    let [negative, neutral, positive, mixed] = schema::SENTIMENTS;
    let word = |sentiment: &'static str, value: f32| Some(Polarity { sentiment, value });
    match name.as_str() {
        "negative" | "neg" | "negatief" | "negativ" | "négatif" | "negatif" => {
            word(negative, -1.0)
        }
        "neutral" | "neu" | "neutraal" | "neutre" => word(neutral, 0.0),
        "positive" | "pos" | "positief" | "positiv" | "positif" => word(positive, 1.0),
        "mixed" | "ambivalent" | "gemengd" | "gemischt" | "mitigé" => word(mixed, 0.0),
        _ => {
            let stars: u32 = name
                .strip_suffix(" stars")
                .or_else(|| name.strip_suffix(" star"))?
                .trim()
                .parse()
                .ok()?;
            let sentiment = match stars {
                1 | 2 => negative,
                3 => neutral,
                4 | 5 => positive,
                _ => return None,
            };
            word(sentiment, (stars as f32 - 3.0) / 2.0)
        }
    }
}

/// The trend of a conversation from its customer turns' scores: `improving` when the last turn scores at
/// least `TREND_MIN_CHANGE` above the first, `worsening` when that much below, else `flat`; `None` with
/// fewer than two turns.
pub fn trend(scores: &[f32]) -> Option<&'static str> {
    let (first, last) = (scores.first()?, scores.last()?);
    if scores.len() < 2 {
        return None;
    }
    let change = last - first;
    Some(if change >= TREND_MIN_CHANGE {
        "improving"
    } else if change <= -TREND_MIN_CHANGE {
        "worsening"
    } else {
        "flat"
    })
}

/// The sentiment columns of one batch (`schema::sentiment_fields`): the texts' sentiment and score, and with
/// `turns` (the customer turns per row, `normalize::customer_turns`) the per-turn list, start, end and trend.
pub fn columns(
    model: &SentimentModel,
    encoder: &Encoder,
    prefix: &str,
    texts: &[&str],
    embeddings: &LayerEmbeddings,
    turns: Option<&[Option<Vec<crate::normalize::CustomerTurn>>]>,
    token_budget: usize,
) -> Result<Vec<ArrayRef>> {
    let scores = model.score(texts, embeddings, token_budget)?;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            scores.iter().map(|s| s.sentiment),
        )),
        Arc::new(Float32Array::from_iter_values(
            scores.iter().map(|s| s.score),
        )),
    ];
    let Some(turns) = turns else {
        return Ok(columns);
    };
    let turn_texts: Vec<&str> = turns
        .iter()
        .flatten()
        .flatten()
        .map(|t| t.text.as_str())
        .collect();
    let turn_scores = model.score_texts(encoder, prefix, &turn_texts, token_budget)?;
    let mut list = ListBuilder::new(StructBuilder::from_fields(
        schema::turn_sentiment_fields(),
        turn_texts.len(),
    ))
    .with_field(schema::list_item(DataType::Struct(
        schema::turn_sentiment_fields(),
    )));
    let mut start = StringBuilder::new();
    let mut end = StringBuilder::new();
    let mut trends = StringBuilder::new();
    let mut next = turn_scores.iter();
    for row in turns {
        let Some(row) = row else {
            list.append_null();
            start.append_null();
            end.append_null();
            trends.append_null();
            continue;
        };
        let scored: Vec<(u32, SentimentScore)> = row
            .iter()
            .map(|t| (t.index, *next.next().expect("one score per turn")))
            .collect();
        let entries = list.values();
        for (index, score) in &scored {
            field::<UInt32Builder>(entries, 0).append_value(*index);
            field::<StringBuilder>(entries, 1).append_value(score.sentiment);
            field::<Float32Builder>(entries, 2).append_value(score.score);
            entries.append(true);
        }
        list.append(true);
        start.append_option(scored.first().map(|(_, s)| s.sentiment));
        end.append_option(scored.last().map(|(_, s)| s.sentiment));
        let values: Vec<f32> = scored.iter().map(|(_, s)| s.score).collect();
        trends.append_option(trend(&values));
    }
    columns.push(Arc::new(list.finish()));
    columns.push(Arc::new(start.finish()));
    columns.push(Arc::new(end.finish()));
    columns.push(Arc::new(trends.finish()));
    Ok(columns)
}

fn field<T: ArrayBuilder>(entries: &mut StructBuilder, index: usize) -> &mut T {
    entries
        .field_builder::<T>(index)
        .expect("builder types follow schema::turn_sentiment_fields")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_map_onto_polarities() {
        assert_eq!(polarity_of("Negative").unwrap().sentiment, "negative");
        assert_eq!(polarity_of("ambivalent").unwrap().sentiment, "mixed");
        assert_eq!(polarity_of("positief").unwrap().value, 1.0);
        let two = polarity_of("2 stars").unwrap();
        assert_eq!((two.sentiment, two.value), ("negative", -0.5));
        assert_eq!(polarity_of("5 stars").unwrap().value, 1.0);
        assert_eq!(polarity_of("3 stars").unwrap().sentiment, "neutral");
        assert!(polarity_of("LABEL_0").is_none());
        assert!(polarity_of("6 stars").is_none());
    }

    #[test]
    fn trends_need_two_turns_and_a_clear_change() {
        assert_eq!(trend(&[]), None);
        assert_eq!(trend(&[-0.8]), None);
        assert_eq!(trend(&[-0.8, 0.1, 0.6]), Some("improving"));
        assert_eq!(trend(&[0.5, -0.2]), Some("worsening"));
        assert_eq!(trend(&[0.1, 0.3]), Some("flat"));
    }
}
