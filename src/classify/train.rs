//! Training a `LinearHead` on frozen embeddings: the optimisation (`fit`) and the whole `train` command
//! (`train`: read labelled data, optionally map it onto a pipeline, embed through the cache, fit, save). The
//! embeddings are the sentence embeddings, or with `TrainRequest::layers` the pooled states of those encoder
//! layers side by side, which the head records so that every later use reads the same features.
//!
//! Contract of `fit`: rows are split into a training and a held-back validation part, stratified by label
//! with a fixed seed (rows flagged `train_only`, such as a pipeline's example utterances, always train; rows
//! sharing a group, `TrainOptions::groups`, stay on one side).
//! Features are standardised with the training part's mean and spread (folded back into the weights at
//! the end, so the saved head reads raw embeddings). A softmax layer is fitted to convergence (L-BFGS) on
//! class-balanced cross-entropy (each label weighs as much as any other) plus an L2 penalty on the weights,
//! once per penalty of `TrainOptions::penalties`; the penalty with the best validation accuracy (lower
//! validation loss breaks ties) is kept. One temperature is then fitted on the validation negative
//! log-likelihood, and the `unknown` threshold on the calibrated max-probability is chosen for the
//! `ThresholdTarget`: on the validation part for a precision target, on 5-fold out-of-fold predictions of all
//! rows for an out-of-scope recall target (the validation part holds too few out-of-scope rows); finally the
//! layer is fitted again on training and validation rows with the kept penalty. With a separate validation
//! file (`TrainOptions::held_back`) its rows are the validation part, the threshold is chosen on them whatever
//! the target, and there is no refit. Rows with the oos label form a
//! class of their own (`oos_class`, the default), whose winning means `unknown` whatever the threshold; they
//! also inform the threshold, which then applies to the best in-scope label's probability. The same data,
//! options and seed give the same head.
//!
//! Why a penalty chosen on validation rather than early stopping: e5 embeddings of different intents sit close
//! together (cosines of 0.7-0.9), so the decision boundaries need large weights, and how large depends on the
//! data: the kept penalty spans four decades, from 3e-5 on Bitext (clean, separable) to 1e-1 on long, noisy
//! reviews, which no fixed training schedule fits. A converged, penalised fit is also what the textbook
//! baseline (scikit-learn's logistic regression) is, and it beat the early-stopped AdamW head this replaced by
//! 0.8 points on Banking77 (EVALUATION.md, section 11).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::cache;
use super::fine_tune::{fine_tune, FineTuneOptions, TuneObjective};
use super::labelled::{LabelledColumns, LabelledData};
use super::language_centring::LanguageCentring;
use super::lbfgs;
use super::linear::{
    argmax, decide, head_input, softmax, temporary, HeadMeta, HeadModel, LinearHead,
    TrainingProvenance, TunedEncoder, ValidationFigures, HEAD_FORMAT, TUNED_ENCODER_FILE,
};
use super::metrics::Report;
use super::split::{folds, grouped_split};
use crate::error::{Error, IoContext, Result};
use crate::model::{store, Embeddings, Encoder, Precision};
use crate::pipeline::Pipeline;
use crate::schema;

/// How the `unknown` threshold is chosen on the validation part.
#[derive(Debug, Clone, PartialEq)]
pub enum ThresholdTarget {
    /// The lowest threshold whose answered rows reach this precision (most coverage at that precision).
    AnsweredPrecision(f64),
    /// The lowest threshold that sends at least this share of the oos rows to `unknown` (best in-scope
    /// accuracy at that out-of-scope recall). Needs oos rows in the validation part.
    OosRecall(f64),
}

/// The penalties `fit` tries by default, in half-decades: strong enough for 8 examples per label and for
/// long, noisy reviews (the sentiment head keeps 1e-1), weak enough for tens of thousands of clean rows (Banking77
/// keeps 3e-3, CLINC150 1e-3, Bitext 3e-5; EVALUATION.md, section 11).
pub const DEFAULT_PENALTIES: [f64; 10] =
    [1.0, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5];

/// A fit has converged when no gradient entry of the mean loss exceeds this.
const GRADIENT_TOLERANCE: f64 = 1e-5;

/// Folds of the out-of-fold predictions an out-of-scope recall threshold is chosen on.
const THRESHOLD_FOLDS: usize = 5;

/// Knobs of `fit`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Seed of the validation split and of the out-of-fold folds.
    pub seed: u64,
    /// Share of each label's rows held back to choose the penalty, calibrate and set the threshold.
    pub validation_fraction: f64,
    /// Per row of the data given to `fit`: rows sharing a non-empty group stay on one side of the validation
    /// split (translations of one text, messages of one conversation), so near-duplicates in both parts do not
    /// flatter the validation figures or the penalty chosen on them. `None`: every row on its own.
    pub groups: Option<Vec<String>>,
    /// L2 penalties tried on the weights (per unit of the mean loss, on standardised features); the one with
    /// the best validation accuracy is kept.
    pub penalties: Vec<f64>,
    /// L-BFGS iterations at most per fit.
    pub max_iterations: usize,
    pub target: ThresholdTarget,
    /// Once the penalty is chosen, fit again on training and validation rows together (not with `held_back`).
    pub refit: bool,
    /// Per row of the data given to `fit`: true for rows of a separate validation file (`--validation-data`).
    /// When any row is held back, those rows are the whole validation part and every other row trains: no
    /// split, the out-of-scope threshold is chosen on them rather than on out-of-fold predictions, and there
    /// is no refit, so the weights never see them. `None`: validation rows are split off the data.
    pub held_back: Option<Vec<bool>>,
    /// Rows with this gold label are out of scope: `unknown` is the right answer for them, and they are used
    /// to choose the threshold.
    pub oos_label: Option<String>,
    /// Train the oos rows as a class of their own as well: on CLINC150 this catches more out-of-scope rows at
    /// the same in-scope accuracy than the threshold alone (EVALUATION.md, section 3).
    pub oos_class: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 42,
            validation_fraction: 0.15,
            groups: None,
            penalties: DEFAULT_PENALTIES.to_vec(),
            max_iterations: 500,
            target: ThresholdTarget::AnsweredPrecision(0.9),
            refit: true,
            held_back: None,
            oos_label: None,
            oos_class: true,
        }
    }
}

/// What `fit` learned, before it is given metadata.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub labels: Vec<String>,
    pub dim: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub temperature: f32,
    pub unknown_below: f32,
    pub threshold_rule: String,
    /// The oos label, when it was trained as a class (see `HeadMeta::out_of_scope`).
    pub out_of_scope: Option<String>,
    pub validation: ValidationFigures,
    /// The L2 penalty of the saved weights (see `TrainOptions::penalties`).
    pub penalty: f64,
    /// L-BFGS iterations of the saved weights' fit.
    pub iterations: usize,
    /// Each penalty tried, with its validation accuracy and loss.
    pub penalties_tried: Vec<PenaltyTrial>,
    pub train_rows: usize,
    pub validation_rows: usize,
}

