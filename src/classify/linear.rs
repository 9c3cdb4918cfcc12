//! A trained linear softmax head on sentence embeddings, and its two files.
//!
//! Contract: a head maps an L2-normalised embedding `x` (or, for a head that names `model.layers`, the pooled
//! states of those encoder layers side by side, see `LayerEmbeddings::features`; centred by language first when the head records
//! per-language means, see `language_centring` and `LinearHead::input`, and expanded into shared and
//! per-language blocks when the head has language-specific weights, see `language_weights`) to logits `W x + b`, one per label; the calibrated
//! probabilities are `softmax(logits / temperature)`. The answer is the most probable label, or `unknown`
//! when that probability is under `unknown_below` (ties go to the label listed first). A head lives in a
//! folder as `head.safetensors` (`weight` `[labels, dim]` and `bias` `[labels]`, f32) and `head.json`
//! (`HeadMeta`: labels, temperature, threshold, the model it was trained on, training provenance and
//! validation figures). `save` then `load` gives a head with bit-identical weights and so identical
//! predictions. Loading checks that the two files agree; a head is only valid for the model whose sha256
//! it records, which callers check against the encoder they load.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::language_centring::LanguageCentring;
use crate::error::{Error, IoContext, Result};
use crate::model::Embeddings;
use crate::schema;

pub const WEIGHTS_FILE: &str = "head.safetensors";
pub const META_FILE: &str = "head.json";
/// Bumped when the meaning of the files changes, so that an older touchpoint refuses a head it would misread.
/// 2 added `language_centring` and `model.tuned`: a reader that ignored them would feed the head the wrong
/// embeddings. 3 added `out_of_scope`: a reader that ignored it would answer with the out-of-scope class as if it
/// were a contact reason. 4 added `model.layers`: a reader that ignored it would feed the head the final layer
/// alone. 5 added `language_weights`: a reader that ignored them would feed the head rows of the wrong width.
/// Older heads (none of these) still read correctly.
pub const HEAD_FORMAT: u32 = 5;

/// The encoder a head was trained on; its embeddings are the head's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadModel {
    /// The base model, as `store::resolve` takes it.
    pub id: String,
    /// The encoder's identity: the base model's sha256, or for a fine-tuned encoder `store::tuned_identity`.
    pub sha256: String,
    pub query_prefix: String,
    pub max_tokens: usize,
    /// Present when the encoder was fine-tuned with the head (`touchpoint train --fine-tune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuned: Option<TunedEncoder>,
    /// The encoder layers whose pooled states, side by side, are the head's input (`LayerEmbeddings::features`,
    /// `train --layers`); empty for the sentence embedding (the final layer), as in every head before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<usize>,
}

/// A fine-tuned encoder stored with its head: the tensors training changed, laid over the base model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TunedEncoder {
    /// The safetensors file, relative to the head's folder.
    pub file: String,
    pub sha256: String,
    pub base_sha256: String,
    pub fine_tuning: crate::classify::fine_tune::FineTuneReport,
}

/// The file a fine-tuned encoder is written to, in the head's folder.
pub const TUNED_ENCODER_FILE: &str = "encoder.safetensors";

/// Where the training data came from and how the head was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingProvenance {
    pub data: String,
    pub data_sha256: String,
    pub rows: usize,
    pub train_rows: usize,
    pub validation_rows: usize,
    /// Rows added from the pipeline's example utterances (training part only).
    pub pipeline_examples: usize,
    pub pipeline: Option<String>,
    pub pipeline_sha256: Option<String>,
    pub oos_label: Option<String>,
    pub seed: u64,
    /// The column whose rows stayed together in the validation split (`--group-column`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_column: Option<String>,
    /// The separate labelled file validated on (`--validation-data`), when not a part of `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_data_sha256: Option<String>,
    /// The L2 penalty kept on validation (`train::TrainOptions::penalties`); absent in heads trained before
    /// penalised fitting, which were early-stopped AdamW runs (their `epochs`, `learning_rate` and
    /// `weight_decay` below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2_penalty: Option<f64>,
    /// Every penalty tried, with its validation accuracy and loss.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub penalties_tried: Vec<crate::classify::train::PenaltyTrial>,
    /// L-BFGS iterations of the final fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
}

