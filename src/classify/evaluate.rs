//! `touchpoint eval`: scores a trained head, a zero-shot pipeline or the label names alone on a labelled file.
//!
//! Contract: the file is read like training data (`LabelledData`), embedded with the classifier's own
//! model and prefix (through the embedding cache), classified, and compared with the gold labels
//! (`metrics::Report`). A head is only run on the model it was trained on (its sha256 must match the
//! resolved model's). With a `category` column, a second report rolls labels up to categories: each label
//! counts as the category most of its gold rows carry, and `unknown` stays `unknown`.
//!
//! Two views for coarser questions: `merge` renames labels in the gold labels and the answers alike (a 4-class
//! sentiment head scored as 3-class), and `only` keeps the rows whose gold label is in the set and lets a head
//! choose among those labels alone (a 4-class head scored on positive vs negative).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use super::cache;
use super::label_names;
use super::labelled::{LabelledColumns, LabelledData};
use super::linear::LinearHead;
use super::metrics::Report;
use super::zero_shot::{predicted_labels, ZeroShot};
use crate::error::Result;
use crate::model::{store, Encoder, Precision};
use crate::pipeline::Pipeline;
use crate::schema;

/// What is evaluated.
#[derive(Debug, Clone)]
pub enum Classifier {
    /// A folder written by `touchpoint train`.
    Head(PathBuf),
    /// A pipeline file, classified zero-shot.
    Pipeline(PathBuf),
    /// Zero-shot from the file's own label names (`label_names`): each label set in `template`; `adapt`
    /// lets the label centres move towards the texts.
    LabelNames { template: String, adapt: bool },
}

#[derive(Debug, Clone)]
pub struct EvalRequest {
    pub data: PathBuf,
    pub columns: LabelledColumns,
    pub classifier: Classifier,
    /// Overrides a pipeline's model (a head always uses its own).
    pub model: Option<String>,
    pub offline: bool,
    /// `None`: the pipeline's precision, else f32.
    pub precision: Option<Precision>,
    pub token_budget: usize,
    pub cache_dir: Option<PathBuf>,
    pub oos_label: Option<String>,
    /// (from, to): count label `from` as `to`, in gold and answers.
    pub merge: Vec<(String, String)>,
    /// When not empty: score only rows whose gold label is listed, the head choosing among these labels.
    pub only: Vec<String>,
}

/// The result of `eval`: the label report, and the category roll-up when the file has categories.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    #[serde(flatten)]
    pub report: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Report>,
    pub classifier: String,
    pub data: String,
}