/// Row indices of the training and the held-back validation part.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Training rows; rows with the oos label only when it forms a class (`TrainOptions::oos_class`).
    pub train: Vec<usize>,
    /// Validation rows, oos rows included (they inform the threshold).
    pub validation: Vec<usize>,
}

/// The split `fit` uses: data rows stratified by label with `options.seed` (by group when `options.groups`),
/// train-only rows always in training; or, with `options.held_back`, those rows against all the others.
/// Fine-tuning uses the same one, so that the head fitted afterwards validates on rows the encoder never saw.
pub fn partition(labels: &[String], train_only: &[bool], options: &TrainOptions) -> Partition {
    let n = labels.len();
    let oos = options.oos_label.as_deref();
    if let Some(held_back) = held_back(options, n) {
        let (validation, mut train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| held_back[i]);
        if !options.oos_class {
            train.retain(|&i| Some(labels[i].as_str()) != oos);
        }
        return Partition { train, validation };
    }
    let data = DataRows::new(labels, train_only, options);
    let split = grouped_split(
        &data.labels,
        data.groups.as_deref(),
        1.0 - options.validation_fraction,
        options.seed,
    );
    let mut train: Vec<usize> = split.first.iter().map(|&j| data.rows[j]).collect();
    train.extend((0..n).filter(|&i| train_only[i]));
    if !options.oos_class {
        train.retain(|&i| Some(labels[i].as_str()) != oos);
    }
    let validation: Vec<usize> = split.second.iter().map(|&j| data.rows[j]).collect();
    Partition { train, validation }
}

/// `options.held_back` when it is meant for `n` rows and holds back at least one.
fn held_back(options: &TrainOptions, n: usize) -> Option<&[bool]> {
    options
        .held_back
        .as_deref()
        .filter(|h| h.len() == n && h.iter().any(|&b| b))
}

/// The rows that may be held back (all but the train-only ones), with their labels and groups.
struct DataRows<'a> {
    rows: Vec<usize>,
    labels: Vec<&'a str>,
    groups: Option<Vec<&'a str>>,
}

impl<'a> DataRows<'a> {
    fn new(labels: &'a [String], train_only: &[bool], options: &'a TrainOptions) -> DataRows<'a> {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| !train_only[i]).collect();
        DataRows {
            labels: rows.iter().map(|&i| labels[i].as_str()).collect(),
            groups: options
                .groups
                .as_deref()
                .filter(|g| g.len() == labels.len())
                .map(|g| rows.iter().map(|&i| g[i].as_str()).collect()),
            rows,
        }
    }
}