/// Figures on the held-back validation part, at the chosen threshold unless named otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationFigures {
    pub rows: usize,
    /// Accuracy when every row is answered (no threshold).
    pub accuracy_all_answered: f64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub coverage: f64,
    /// Precision on the rows answered at the threshold.
    pub answered_precision: f64,
    /// Mean negative log-likelihood of the in-scope rows with the fitted temperature.
    pub nll: f64,
    pub in_scope_accuracy: Option<f64>,
    pub oos_recall: Option<f64>,
    pub oos_precision: Option<f64>,
}

/// `head.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadMeta {
    pub format: u32,
    pub touchpoint_version: String,
    pub labels: Vec<String>,
    /// Lifecycle phase per label, when trained against a pipeline.
    #[serde(default)]
    pub phases: BTreeMap<String, String>,
    pub temperature: f32,
    /// Calibrated max-probability under which the answer is `unknown`.
    pub unknown_below: f32,
    /// How `unknown_below` was chosen, in words.
    pub threshold_rule: String,
    pub model: HeadModel,
    pub training: TrainingProvenance,
    pub validation: ValidationFigures,
    /// Per-language means removed from the embeddings before the head reads them (`language_centring`);
    /// absent in heads trained with `--no-language-centring` or before centring existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_centring: Option<LanguageCentring>,
    /// The label of a class trained on out-of-scope examples (`train --oos-label`): when it is the most
    /// probable, the answer is `unknown`; otherwise the best in-scope label is answered or not by its own
    /// probability against `unknown_below`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<String>,
    /// Languages with weights of their own besides the shared ones (`train --language-weights`,
    /// `language_weights`), in the order of their blocks; only in heads that centre by language, whose detected
    /// languages choose the block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub language_weights: Vec<String>,
}

/// One row's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The most probable in-scope label's index (never the out-of-scope class).
    pub best: usize,
    /// Its calibrated probability.
    pub probability: f32,
    /// The out-of-scope class is more probable than every in-scope label.
    pub out_of_scope: bool,
    /// `best` when it is in scope and `probability >= unknown_below`, else `None` (unknown).
    pub answer: Option<usize>,
}

/// Weights and metadata of a trained head.
#[derive(Debug, Clone)]
pub struct LinearHead {
    meta: HeadMeta,
    dim: usize,
    /// Row-major `[labels, dim]`.
    weight: Vec<f32>,
    bias: Vec<f32>,
    /// Index of `meta.out_of_scope` among the labels.
    out_of_scope: Option<usize>,
}

impl LinearHead {
    /// A head from its parts; the shapes must agree with `meta.labels`.
    pub fn new(meta: HeadMeta, dim: usize, weight: Vec<f32>, bias: Vec<f32>) -> Result<Self> {
        let k = meta.labels.len();
        if k == 0 || dim == 0 || weight.len() != k * dim || bias.len() != k {
            return Err(Error::model(format!(
                "head shapes disagree: {k} labels, dim {dim}, {} weights, {} biases",
                weight.len(),
                bias.len()
            )));
        }
        if !(meta.temperature.is_finite() && meta.temperature > 0.0) {
            return Err(Error::model(format!(
                "head temperature must be positive, got {}",
                meta.temperature
            )));
        }
        let out_of_scope = match &meta.out_of_scope {
            Some(label) => Some(meta.labels.iter().position(|l| l == label).ok_or_else(|| {
                Error::model(format!(
                    "the head's out-of-scope label '{label}' is not one of its labels"
                ))
            })?),
            None => None,
        };
        if let Some(language) = meta.language_weights.iter().find(|l| {
            !meta
                .language_centring
                .as_ref()
                .is_some_and(|c| c.means.contains_key(l.as_str()))
        }) {
            return Err(Error::model(format!(
                "the head has weights for language '{language}' but does not centre that language"
            )));
        }
        if out_of_scope.is_some() && k < 2 {
            return Err(Error::model(
                "a head needs an in-scope label besides its out-of-scope one".to_string(),
            ));
        }
        Ok(LinearHead {
            meta,
            dim,
            weight,
            bias,
            out_of_scope,
        })
    }