pub fn evaluate(request: &EvalRequest) -> Result<Evaluation> {
    let mut data = LabelledData::read(&request.data, &request.columns)?;
    if !request.only.is_empty() {
        let keep: Vec<bool> = data
            .labels
            .iter()
            .map(|l| request.only.contains(l))
            .collect();
        data.retain_rows(&keep);
    }
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let cache_dir = request.cache_dir.as_deref();
    let budget = request.token_budget.max(1);
    let (predicted, classifier) = match &request.classifier {
        Classifier::Head(dir) => {
            let head = LinearHead::load(dir)?;
            let meta = head.meta();
            let location = head.encoder_location(dir, request.offline)?;
            let precision = request.precision.unwrap_or_default();
            let encoder = Encoder::load(location, precision, Some(meta.model.max_tokens))?;
            let embeddings = cache::embed_cached(
                &encoder,
                &texts,
                &meta.model.query_prefix,
                budget,
                head.layers(),
                cache_dir,
            )?;
            let embeddings = head.input_for_texts(&embeddings, &texts)?;
            let predicted = if request.only.is_empty() {
                head.predicted_labels(&embeddings)?
            } else {
                head.best_among(&embeddings, &request.only)?
            };
            (predicted, format!("head {}", dir.display()))
        }
        Classifier::Pipeline(path) => {
            let pipeline = Pipeline::load(path)?;
            let spec = request
                .model
                .clone()
                .unwrap_or_else(|| pipeline.model.encoder.clone());
            let location = store::resolve(&spec, request.offline, &mut |m| log::info!("{m}"))?;
            let precision = request.precision.unwrap_or(pipeline.model.precision);
            let encoder = Encoder::load(location, precision, Some(pipeline.model.max_tokens))?;
            let zero_shot = ZeroShot::build(&pipeline, &encoder, cache_dir, budget)?;
            let embeddings = cache::embed_cached(
                &encoder,
                &texts,
                &pipeline.model.query_prefix,
                budget,
                &[],
                cache_dir,
            )?;
            (
                predicted_labels(&zero_shot.classify(&embeddings)),
                format!("zero-shot pipeline {}", path.display()),
            )
        }
        Classifier::LabelNames { template, adapt } => {
            // The out-of-scope label names no topic, so it is not a phrase to be near.
            let labels: Vec<String> = data
                .labels
                .iter()
                .filter(|l| Some(l.as_str()) != request.oos_label.as_deref())
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if labels.is_empty() {
                return Err(crate::error::Error::input(
                    crate::error::Location::file(&request.data),
                    "--label-names: the file has no in-scope labels to classify into",
                ));
            }
            let spec = match &request.model {
                Some(m) => m.clone(),
                None => store::default_model_name()?,
            };
            let location = store::resolve(&spec, request.offline, &mut |m| log::info!("{m}"))?;
            let encoder = Encoder::load(location, request.precision.unwrap_or_default(), None)?;
            let phrases: Vec<String> = labels
                .iter()
                .map(|l| label_names::phrase(l, template))
                .collect();
            let phrase_refs: Vec<&str> = phrases.iter().map(String::as_str).collect();
            let prefix = encoder.query_prefix().to_string();
            let phrase_embeddings =
                cache::embed_cached(&encoder, &phrase_refs, &prefix, budget, &[], cache_dir)?;
            let embeddings =
                cache::embed_cached(&encoder, &texts, &prefix, budget, &[], cache_dir)?;
            let adaptation = adapt.then(label_names::Adaptation::default);
            let predicted = label_names::classify(&phrase_embeddings, &embeddings, adaptation)
                .into_iter()
                .map(|i| labels[i].clone())
                .collect();
            (
                predicted,
                format!(
                    "zero-shot from label names (\"{template}\"{})",
                    if *adapt { ", adapted" } else { "" }
                ),
            )
        }
    };
    let merged = |label: &String| -> String {
        request
            .merge
            .iter()
            .find(|(from, _)| from == label)
            .map_or_else(|| label.clone(), |(_, to)| to.clone())
    };
    let predicted: Vec<String> = predicted.iter().map(merged).collect();
    data.labels = data.labels.iter().map(merged).collect();
    let oos = request.oos_label.as_deref();
    let report = Report::compute(&data.labels, &predicted, oos);
    let categories = data
        .categories
        .as_ref()
        .map(|categories| category_report(&data.labels, categories, &predicted));
    Ok(Evaluation {
        report,
        categories,
        classifier,
        data: request.data.display().to_string(),
    })
}

/// Labels rolled up to categories (see the module docs).
pub fn category_report(gold: &[String], categories: &[String], predicted: &[String]) -> Report {
    let mut votes: HashMap<&str, BTreeMap<&str, usize>> = HashMap::new();
    for (label, category) in gold.iter().zip(categories) {
        *votes
            .entry(label.as_str())
            .or_default()
            .entry(category.as_str())
            .or_default() += 1;
    }
    let category_of: HashMap<&str, &str> = votes
        .iter()
        .filter_map(|(label, counts)| {
            // Most rows win; ties go to the first category in name order, so the roll-up is stable.
            let best = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
            Some((*label, *best.0))
        })
        .collect();
    let roll_up = |label: &str| -> String {
        if label == schema::UNKNOWN_REASON {
            return label.to_string();
        }
        category_of.get(label).copied().unwrap_or(label).to_string()
    };
    let gold: Vec<String> = categories.to_vec();
    let predicted: Vec<String> = predicted.iter().map(|p| roll_up(p)).collect();
    Report::compute(&gold, &predicted, None)
}