/// Trains a head on `embeddings` (one row per label). See the module docs.
pub fn fit(
    embeddings: &Embeddings,
    labels: &[String],
    train_only: &[bool],
    options: &TrainOptions,
) -> Result<Fitted> {
    let n = embeddings.len();
    if labels.len() != n || train_only.len() != n {
        return Err(Error::Usage(format!(
            "fit: {n} embeddings, {} labels, {} train-only flags",
            labels.len(),
            train_only.len()
        )));
    }
    if let Some(groups) = &options.groups {
        if groups.len() != n {
            return Err(Error::Usage(format!(
                "fit: {n} embeddings, {} groups",
                groups.len()
            )));
        }
    }
    if let Some(held) = &options.held_back {
        if held.len() != n {
            return Err(Error::Usage(format!(
                "fit: {n} embeddings, {} held-back flags",
                held.len()
            )));
        }
    }
    let separate_validation = held_back(options, n).is_some();
    let dim = embeddings.dim;
    let oos = options.oos_label.as_deref();
    let Partition { train, validation } = partition(labels, train_only, options);
    // The oos label is a class only when training rows carry it.
    let oos_trained = oos.filter(|o| train.iter().any(|&i| labels[i] == *o));
    let classes: Vec<String> = labels
        .iter()
        .filter(|l| Some(l.as_str()) != oos || oos_trained.is_some())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if classes.len() < 2 + usize::from(oos_trained.is_some()) {
        return Err(Error::Usage(format!(
            "training needs at least two labels, found {}",
            classes.len()
        )));
    }
    let class_of: BTreeMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();

    if separate_validation {
        // A split cannot produce these; a separate file can, and scoring them as some other class would
        // corrupt the penalty choice and the calibration.
        let trained: BTreeSet<&str> = train.iter().map(|&i| labels[i].as_str()).collect();
        let unseen: BTreeSet<&str> = validation
            .iter()
            .map(|&i| labels[i].as_str())
            .filter(|l| Some(*l) != oos && !trained.contains(l))
            .collect();
        if !unseen.is_empty() {
            return Err(Error::Usage(format!(
                "the validation data has labels the training data lacks: {}",
                unseen.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let out_of_scope = oos_trained.and_then(|o| classes.iter().position(|c| c == o));
    let validation_in_scope: Vec<usize> = validation
        .iter()
        .copied()
        .filter(|&i| Some(labels[i].as_str()) != oos)
        .collect();
    if validation_in_scope.is_empty() {
        return Err(Error::Usage(
            "no rows left for validation: give each label at least two examples".to_string(),
        ));
    }
    log::info!(
        "training on {} rows, validating on {} rows, {} labels",
        train.len(),
        validation.len(),
        classes.len()
    );

    let (mean, spread) = feature_stats(embeddings, &train);
    let standardised = |rows: &[usize]| -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * dim);
        for &i in rows {
            let x = embeddings.row(i);
            out.extend((0..dim).map(|j| (x[j] - mean[j]) / spread[j]));
        }
        out
    };
    let device = Device::Cpu;
    let class_index = |i: usize| class_of.get(labels[i].as_str()).copied().unwrap_or(0);
    let examples = |rows: &[usize]| -> Result<Examples> {
        Examples::new(
            standardised(rows),
            rows.iter().map(|&i| class_index(i)).collect(),
            classes.len(),
            dim,
            &device,
        )
    };
    let x_val = Tensor::from_vec(
        standardised(&validation_in_scope),
        (validation_in_scope.len(), dim),
        &device,
    )?;
    let y_val: Vec<usize> = validation_in_scope
        .iter()
        .map(|&i| class_index(i))
        .collect();
    let train_examples = examples(&train)?;
    let chosen = choose_penalty(&train_examples, &x_val, &y_val, options)?;
    // Raw-embedding weights of a layer fitted on standardised rows.
    let unstandardised = |layer: &Layer| -> (Vec<f32>, Vec<f32>) {
        let (mut weight, mut bias) = layer.weight_and_bias();
        fold_standardisation(&mut weight, &mut bias, &mean, &spread);
        (weight, bias)
    };
    // The penalty is per row of the mean loss: a fit on more rows than the training part gets it shrunk in
    // proportion, as a fixed C would be in scikit-learn.
    let penalty_for = |rows: usize| chosen.penalty * train.len() as f64 / rows.max(1) as f64;
    // Temperature and threshold come from the model that did not see the validation rows.
    let (mut weight, mut bias) = unstandardised(&chosen.layer);
    let raw_logits = |weight: &[f32], bias: &[f32], rows: &[usize]| -> Vec<Vec<f32>> {
        rows.iter()
            .map(|&i| {
                let x = embeddings.row(i);
                weight
                    .chunks_exact(dim)
                    .zip(bias)
                    .map(|(w, b)| w.iter().zip(x).map(|(p, q)| p * q).sum::<f32>() + b)
                    .collect()
            })
            .collect()
    };
    let temperature = fit_temperature(&raw_logits(&weight, &bias, &validation_in_scope), &y_val);
    let (_, nll) = accuracy_and_nll(
        &raw_logits(&weight, &bias, &validation_in_scope),
        &y_val,
        temperature,
    );
    log::info!("temperature {temperature:.3} (validation loss {nll:.4})");
    // Per row, the best in-scope label and its probability; rows the out-of-scope class wins are unknown at
    // any threshold (probability minus infinity).
    let answers_of = |weight: &[f32], bias: &[f32], rows: &[usize]| -> Vec<(usize, f32)> {
        raw_logits(weight, bias, rows)
            .iter()
            .map(|l| {
                let answer = decide(&softmax(l, temperature), out_of_scope, f32::NEG_INFINITY);
                let probability = if answer.out_of_scope {
                    f32::NEG_INFINITY
                } else {
                    answer.probability
                };
                (answer.best, probability)
            })
            .collect()
    };
    let answers = answers_of(&weight, &bias, &validation);
    let gold: Vec<&str> = validation.iter().map(|&i| labels[i].as_str()).collect();
    let (unknown_below, threshold_rule) = match options.target {
        // The validation part holds few out-of-scope rows (15 of CLINC150's 100), so a recall target met on
        // them moves in steps of several points. Out-of-fold predictions put every labelled row to use: each
        // fold is predicted by a head fitted, with the chosen penalty, on the other folds.
        ThresholdTarget::OosRecall(_) if !separate_validation => {
            let data = DataRows::new(labels, train_only, options);
            let fold_of = folds(
                &data.labels,
                data.groups.as_deref(),
                THRESHOLD_FOLDS,
                options.seed,
            );
            let mut oof_answers = Vec::with_capacity(data.rows.len());
            let mut oof_gold = Vec::with_capacity(data.rows.len());
            for fold in 0..THRESHOLD_FOLDS {
                let held: Vec<usize> = (0..data.rows.len())
                    .filter(|&j| fold_of[j] == fold)
                    .map(|j| data.rows[j])
                    .collect();
                if held.is_empty() {
                    continue;
                }
                let mut in_fold = vec![false; n];
                held.iter().for_each(|&i| in_fold[i] = true);
                let rows: Vec<usize> = (0..n)
                    .filter(|&i| !in_fold[i] && class_of.contains_key(labels[i].as_str()))
                    .collect();
                let layer = fit_penalised(
                    &examples(&rows)?,
                    penalty_for(rows.len()),
                    chosen.layer.parameters.clone(),
                    options.max_iterations,
                )?;
                let (w, b) = unstandardised(&layer);
                oof_answers.extend(answers_of(&w, &b, &held));
                oof_gold.extend(held.iter().map(|&i| labels[i].as_str()));
            }
            let (threshold, rule) =
                choose_threshold(&oof_answers, &oof_gold, &classes, oos, &options.target)?;
            log::info!(
                "threshold {threshold:.3} chosen on out-of-fold predictions of {} rows ({THRESHOLD_FOLDS} folds)",
                oof_answers.len()
            );
            (
                threshold,
                rule.replace(
                    "validation rows",
                    &format!("{THRESHOLD_FOLDS}-fold out-of-fold rows"),
                ),
            )
        }
        // A precision target, or a validation file of the user's: its rows are the ones to choose on.
        _ => choose_threshold(&answers, &gold, &classes, oos, &options.target)?,
    };
    let predicted = |threshold: f32| -> Vec<String> {
        answers
            .iter()
            .map(|&(c, p)| {
                if p >= threshold {
                    classes[c].clone()
                } else {
                    schema::UNKNOWN_REASON.to_string()
                }
            })
            .collect()
    };
    let all_answered = Report::compute(&gold, &predicted(f32::NEG_INFINITY), oos);
    let report = Report::compute(&gold, &predicted(unknown_below), oos);
    let answered: Vec<usize> = (0..answers.len())
        .filter(|&r| answers[r].1 >= unknown_below)
        .collect();
    let answered_correct = answered
        .iter()
        .filter(|&&r| classes[answers[r].0] == gold[r])
        .count();
    let validation_figures = ValidationFigures {
        rows: validation.len(),
        accuracy_all_answered: all_answered.accuracy,
        accuracy: report.accuracy,
        macro_f1: report.macro_f1,
        coverage: report.coverage,
        answered_precision: if answered.is_empty() {
            0.0
        } else {
            answered_correct as f64 / answered.len() as f64
        },
        nll,
        in_scope_accuracy: report.oos.as_ref().map(|o| o.in_scope_accuracy),
        oos_recall: report.oos.as_ref().map(|o| o.oos_recall),
        oos_precision: report.oos.as_ref().map(|o| o.oos_precision),
    };
    log::info!(
        "validation: accuracy {:.4} with every row answered; threshold {unknown_below:.3} ({threshold_rule}): \
         accuracy {:.4}, coverage {:.4}, precision on answered rows {:.4}",
        validation_figures.accuracy_all_answered,
        validation_figures.accuracy,
        validation_figures.coverage,
        validation_figures.answered_precision
    );
    // With the penalty known, fit again on training and validation rows together: more data, same recipe.
    // The calibration above is kept (it cannot be re-measured without held-back rows).
    let mut penalty = chosen.penalty;
    let mut iterations = chosen.layer.iterations;
    if options.refit && !separate_validation {
        let mut all = train.clone();
        all.extend(
            validation
                .iter()
                .copied()
                .filter(|&i| class_of.contains_key(labels[i].as_str())),
        );
        penalty = penalty_for(all.len());
        let refit = fit_penalised(
            &examples(&all)?,
            penalty,
            chosen.layer.parameters.clone(),
            options.max_iterations,
        )?;
        iterations = refit.iterations;
        (weight, bias) = unstandardised(&refit);
        log::info!(
            "refitted on {} rows with L2 penalty {penalty:.1e} ({iterations} iterations)",
            all.len()
        );
    }
    Ok(Fitted {
        labels: classes,
        dim,
        weight,
        bias,
        temperature,
        unknown_below,
        threshold_rule,
        out_of_scope: oos_trained.map(str::to_string),
        validation: validation_figures,
        penalty,
        iterations,
        penalties_tried: chosen.tried,
        train_rows: train.len(),
        validation_rows: validation.len(),
    })
}

/// Standardised training rows as tensors, with class-balanced row shares (each class's rows together weigh
/// as much as any other class's).
struct Examples {
    x: Tensor,
    y: Tensor,
    /// `[rows, classes]`, 1 at each row's class.
    one_hot: Tensor,
    /// Each row's share of the total class-balanced weight (summing to 1).
    row_share: Tensor,
    classes: usize,
    dim: usize,
}

impl Examples {
    fn new(
        x: Vec<f32>,
        y: Vec<usize>,
        classes: usize,
        dim: usize,
        device: &Device,
    ) -> Result<Self> {
        let n = y.len();
        let mut counts = vec![0usize; classes];
        for &c in &y {
            if let Some(count) = counts.get_mut(c) {
                *count += 1;
            }
        }
        // Every class present weighs the same in total, whatever its number of rows.
        let present = counts.iter().filter(|&&c| c > 0).count().max(1);
        let row_share: Vec<f32> = y
            .iter()
            .map(|&c| 1.0 / (present as f32 * counts.get(c).copied().unwrap_or(1).max(1) as f32))
            .collect();
        let mut one_hot = vec![0f32; n * classes];
        for (row, &c) in y.iter().enumerate() {
            one_hot[row * classes + c] = 1.0;
        }
        let y: Vec<u32> = y.into_iter().map(|c| c as u32).collect();
        Ok(Examples {
            x: Tensor::from_vec(x, (n, dim), device)?,
            y: Tensor::from_vec(y, n, device)?,
            one_hot: Tensor::from_vec(one_hot, (n, classes), device)?,
            row_share: Tensor::from_vec(row_share, n, device)?,
            classes,
            dim,
        })
    }
}

/// Weights of a layer on standardised features, as L-BFGS parameters: `[labels, dim]` row-major, then the
/// biases.
struct Layer {
    parameters: Vec<f64>,
    classes: usize,
    iterations: usize,
}

impl Layer {
    fn weight_and_bias(&self) -> (Vec<f32>, Vec<f32>) {
        let (weight, bias) = self
            .parameters
            .split_at(self.parameters.len() - self.classes);
        (
            weight.iter().map(|&v| v as f32).collect(),
            bias.iter().map(|&v| v as f32).collect(),
        )
    }

    /// Logits of standardised rows `x` (`[rows, dim]`).
    fn logits(&self, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        let (weight, bias) = self.weight_and_bias();
        let dim = weight.len() / self.classes;
        let weight = Tensor::from_vec(weight, (self.classes, dim), x.device())?;
        let bias = Tensor::from_vec(bias, self.classes, x.device())?;
        Ok(x.matmul(&weight.t()?)?
            .broadcast_add(&bias)?
            .to_vec2::<f32>()?)
    }
}

/// One penalty's fit on the training part, scored on the validation part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyTrial {
    pub penalty: f64,
    pub validation_accuracy: f64,
    pub validation_loss: f64,
    pub iterations: usize,
}

/// The penalty `fit` keeps and its layer.
struct ChosenPenalty {
    penalty: f64,
    layer: Layer,
    tried: Vec<PenaltyTrial>,
}

/// Fits the training part once per penalty, strongest first, each fit starting from the previous one's
/// weights (a weaker penalty moves the optimum a little, so this converges in fewer steps than from zero),
/// and keeps the best on validation: accuracy, then the lower loss.
fn choose_penalty(
    train: &Examples,
    x_val: &Tensor,
    y_val: &[usize],
    options: &TrainOptions,
) -> Result<ChosenPenalty> {
    let mut penalties: Vec<f64> = options
        .penalties
        .iter()
        .copied()
        .filter(|p| p.is_finite() && *p > 0.0)
        .collect();
    if penalties.is_empty() {
        return Err(Error::Usage(
            "--l2 needs at least one positive penalty".to_string(),
        ));
    }
    penalties.sort_by(|a, b| b.total_cmp(a));
    penalties.dedup();
    let mut start = vec![0.0; train.classes * (train.dim + 1)];
    let mut best: Option<(f64, f64, f64, Layer)> = None;
    let mut tried = Vec::with_capacity(penalties.len());
    for penalty in penalties {
        let layer = fit_penalised(train, penalty, start, options.max_iterations)?;
        start = layer.parameters.clone();
        let (accuracy, loss) = accuracy_and_nll(&layer.logits(x_val)?, y_val, 1.0);
        log::info!(
            "L2 penalty {penalty:.1e}: validation accuracy {accuracy:.4}, loss {loss:.4} ({} iterations)",
            layer.iterations
        );
        tried.push(PenaltyTrial {
            penalty,
            validation_accuracy: accuracy,
            validation_loss: loss,
            iterations: layer.iterations,
        });
        let better = match &best {
            None => true,
            Some((_, best_accuracy, best_loss, _)) => {
                accuracy > *best_accuracy || (accuracy == *best_accuracy && loss < *best_loss)
            }
        };
        if better {
            best = Some((penalty, accuracy, loss, layer));
        }
    }
    let (penalty, accuracy, _, layer) = best.expect("at least one penalty");
    log::info!("kept L2 penalty {penalty:.1e} (validation accuracy {accuracy:.4})");
    Ok(ChosenPenalty {
        penalty,
        layer,
        tried,
    })
}

/// Class-balanced softmax regression with an L2 penalty on the weights (not the biases), fitted to
/// convergence with L-BFGS from `start`: the minimum of `sum_i s_i (-log p(y_i | x_i)) + penalty / 2 * |W|^2`,
/// where `s_i` is row i's share of the total class-balanced weight.
fn fit_penalised(
    examples: &Examples,
    penalty: f64,
    start: Vec<f64>,
    max_iterations: usize,
) -> Result<Layer> {
    let (k, dim) = (examples.classes, examples.dim);
    let device = examples.x.device().clone();
    let share = examples.row_share.to_vec1::<f32>()?;
    let mut objective = |parameters: &[f64]| -> Result<(f64, Vec<f64>)> {
        let (weight, bias) = parameters.split_at(k * dim);
        let weight: Vec<f32> = weight.iter().map(|&v| v as f32).collect();
        let bias: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
        let weight = Tensor::from_vec(weight, (k, dim), &device)?;
        let bias = Tensor::from_vec(bias, k, &device)?;
        let logits = examples.x.matmul(&weight.t()?)?.broadcast_add(&bias)?;
        let log_p = candle_nn::ops::log_softmax(&logits, 1)?;
        let picked = log_p
            .gather(&examples.y.unsqueeze(1)?, 1)?
            .squeeze(1)?
            .to_vec1::<f32>()?;
        // Summed in f64: the line search compares values that differ in their seventh digit near the end.
        let data_loss: f64 = picked
            .iter()
            .zip(&share)
            .map(|(&l, &s)| -f64::from(l) * f64::from(s))
            .sum();
        let residual =
            (log_p.exp()? - &examples.one_hot)?.broadcast_mul(&examples.row_share.unsqueeze(1)?)?;
        let weight_gradient = residual.t()?.matmul(&examples.x)?;
        let bias_gradient = residual.sum(0)?;
        let mut gradient: Vec<f64> = weight_gradient
            .flatten_all()?
            .to_vec1::<f32>()?
            .into_iter()
            .map(f64::from)
            .collect();
        gradient.extend(bias_gradient.to_vec1::<f32>()?.into_iter().map(f64::from));
        let mut squares = 0.0;
        for (g, &w) in gradient[..k * dim].iter_mut().zip(&parameters[..k * dim]) {
            *g += penalty * w;
            squares += w * w;
        }
        Ok((data_loss + 0.5 * penalty * squares, gradient))
    };
    let minimum = lbfgs::minimise(start, max_iterations, GRADIENT_TOLERANCE, &mut objective)?;
    Ok(Layer {
        parameters: minimum.point,
        classes: k,
        iterations: minimum.iterations,
    })
}

/// Folds standardisation into the layer: `W (x - m) / s + b = (W / s) x + (b - (W / s) m)`.
fn fold_standardisation(weight: &mut [f32], bias: &mut [f32], mean: &[f32], spread: &[f32]) {
    let dim = mean.len();
    for (row, b) in weight.chunks_exact_mut(dim).zip(bias.iter_mut()) {
        for j in 0..dim {
            row[j] /= spread[j];
            *b -= row[j] * mean[j];
        }
    }
}

/// Per-feature mean and standard deviation over `rows` (spread floored, so constant features stay finite).
fn feature_stats(embeddings: &Embeddings, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let dim = embeddings.dim;
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0f64; dim];
    for &i in rows {
        for (m, &v) in mean.iter_mut().zip(embeddings.row(i)) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; dim];
    for &i in rows {
        for ((s, &v), m) in var.iter_mut().zip(embeddings.row(i)).zip(&mean) {
            *s += (v as f64 - m).powi(2);
        }
    }
    let spread = var
        .iter()
        .map(|s| ((s / n).sqrt().max(1e-6)) as f32)
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), spread)
}