    pub fn meta(&self) -> &HeadMeta {
        &self.meta
    }

    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// The index of the out-of-scope class, when the head has one.
    pub fn out_of_scope(&self) -> Option<usize> {
        self.out_of_scope
    }

    /// The answer for one row's calibrated probabilities (see `HeadMeta::out_of_scope`); `unknown_below` is the
    /// head's own threshold except while training chooses it.
    pub fn decide(&self, probabilities: &[f32], unknown_below: f32) -> Prediction {
        decide(probabilities, self.out_of_scope, unknown_below)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The encoder layers the head reads (`HeadModel::layers`; empty: the sentence embedding).
    pub fn layers(&self) -> &[usize] {
        &self.meta.model.layers
    }

    /// The head's input for `embeddings`: centred per language (`languages`, one per row, `None` where
    /// undetected) when the head was trained so, and expanded into its language blocks when it has
    /// language-specific weights; else the embeddings as they are.
    pub fn input<'a>(
        &self,
        embeddings: &'a Embeddings,
        languages: &[Option<&str>],
    ) -> Result<Cow<'a, Embeddings>> {
        head_input(
            self.meta.language_centring.as_ref(),
            &self.meta.language_weights,
            embeddings,
            languages,
        )
    }

    /// As `input`, detecting each text's language the way the head was trained (nothing is detected for a
    /// head without centring).
    pub fn input_for_texts<'a>(
        &self,
        embeddings: &'a Embeddings,
        texts: &[&str],
    ) -> Result<Cow<'a, Embeddings>> {
        match &self.meta.language_centring {
            Some(centring) => self.input(embeddings, &centring.detect(texts)),
            None => Ok(Cow::Borrowed(embeddings)),
        }
    }

    /// Uncalibrated logits of one embedding.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        self.weight
            .chunks_exact(self.dim)
            .zip(&self.bias)
            .map(|(w, b)| w.iter().zip(x).map(|(p, q)| p * q).sum::<f32>() + b)
            .collect()
    }

    /// Calibrated probabilities of one embedding.
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        softmax(&self.logits(x), self.meta.temperature)
    }

    /// The answer for every row of `embeddings`. An embedding of another width is an error.
    pub fn predict(&self, embeddings: &Embeddings) -> Result<Vec<Prediction>> {
        Ok(self
            .predict_with_probabilities(embeddings)?
            .into_iter()
            .map(|(prediction, _)| prediction)
            .collect())
    }

    /// As `predict`, with every row's calibrated probabilities (for callers that rank the labels too).
    pub fn predict_with_probabilities(
        &self,
        embeddings: &Embeddings,
    ) -> Result<Vec<(Prediction, Vec<f32>)>> {
        if embeddings.dim != self.dim && !embeddings.is_empty() {
            return Err(Error::model(format!(
                "the head expects {}-dimensional embeddings, got {} (was it trained on another model?)",
                self.dim, embeddings.dim
            )));
        }
        Ok((0..embeddings.len())
            .into_par_iter()
            .map(|row| {
                let p = self.probabilities(embeddings.row(row));
                (self.decide(&p, self.meta.unknown_below), p)
            })
            .collect())
    }

    /// The answered label per row, `unknown` where the head abstains.
    pub fn predicted_labels(&self, embeddings: &Embeddings) -> Result<Vec<String>> {
        Ok(self
            .predict(embeddings)?
            .into_iter()
            .map(|p| match p.answer.and_then(|i| self.meta.labels.get(i)) {
                Some(label) => label.clone(),
                None => schema::UNKNOWN_REASON.to_string(),
            })
            .collect())
    }

    /// Per row, the most probable of `allowed` labels (the others ignored, no threshold). Labels the head
    /// does not know are an error.
    pub fn best_among(&self, embeddings: &Embeddings, allowed: &[String]) -> Result<Vec<String>> {
        let indices: Vec<usize> = allowed
            .iter()
            .map(|label| {
                self.meta
                    .labels
                    .iter()
                    .position(|l| l == label)
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "label '{label}' is not one of the head's: {}",
                            self.meta.labels.join(", ")
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(self
            .predict_with_probabilities(embeddings)?
            .into_iter()
            .map(|(_, p)| {
                let best = indices
                    .iter()
                    .copied()
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                    .expect("at least one allowed label");
                self.meta.labels[best].clone()
            })
            .collect())
    }

    /// The encoder this head reads, with its fine-tuned tensors when it has them, checked against the head
    /// (`dir` is the head's folder). Base models are resolved as `store::resolve` does.
    pub fn encoder_location(
        &self,
        dir: &Path,
        offline: bool,
    ) -> Result<crate::model::ModelLocation> {
        let model = &self.meta.model;
        let base = crate::model::store::resolve(&model.id, offline, &mut |m| log::info!("{m}"))?;
        let location = match &model.tuned {
            None => base,
            Some(tuned) => {
                if base.sha256 != tuned.base_sha256 {
                    return Err(Error::model(format!(
                        "{}: the encoder was fine-tuned from {} with sha256 {}, but that now resolves to sha256 {}",
                        dir.display(),
                        model.id,
                        tuned.base_sha256,
                        base.sha256
                    )));
                }
                base.with_tuned(&dir.join(&tuned.file))?
            }
        };
        self.ensure_model(&location, dir)?;
        Ok(location)
    }

    /// A head is only run on the model it was trained on: its embeddings are the head's input.
    pub fn ensure_model(&self, location: &crate::model::ModelLocation, dir: &Path) -> Result<()> {
        let trained = &self.meta.model;
        if location.sha256 == trained.sha256 {
            return Ok(());
        }
        Err(Error::model(format!(
            "{}: the head was trained on model {} with sha256 {}, but {} resolves to sha256 {}",
            dir.display(),
            trained.id,
            trained.sha256,
            location.id,
            location.sha256
        )))
    }

    /// Writes `head.safetensors` and `head.json` into `dir` (created when missing).
    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).at(dir)?;
        let k = self.meta.labels.len();
        let tensors: HashMap<String, Tensor> = HashMap::from([
            (
                "weight".to_string(),
                Tensor::from_slice(&self.weight, (k, self.dim), &Device::Cpu)?,
            ),
            (
                "bias".to_string(),
                Tensor::from_slice(&self.bias, k, &Device::Cpu)?,
            ),
        ]);
        let weights_path = dir.join(WEIGHTS_FILE);
        let tmp = temporary(&weights_path);
        candle_core::safetensors::save(&tensors, &tmp)?;
        fs::rename(&tmp, &weights_path).at(&weights_path)?;
        let meta_path = dir.join(META_FILE);
        let json = serde_json::to_string_pretty(&self.meta)
            .map_err(|e| Error::model(format!("{}: {e}", meta_path.display())))?;
        let tmp = temporary(&meta_path);
        fs::write(&tmp, json + "\n").at(&tmp)?;
        fs::rename(&tmp, &meta_path).at(&meta_path)
    }

    /// Reads a head written by `save`.
    pub fn load(dir: &Path) -> Result<LinearHead> {
        let meta_path = dir.join(META_FILE);
        let text = fs::read_to_string(&meta_path).at(&meta_path)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        if !weights_path.is_file() {
            return Err(Error::model(format!(
                "{}: missing (a head folder holds {WEIGHTS_FILE} and {META_FILE})",
                weights_path.display()
            )));
        }
        let weights = fs::read(&weights_path).at(&weights_path)?;
        LinearHead::from_bytes(&text, &weights, &dir.display().to_string())
    }

    /// A head from the contents of its two files; `origin` names it in errors.
    pub fn from_bytes(meta: &str, weights: &[u8], origin: &str) -> Result<LinearHead> {
        let meta: HeadMeta = serde_json::from_str(meta)
            .map_err(|e| Error::model(format!("{origin}/{META_FILE}: {e}")))?;
        if !(1..=HEAD_FORMAT).contains(&meta.format) {
            return Err(Error::model(format!(
                "{origin}/{META_FILE}: head format {} is not supported (this touchpoint reads formats 1 to \
                 {HEAD_FORMAT})",
                meta.format
            )));
        }
        let tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)
            .map_err(|e| Error::model(format!("{origin}/{WEIGHTS_FILE}: {e}")))?;
        let read = |name: &str| -> Result<Tensor> {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| Error::model(format!("{origin}/{WEIGHTS_FILE}: no tensor '{name}'")))
        };
        let weight = read("weight")?;
        let (k, dim) = weight
            .dims2()
            .map_err(|e| Error::model(format!("{origin}/{WEIGHTS_FILE}: weight: {e}")))?;
        if k != meta.labels.len() {
            return Err(Error::model(format!(
                "{origin}/{WEIGHTS_FILE}: {k} weight rows but {} labels in {META_FILE}",
                meta.labels.len()
            )));
        }
        let weight = weight.flatten_all()?.to_vec1::<f32>()?;
        let bias = read("bias")?.flatten_all()?.to_vec1::<f32>()?;
        LinearHead::new(meta, dim, weight, bias).map_err(|e| Error::model(format!("{origin}: {e}")))
    }
}