/// Accuracy and mean negative log-likelihood of `softmax(logits / temperature)`.
fn accuracy_and_nll(logits: &[Vec<f32>], gold: &[usize], temperature: f32) -> (f64, f64) {
    if logits.is_empty() {
        return (0.0, 0.0);
    }
    let mut correct = 0usize;
    let mut nll = 0f64;
    for (l, &g) in logits.iter().zip(gold) {
        let p = softmax(l, temperature);
        correct += usize::from(argmax(&p).0 == g);
        nll -= (p.get(g).copied().unwrap_or(0.0).max(1e-12) as f64).ln();
    }
    (
        correct as f64 / logits.len() as f64,
        nll / logits.len() as f64,
    )
}

/// The temperature minimising validation NLL: golden-section search over log T in [0.01, 20] (NLL is
/// unimodal in T for fixed logits).
fn fit_temperature(logits: &[Vec<f32>], gold: &[usize]) -> f32 {
    let nll = |log_t: f64| accuracy_and_nll(logits, gold, log_t.exp() as f32).1;
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = (0.01f64.ln(), 20f64.ln());
    let mut a = hi - ratio * (hi - lo);
    let mut b = lo + ratio * (hi - lo);
    let (mut fa, mut fb) = (nll(a), nll(b));
    for _ in 0..40 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = nll(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = nll(b);
        }
    }
    (((lo + hi) / 2.0).exp()) as f32
}

/// The `unknown` threshold for `target` on validation answers (best label, calibrated probability).
fn choose_threshold(
    answers: &[(usize, f32)],
    gold: &[&str],
    classes: &[String],
    oos: Option<&str>,
    target: &ThresholdTarget,
) -> Result<(f32, String)> {
    // Candidate thresholds: 0 (answer everything) and each validation probability, ascending; "answered" is
    // probability >= threshold.
    let mut candidates: Vec<f32> = answers
        .iter()
        .map(|&(_, p)| p)
        .filter(|p| p.is_finite())
        .collect();
    candidates.push(0.0);
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    match *target {
        ThresholdTarget::AnsweredPrecision(precision) => {
            for &t in &candidates {
                let (mut answered, mut correct) = (0usize, 0usize);
                for (&(c, p), g) in answers.iter().zip(gold) {
                    if p >= t {
                        answered += 1;
                        correct += usize::from(classes[c] == *g);
                    }
                }
                if answered > 0 && correct as f64 >= precision * answered as f64 {
                    return Ok((
                        t,
                        format!("lowest threshold with precision >= {precision:.2} on answered validation rows"),
                    ));
                }
            }
            let top = candidates.last().copied().unwrap_or(0.0);
            log::warn!(
                "no threshold reaches precision {precision:.2} on the validation rows; answering only the most confident"
            );
            Ok((
                top,
                format!("precision {precision:.2} not reachable; highest validation probability"),
            ))
        }
        ThresholdTarget::OosRecall(recall) => {
            let oos = oos.ok_or_else(|| {
                Error::Usage("an out-of-scope recall target needs an oos label".to_string())
            })?;
            let oos_total = gold.iter().filter(|g| **g == oos).count();
            if oos_total == 0 {
                return Err(Error::Usage(format!(
                    "no rows labelled '{oos}' in the validation part: cannot choose a threshold for out-of-scope recall"
                )));
            }
            // Out-of-scope recall only grows with the threshold and in-scope accuracy only shrinks, so the
            // lowest threshold meeting the recall target maximises in-scope accuracy under it.
            for &t in &candidates {
                let caught = answers
                    .iter()
                    .zip(gold)
                    .filter(|(&(_, p), g)| **g == oos && p < t)
                    .count();
                if caught as f64 >= recall * oos_total as f64 {
                    return Ok((
                        t,
                        format!("best in-scope accuracy with out-of-scope recall >= {recall:.2} on validation rows"),
                    ));
                }
            }
            Ok((
                f32::INFINITY,
                "out-of-scope recall not reachable; every row unknown".to_string(),
            ))
        }
    }
}