/// What a head reads for `embeddings` (one `languages` entry per row): centred by language when it has
/// `centring`, then expanded into the blocks of `language_weights`. Training and every user of a head
/// (`LinearHead::input`) call this one function, so the two can never feed a head different rows.
pub(crate) fn head_input<'a>(
    centring: Option<&LanguageCentring>,
    language_weights: &[String],
    embeddings: &'a Embeddings,
    languages: &[Option<&str>],
) -> Result<Cow<'a, Embeddings>> {
    let centred = match centring {
        Some(centring) => Cow::Owned(centring.apply(embeddings, languages)?),
        None => Cow::Borrowed(embeddings),
    };
    if language_weights.is_empty() {
        return Ok(centred);
    }
    Ok(Cow::Owned(super::language_weights::expand(
        &centred,
        languages,
        language_weights,
    )?))
}

/// The answer for calibrated `probabilities` of a head whose out-of-scope class (if any) is `out_of_scope`.
pub fn decide(
    probabilities: &[f32],
    out_of_scope: Option<usize>,
    unknown_below: f32,
) -> Prediction {
    let (top, top_probability) = argmax(probabilities);
    let (best, probability) = match out_of_scope {
        Some(oos) => {
            let mut in_scope = probabilities.to_vec();
            in_scope[oos] = f32::NEG_INFINITY;
            argmax(&in_scope)
        }
        None => (top, top_probability),
    };
    let out_of_scope = Some(top) == out_of_scope;
    Prediction {
        best,
        probability,
        out_of_scope,
        answer: (!out_of_scope && probability >= unknown_below).then_some(best),
    }
}