/// Everything `touchpoint train` needs.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub data: PathBuf,
    pub columns: LabelledColumns,
    /// A separate labelled file (same text and label columns) to validate on instead of a part split off
    /// `data` (see `TrainOptions::held_back`).
    pub validation_data: Option<PathBuf>,
    pub out: PathBuf,
    /// Map labels onto this pipeline's contact reasons and add its example utterances as training rows.
    pub pipeline: Option<PathBuf>,
    /// Overrides the pipeline's (or the default) model.
    pub model: Option<String>,
    pub offline: bool,
    /// `None`: the pipeline's precision, or f32 without a pipeline.
    pub precision: Option<Precision>,
    pub token_budget: usize,
    /// Embedding cache folder; `None` embeds every time.
    pub cache_dir: Option<PathBuf>,
    pub options: TrainOptions,
    /// Fine-tune the encoder's top layers with the head (`--fine-tune`) before fitting the final head.
    pub fine_tune: Option<FineTuneOptions>,
    /// Remove each language's mean embedding before the head (`language_centring`); on unless
    /// `--no-language-centring`.
    pub language_centring: bool,
    /// The encoder layers the head reads (`HeadModel::layers`, `--layers`); empty: the sentence embedding.
    pub layers: Vec<usize>,
    /// Languages that get weights of their own besides the shared ones (`HeadMeta::language_weights`,
    /// `--language-weights`); needs language centring.
    pub language_weights: Vec<String>,
}

/// `--layers` checked against the encoder: ascending, each a layer of the model (0, the embedding block, is
/// not: it has not read the context), and not with fine-tuning, which trains on the final layer. The final
/// layer alone is stored as no layers, the sentence embedding every head before `--layers` read.
fn checked_layers(layers: &[usize], encoder: &Encoder, fine_tune: bool) -> Result<Vec<usize>> {
    let last = encoder.final_layer();
    if layers.is_empty() || layers == [last] {
        return Ok(Vec::new());
    }
    if fine_tune {
        return Err(Error::Usage(
            "--layers cannot be combined with --fine-tune (fine-tuning trains the head on the final layer)"
                .to_string(),
        ));
    }
    if layers.windows(2).any(|w| w[0] >= w[1]) || layers[0] == 0 || layers[layers.len() - 1] > last
    {
        return Err(Error::Usage(format!(
            "--layers {layers:?}: give layers of the encoder in ascending order, each from 1 to {last}"
        )));
    }
    Ok(layers.to_vec())
}

/// `--language-weights` names distinct languages that centring knows, and centring is on: the centring
/// detector chooses each row's block.
fn check_language_weights(request: &TrainRequest) -> Result<()> {
    let wanted = &request.language_weights;
    if wanted.is_empty() {
        return Ok(());
    }
    if !request.language_centring {
        return Err(Error::Usage(
            "--language-weights needs language centring (drop --no-language-centring)".to_string(),
        ));
    }
    let known = super::language_centring::reference_languages()?;
    for (i, language) in wanted.iter().enumerate() {
        if !known.contains(language) {
            return Err(Error::Usage(format!(
                "--language-weights: '{language}' is not one of the languages touchpoint centres: {}",
                known.join(", ")
            )));
        }
        if wanted[..i].contains(language) {
            return Err(Error::Usage(format!(
                "--language-weights: '{language}' is named twice"
            )));
        }
    }
    Ok(())
}

/// Reads the data, embeds it (through the cache), fits a head, writes it into `request.out` and returns it.
pub fn train(request: &TrainRequest) -> Result<LinearHead> {
    check_language_weights(request)?;
    let data = LabelledData::read(&request.data, &request.columns)?;
    if data.is_empty() {
        return Err(Error::input(
            crate::error::Location::file(&request.data),
            "no usable rows",
        ));
    }
    let pipeline = request
        .pipeline
        .as_deref()
        .map(Pipeline::load)
        .transpose()?;
    let oos = request.options.oos_label.as_deref();
    let mut texts: Vec<String> = data.texts.clone();
    let mut labels = match &pipeline {
        Some(p) => map_onto_pipeline(p, &data.labels, oos, &request.data)?,
        None => data.labels.clone(),
    };
    let mut train_only = vec![false; texts.len()];
    let mut phases = BTreeMap::new();
    if let Some(p) = &pipeline {
        for reason in &p.contact_reasons {
            phases.insert(reason.id.clone(), reason.phase.clone());
            for example in reason.examples.values().flatten() {
                texts.push(example.clone());
                labels.push(reason.id.clone());
                train_only.push(true);
            }
        }
    }
    let pipeline_examples = train_only.iter().filter(|&&t| t).count();
    let mut held_back = vec![false; texts.len()];
    let validation_data = match &request.validation_data {
        None => None,
        Some(path) => {
            // Groups only shape a split, and there is none with a validation file.
            let columns = LabelledColumns {
                group: None,
                ..request.columns.clone()
            };
            let validation = LabelledData::read(path, &columns)?;
            if validation.is_empty() {
                return Err(Error::input(
                    crate::error::Location::file(path),
                    "no usable rows",
                ));
            }
            let mapped = match &pipeline {
                Some(p) => map_onto_pipeline(p, &validation.labels, oos, path)?,
                None => validation.labels.clone(),
            };
            log::info!("validating on {} rows of {}", mapped.len(), path.display());
            texts.extend(validation.texts.iter().cloned());
            labels.extend(mapped);
            train_only.resize(texts.len(), false);
            held_back.resize(texts.len(), true);
            Some((path.display().to_string(), store::sha256_file(path)?))
        }
    };
    // Pipeline examples and validation-file rows never go through the split, so their group does not matter.
    let options = TrainOptions {
        groups: data.groups.as_ref().map(|groups| {
            let mut groups = groups.clone();
            groups.resize(labels.len(), String::new());
            groups
        }),
        held_back: validation_data.is_some().then_some(held_back),
        ..request.options.clone()
    };

    let spec = match (&request.model, &pipeline) {
        (Some(m), _) => m.clone(),
        (None, Some(p)) => p.model.encoder.clone(),
        (None, None) => store::default_model_name()?,
    };
    let location = store::resolve(&spec, request.offline, &mut |m| log::info!("{m}"))?;
    let max_tokens = pipeline.as_ref().map(|p| p.model.max_tokens);
    let precision = request
        .precision
        .or(pipeline.as_ref().map(|p| p.model.precision))
        .unwrap_or_default();
    let encoder = Encoder::load(location, precision, max_tokens)?;
    let layers = checked_layers(&request.layers, &encoder, request.fine_tune.is_some())?;
    let prefix = match &pipeline {
        Some(p) => p.model.query_prefix.clone(),
        None => encoder.query_prefix().to_string(),
    };
    let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embed = |encoder: &Encoder| {
        cache::embed_cached(
            encoder,
            &text_refs,
            &prefix,
            request.token_budget.max(1),
            &layers,
            request.cache_dir.as_deref(),
        )
    };
    log::info!("embedding {} texts", text_refs.len());
    let embeddings = embed(&encoder)?;
    let base_id = encoder.location().id.clone();
    let (encoder, embeddings, tuned) = match &request.fine_tune {
        None => (encoder, embeddings, None),
        Some(fine_tune_options) => {
            let (tuned_encoder, tuned) = fine_tune_encoder(
                &encoder,
                &embeddings,
                (&text_refs, &prefix),
                &labels,
                &train_only,
                (request, &options),
                fine_tune_options,
            )?;
            drop(encoder);
            log::info!("embedding {} texts with the tuned encoder", text_refs.len());
            let embeddings = embed(&tuned_encoder)?;
            (tuned_encoder, embeddings, Some(tuned))
        }
    };
    let (embeddings, language_centring) = if request.language_centring {
        let centring =
            LanguageCentring::estimate(&encoder, &prefix, request.token_budget.max(1), &layers)?;
        let languages = centring.detect(&text_refs);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for language in &languages {
            *counts.entry(language.unwrap_or("undetected")).or_default() += 1;
        }
        log::info!("languages of the training texts (centred by language): {counts:?}");
        if !request.language_weights.is_empty() {
            log::info!(
                "weights of their own for {}, shared weights for every language",
                request.language_weights.join(", ")
            );
        }
        let input = head_input(
            Some(&centring),
            &request.language_weights,
            &embeddings,
            &languages,
        )?
        .into_owned();
        (input, Some(centring))
    } else {
        (embeddings, None)
    };
    let fitted = fit(&embeddings, &labels, &train_only, &options)?;
    let meta = HeadMeta {
        format: HEAD_FORMAT,
        touchpoint_version: crate::VERSION.to_string(),
        labels: fitted.labels.clone(),
        phases: phases
            .into_iter()
            .filter(|(label, _)| fitted.labels.contains(label))
            .collect(),
        temperature: fitted.temperature,
        unknown_below: fitted.unknown_below,
        threshold_rule: fitted.threshold_rule.clone(),
        model: HeadModel {
            id: base_id,
            sha256: encoder.location().sha256.clone(),
            query_prefix: prefix,
            max_tokens: encoder.max_tokens(),
            tuned,
            layers,
        },
        training: TrainingProvenance {
            data: request.data.display().to_string(),
            data_sha256: store::sha256_file(&request.data)?,
            rows: data.len(),
            train_rows: fitted.train_rows,
            validation_rows: fitted.validation_rows,
            pipeline_examples,
            pipeline: request.pipeline.as_ref().map(|p| p.display().to_string()),
            pipeline_sha256: pipeline.as_ref().map(|p| p.hash.clone()),
            oos_label: request.options.oos_label.clone(),
            seed: request.options.seed,
            group_column: request.columns.group.clone(),
            validation_data: validation_data.as_ref().map(|(path, _)| path.clone()),
            validation_data_sha256: validation_data.map(|(_, sha)| sha),
            l2_penalty: Some(fitted.penalty),
            penalties_tried: fitted.penalties_tried.clone(),
            iterations: Some(fitted.iterations),
            epochs: None,
            learning_rate: None,
            weight_decay: None,
        },
        validation: fitted.validation.clone(),
        language_centring,
        out_of_scope: fitted.out_of_scope.clone(),
        language_weights: request.language_weights.clone(),
    };
    let head = LinearHead::new(meta, fitted.dim, fitted.weight, fitted.bias)?;
    head.save(&request.out)?;
    Ok(head)
}

/// Fine-tunes `encoder`'s top layers on the training part (the split `fit` uses), starting from a head fitted
/// on the frozen `embeddings`, writes the tuned tensors to `request.out`, and returns the tuned encoder loaded
/// from that file (so what the head is fitted on is exactly what a user of the folder gets) and its record.
fn fine_tune_encoder(
    encoder: &Encoder,
    embeddings: &Embeddings,
    (texts, prefix): (&[&str], &str),
    labels: &[String],
    train_only: &[bool],
    (request, train_options): (&TrainRequest, &TrainOptions),
    options: &FineTuneOptions,
) -> Result<(Encoder, TunedEncoder)> {
    // Cross-entropy only teaches the encoder what the head still gets wrong: a head fitted with the penalty that
    // validates best interpolates few-shot training rows (loss near 0, no gradient), so cross-entropy starts
    // from the strongest penalty of the grid, a head that is right in direction but not yet confident.
    let penalties = match options.objective {
        TuneObjective::CrossEntropy => train_options
            .penalties
            .iter()
            .copied()
            .reduce(f64::max)
            .map_or_else(Vec::new, |strongest| vec![strongest]),
        TuneObjective::Contrastive => train_options.penalties.clone(),
    };
    log::info!(
        "fitting the starting head on the frozen embeddings (L2 penalty among {penalties:?})"
    );
    let start = fit(
        embeddings,
        labels,
        train_only,
        &TrainOptions {
            refit: false,
            penalties,
            ..train_options.clone()
        },
    )?;
    let class_of: BTreeMap<&str, usize> = start
        .labels
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    // Out-of-scope rows without a class take no part in fine-tuning.
    let targets: Vec<usize> = labels
        .iter()
        .map(|l| class_of.get(l.as_str()).copied().unwrap_or(usize::MAX))
        .collect();
    let Partition { train, validation } = partition(labels, train_only, train_options);
    let (train, validation): (Vec<usize>, Vec<usize>) = (
        train
            .into_iter()
            .filter(|&i| targets[i] != usize::MAX)
            .collect(),
        validation
            .into_iter()
            .filter(|&i| targets[i] != usize::MAX)
            .collect(),
    );
    let (tensors, report) = fine_tune(
        encoder,
        texts,
        prefix,
        &targets,
        &train,
        &validation,
        (&start.weight, &start.bias),
        options,
    )?;
    std::fs::create_dir_all(&request.out).at(&request.out)?;
    let path = request.out.join(TUNED_ENCODER_FILE);
    let tmp = temporary(&path);
    candle_core::safetensors::save(&tensors, &tmp)?;
    std::fs::rename(&tmp, &path).at(&path)?;
    let base = encoder.location().clone();
    let location = base.clone().with_tuned(&path)?;
    let tuned = TunedEncoder {
        file: TUNED_ENCODER_FILE.to_string(),
        sha256: store::sha256_file(&path)?,
        base_sha256: base.sha256.clone(),
        fine_tuning: report,
    };
    let tuned_encoder = Encoder::load(location, encoder.precision(), Some(encoder.max_tokens()))?;
    Ok((tuned_encoder, tuned))
}