/// `softmax(logits / temperature)`, computed stably.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Index and value of the largest entry; the first one wins ties.
pub fn argmax(values: &[f32]) -> (usize, f32) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
}

pub(crate) fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_out_of_scope_class_the_most_probable_label_answers_above_the_threshold() {
        let p = [0.1, 0.7, 0.2];
        let answer = decide(&p, None, 0.5);
        assert_eq!((answer.best, answer.probability), (1, 0.7));
        assert_eq!(answer.answer, Some(1));
        assert!(!answer.out_of_scope);
        assert_eq!(decide(&p, None, 0.8).answer, None);
    }

    #[test]
    fn a_winning_out_of_scope_class_means_unknown_at_any_threshold() {
        // Class 2 is out of scope and most probable: unknown, with the best in-scope label kept for ranking.
        let answer = decide(&[0.3, 0.1, 0.6], Some(2), f32::NEG_INFINITY);
        assert!(answer.out_of_scope);
        assert_eq!((answer.best, answer.probability), (0, 0.3));
        assert_eq!(answer.answer, None);
        // It loses: the best in-scope label is judged by its own probability.
        let answer = decide(&[0.5, 0.1, 0.4], Some(2), 0.45);
        assert!(!answer.out_of_scope);
        assert_eq!(answer.answer, Some(0));
        assert_eq!(decide(&[0.5, 0.1, 0.4], Some(2), 0.55).answer, None);
        // The out-of-scope class may come first among the labels.
        let answer = decide(&[0.2, 0.5, 0.3], Some(0), 0.0);
        assert_eq!((answer.best, answer.answer), (1, Some(1)));
    }
}