/// Each data label as a contact reason id: an id itself, or a reason's name in any language (case and
/// surrounding space ignored). The oos label stays as it is. Labels matching no reason are an error that
/// lists them, since training on them would silently add reasons the pipeline does not have.
pub fn map_onto_pipeline(
    pipeline: &Pipeline,
    labels: &[String],
    oos: Option<&str>,
    data: &Path,
) -> Result<Vec<String>> {
    let mut by_name: BTreeMap<String, &str> = BTreeMap::new();
    for reason in &pipeline.contact_reasons {
        for name in reason.name.values() {
            by_name.insert(name.trim().to_lowercase(), &reason.id);
        }
        by_name.insert(reason.id.to_lowercase(), &reason.id);
    }
    let mut unmatched = BTreeSet::new();
    let mapped: Vec<String> = labels
        .iter()
        .map(|label| {
            if Some(label.as_str()) == oos {
                return label.clone();
            }
            match by_name.get(&label.trim().to_lowercase()) {
                Some(id) => id.to_string(),
                None => {
                    unmatched.insert(label.clone());
                    label.clone()
                }
            }
        })
        .collect();
    if !unmatched.is_empty() {
        let shown: Vec<String> = unmatched.iter().take(10).cloned().collect();
        return Err(Error::input(
            crate::error::Location::file(data),
            format!(
                "{} labels match no contact reason (id or name) of {}: {}{}",
                unmatched.len(),
                pipeline.path.display(),
                shown.join(", "),
                if unmatched.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::super::linear::Prediction;
    use super::*;
    use crate::classify::split::SplitMix64;

    /// Unit vectors around four directions: three intents and one out-of-scope region, `per_label` rows each.
    fn clusters(per_label: usize) -> (Embeddings, Vec<String>) {
        let dim = 8;
        let mut rng = SplitMix64::new(7);
        let mut vectors = Vec::new();
        let mut labels = Vec::new();
        for (axis, label) in ["a", "b", "c", "oos"].iter().enumerate() {
            for _ in 0..per_label {
                let mut row: Vec<f32> = (0..dim)
                    .map(|_| (rng.below(1000) as f32 / 1000.0 - 0.5) * 0.6)
                    .collect();
                row[axis] += 1.0;
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                vectors.extend(row.iter().map(|x| x / norm));
                labels.push(label.to_string());
            }
        }
        let n = labels.len();
        let embeddings = Embeddings {
            dim,
            vectors,
            n_tokens: vec![1; n],
            n_chunks: vec![1; n],
        };
        (embeddings, labels)
    }

    fn options(oos_class: bool) -> TrainOptions {
        TrainOptions {
            oos_label: Some("oos".to_string()),
            oos_class,
            target: ThresholdTarget::OosRecall(0.8),
            ..TrainOptions::default()
        }
    }

    #[test]
    fn out_of_scope_rows_form_a_class_that_means_unknown() {
        let (embeddings, labels) = clusters(40);
        let train_only = vec![false; labels.len()];
        let fitted = fit(&embeddings, &labels, &train_only, &options(true)).unwrap();
        assert_eq!(fitted.labels, ["a", "b", "c", "oos"]);
        assert_eq!(fitted.out_of_scope.as_deref(), Some("oos"));
        let oos = fitted.labels.iter().position(|l| l == "oos");
        let logits = |row: usize| -> Vec<f32> {
            let x = embeddings.row(row);
            fitted
                .weight
                .chunks_exact(fitted.dim)
                .zip(&fitted.bias)
                .map(|(w, b)| w.iter().zip(x).map(|(p, q)| p * q).sum::<f32>() + b)
                .collect()
        };
        let answers: Vec<Prediction> = (0..labels.len())
            .map(|row| {
                decide(
                    &softmax(&logits(row), fitted.temperature),
                    oos,
                    fitted.unknown_below,
                )
            })
            .collect();
        let caught = (120..160).filter(|&r| answers[r].answer.is_none()).count();
        let right = (0..120)
            .filter(|&r| answers[r].answer.map(|c| fitted.labels[c].as_str()) == Some(&labels[r]))
            .count();
        assert!(caught >= 36, "{caught} of 40 out-of-scope rows unknown");
        assert!(right >= 110, "{right} of 120 in-scope rows right");
        assert!(answers[120..].iter().any(|a| a.out_of_scope));
    }

    #[test]
    fn without_the_class_out_of_scope_rows_only_set_the_threshold() {
        let (embeddings, labels) = clusters(40);
        let train_only = vec![false; labels.len()];
        let fitted = fit(&embeddings, &labels, &train_only, &options(false)).unwrap();
        assert_eq!(fitted.labels, ["a", "b", "c"]);
        assert_eq!(fitted.out_of_scope, None);
        let partition = partition(&labels, &train_only, &options(false));
        assert!(partition.train.iter().all(|&i| labels[i] != "oos"));
        assert!(partition.validation.iter().any(|&i| labels[i] == "oos"));
    }

    #[test]
    fn a_validation_file_is_the_whole_validation_part_and_never_trains() {
        let (embeddings, labels) = clusters(40);
        let train_only = vec![false; labels.len()];
        // The last 10 rows of each cluster stand for a separate validation file.
        let held: Vec<bool> = (0..labels.len()).map(|i| i % 40 >= 30).collect();
        let options = TrainOptions {
            held_back: Some(held.clone()),
            ..options(true)
        };
        let parts = partition(&labels, &train_only, &options);
        assert_eq!(
            parts.validation,
            (0..160).filter(|&i| held[i]).collect::<Vec<_>>()
        );
        assert_eq!(
            parts.train,
            (0..160).filter(|&i| !held[i]).collect::<Vec<_>>()
        );
        let fitted = fit(&embeddings, &labels, &train_only, &options).unwrap();
        assert_eq!((fitted.train_rows, fitted.validation_rows), (120, 40));
        // The threshold is chosen on the file's own 10 out-of-scope rows, not on out-of-fold predictions.
        assert!(
            fitted.threshold_rule.contains("validation rows"),
            "{}",
            fitted.threshold_rule
        );
        assert!(fitted.validation.oos_recall.unwrap() >= 0.8);
        // No refit: the penalty is the one chosen for the training rows, unscaled.
        let trial = &fitted.penalties_tried;
        assert!(trial.iter().any(|t| t.penalty == fitted.penalty));

        // A label the training rows lack cannot be validated on.
        let mut relabelled = labels.clone();
        relabelled[159 - 40] = "d".to_string();
        let error = fit(&embeddings, &relabelled, &train_only, &options).unwrap_err();
        assert!(error.to_string().contains("lacks: d"), "{error}");
    }
}
