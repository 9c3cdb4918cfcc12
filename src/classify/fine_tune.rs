//! Fine-tuning: the encoder's top layers and a softmax head trained together on labelled texts, on the CPU
//! (`touchpoint train --fine-tune`).
//!
//! Contract of `fine_tune`: given the rows of a `Partition` and a head to start from (fitted on the frozen
//! embeddings, so that the first steps do not pull the encoder towards a random head), it trains the top
//! `layers` layers (`model::tuning`) and the head with AdamW on class-balanced cross-entropy, in shuffled
//! mini-batches of texts of similar length, with a linear warm-up and decay of the learning rate. After every
//! epoch it measures loss and accuracy on the validation rows and keeps the weights of the epoch with the lowest
//! validation loss (epoch 0, the untuned encoder, included). It returns those weights under their Hugging Face names; the caller writes them next to the
//! head and fits the final head on the tuned embeddings. Only the training rows move the weights. The same
//! data, options and seed give the same weights.
//!
//! Two objectives (`TuneObjective`). Cross-entropy trains encoder and head on the head's class-balanced loss.
//! Contrastive is SetFit's idea on in-batch pairs: each batch holds a few rows of each of several labels, and
//! the encoder is trained to pull every pair of same-label rows together and push the other pairs apart
//! (supervised contrastive loss over all pairs of the batch, so one forward pass serves B^2 pairs, which is
//! what makes it affordable on a CPU); the head follows on the side without moving the encoder, and the epoch
//! is chosen on the validation rows' cosines to the training rows' class centroids, a measure of the
//! embeddings alone. A head that already fits its training rows leaves cross-entropy nothing to teach the
//! encoder, so for cross-entropy the caller fits the starting head with a strong penalty (`train`); with 8
//! examples per label both objectives then help, contrastive a little more (EVALUATION.md, section 13).
//!
//! Texts are cut to `max_tokens` for training: longer texts cost quadratic attention and the opening of a
//! customer's message usually carries its reason; inference still reads texts whole.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::split::SplitMix64;
use crate::error::{Error, Result};
use crate::model::encoder::length_batches;
use crate::model::tuning::TunableLayers;
use crate::model::{encoder::load_weights, Encoder};

/// Knobs of `fine_tune`. The defaults were chosen on Banking77 (see EVALUATION.md).
#[derive(Debug, Clone)]
pub struct FineTuneOptions {
    /// How many of the encoder's top layers are trained (the rest and the word embeddings stay frozen).
    pub layers: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// The head starts trained, but its weights are large (e5 embeddings sit close together), so it moves
    /// with a larger step than the encoder.
    pub head_learning_rate: f64,
    pub weight_decay: f64,
    /// Share of all steps over which the learning rate rises linearly from zero.
    pub warmup: f64,
    /// Training inputs are cut to this many tokens (specials included).
    pub max_tokens: usize,
    pub seed: u64,
    pub objective: TuneObjective,
}

/// What moves the encoder in fine-tuning (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TuneObjective {
    /// The head's class-balanced cross-entropy, through head and encoder.
    #[default]
    CrossEntropy,
    /// Supervised contrastive loss on the pairs within each batch; the head is trained on the side.
    Contrastive,
}

impl TuneObjective {
    pub fn name(self) -> &'static str {
        match self {
            TuneObjective::CrossEntropy => "cross-entropy",
            TuneObjective::Contrastive => "contrastive",
        }
    }

    /// Reads a name as `name` writes it.
    pub fn parse(name: &str) -> Option<TuneObjective> {
        [TuneObjective::CrossEntropy, TuneObjective::Contrastive]
            .into_iter()
            .find(|o| o.name() == name)
    }
}

/// Temperature of the contrastive loss: e5's cosines between unrelated texts sit at 0.7-0.9, so the
/// differences that matter are a few hundredths and need a sharp softmax to be felt.
const CONTRASTIVE_TEMPERATURE: f64 = 0.05;

/// Rows of one label placed together in a contrastive batch: each row has at least one positive pair.
const ROWS_PER_LABEL: usize = 2;

impl Default for FineTuneOptions {
    fn default() -> Self {
        FineTuneOptions {
            layers: 4,
            epochs: 2,
            batch_size: 16,
            learning_rate: 2e-5,
            head_learning_rate: 2e-4,
            weight_decay: 0.01,
            warmup: 0.1,
            max_tokens: 128,
            seed: 42,
            objective: TuneObjective::CrossEntropy,
        }
    }
}

/// What fine-tuning did, for the head's provenance and the user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FineTuneReport {
    pub layers: Vec<usize>,
    pub epochs_run: usize,
    pub best_epoch: usize,
    /// Validation accuracy before training (epoch 0) and after each epoch: the head's, or with the contrastive
    /// objective that of the nearest training-class centroid.
    pub validation_accuracy: Vec<f64>,
    pub train_rows: usize,
    pub validation_rows: usize,
    pub seconds: f64,
    pub learning_rate: f64,
    pub head_learning_rate: f64,
    pub batch_size: usize,
    pub max_tokens: usize,
    /// Absent in heads tuned before the contrastive objective existed, which were all cross-entropy.
    #[serde(default)]
    pub objective: TuneObjective,
}

/// Fine-tunes `encoder`'s top layers and the head `(weight [classes, dim], bias [classes])` on `texts` (with
/// `prefix`), whose classes are `targets`. Returns the tuned tensors and a report. See the module docs.
#[allow(clippy::too_many_arguments)]
pub fn fine_tune(
    encoder: &Encoder,
    texts: &[&str],
    prefix: &str,
    targets: &[usize],
    train: &[usize],
    validation: &[usize],
    head: (&[f32], &[f32]),
    options: &FineTuneOptions,
) -> Result<(HashMap<String, Tensor>, FineTuneReport)> {
    let started = Instant::now();
    let device = Device::Cpu;
    let config = encoder.config().clone();
    if options.layers == 0 || options.layers > config.num_hidden_layers {
        return Err(Error::Usage(format!(
            "--tune-layers must be between 1 and the model's {} layers",
            config.num_hidden_layers
        )));
    }
    if train.is_empty() || validation.is_empty() {
        return Err(Error::Usage(
            "fine-tuning needs training and validation rows".to_string(),
        ));
    }
    let first = config.num_hidden_layers - options.layers;
    let (_, weights) = load_weights(encoder.location(), &device)?;
    let tunable = TunableLayers::new(&weights, &config, first)?;
    drop(weights);

    let classes = head.1.len();
    let dim = config.hidden_size;
    let head_weight = Var::from_tensor(&Tensor::from_slice(head.0, (classes, dim), &device)?)?;
    let head_bias = Var::from_tensor(&Tensor::from_slice(head.1, classes, &device)?)?;

    let mut rows: Vec<usize> = train.iter().chain(validation).copied().collect();
    rows.sort_unstable();
    rows.dedup();
    let bottom = bottom_states(encoder, texts, prefix, &rows, first, options.max_tokens)?;
    // Tensors share their storage, so handing out clones copies nothing.
    let states = |i: usize| -> Tensor { bottom[rows.binary_search(&i).unwrap_or(0)].clone() };
    let length = |i: usize| -> usize { states(i).dim(0).unwrap_or(0) };

    // Class-balanced: each class's rows together weigh as much as any other class's.
    let mut counts = vec![0usize; classes];
    for &i in train {
        counts[targets[i]] += 1;
    }
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                train.len() as f32 / (classes as f32 * c as f32)
            }
        })
        .collect();
    let class_weight = Tensor::from_vec(class_weight, classes, &device)?;

    let mut encoder_opt = AdamW::new(
        tunable.vars(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: options.weight_decay,
            ..Default::default()
        },
    )?;
    let mut head_opt = AdamW::new(
        vec![head_weight.clone(), head_bias.clone()],
        ParamsAdamW {
            lr: options.head_learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;

    let logits_of = |embedded: &Tensor| -> Result<Tensor> {
        Ok(embedded
            .matmul(&head_weight.as_tensor().t()?)?
            .broadcast_add(head_bias.as_tensor())?)
    };
    // Sentence embeddings of a batch of rows through the tunable layers (with gradients).
    let embed = |batch: &[usize]| -> Result<Tensor> {
        let inputs: Vec<Tensor> = batch.iter().map(|&i| states(i)).collect();
        tunable.forward(&inputs)
    };
    let forward = |batch: &[usize]| -> Result<Tensor> { logits_of(&embed(batch)?) };
    // Contrastive training moves the embeddings under the head, which follows a step behind, so the head's
    // loss would judge the head rather than the embeddings: validation reads the cosines to the training rows'
    // class centroids instead (a head-free measure of how well the labels separate).
    let centroids = || -> Result<Tensor> {
        let mut sums = vec![0f32; classes * dim];
        for batch in by_length(train, &length, 64) {
            let embedded = embed(&batch)?.detach().to_vec2::<f32>()?;
            for (row, &i) in embedded.iter().zip(&batch) {
                let sum = &mut sums[targets[i] * dim..(targets[i] + 1) * dim];
                sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        sums.chunks_mut(dim)
            .for_each(crate::model::bert::l2_normalise);
        Ok(Tensor::from_vec(sums, (classes, dim), &device)?)
    };
    let validate = || -> Result<(f64, f64)> {
        let centroids = match options.objective {
            TuneObjective::CrossEntropy => None,
            TuneObjective::Contrastive => Some(centroids()?),
        };
        let mut correct = 0usize;
        let mut loss = 0f64;
        for batch in by_length(validation, &length, 64) {
            let logits = match &centroids {
                None => forward(&batch)?,
                Some(centroids) => {
                    (embed(&batch)?.matmul(&centroids.t()?)? / CONTRASTIVE_TEMPERATURE)?
                }
            };
            let log_p = candle_nn::ops::log_softmax(&logits, D::Minus1)?.to_vec2::<f32>()?;
            for (row, &i) in log_p.iter().zip(&batch) {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |acc, (c, &v)| if v > acc.1 { (c, v) } else { acc },
                    );
                correct += usize::from(best.0 == targets[i]);
                loss -= f64::from(row[targets[i]]);
            }
        }
        Ok((
            correct as f64 / validation.len() as f64,
            loss / validation.len() as f64,
        ))
    };

    let (accuracy, loss) = validate()?;
    log::info!(
        "fine-tuning layers {first}..{}: validation accuracy {accuracy:.4} before (loss {loss:.4})",
        config.num_hidden_layers
    );
    let mut history = vec![accuracy];
    let mut best = (accuracy, -loss, 0usize);
    let mut best_weights = (
        tunable.snapshot()?,
        head_snapshot(&head_weight, &head_bias)?,
    );

    // Every epoch's batches are drawn up front: the schedule needs the exact number of steps (contrastive
    // batches are packed from label groups, so their count varies a little from epoch to epoch).
    let mut rng = SplitMix64::new(options.seed);
    let epochs: Vec<Vec<Vec<usize>>> = (0..options.epochs)
        .map(|_| match options.objective {
            TuneObjective::CrossEntropy => {
                shuffled_batches(train, &length, options.batch_size.max(1), &mut rng)
            }
            TuneObjective::Contrastive => {
                label_batches(train, targets, options.batch_size.max(2), &mut rng)
            }
        })
        .collect();
    let total_steps = epochs.iter().map(Vec::len).sum::<usize>().max(1);
    let warmup_steps = ((total_steps as f64 * options.warmup).ceil() as usize).max(1);
    let mut step = 0usize;
    for (epoch, batches) in (1..=options.epochs).zip(&epochs) {
        let epoch_started = Instant::now();
        let mut epoch_loss = 0f64;
        for (b, batch) in batches.iter().enumerate() {
            let factor = if step < warmup_steps {
                (step + 1) as f64 / warmup_steps as f64
            } else {
                total_steps.saturating_sub(step) as f64
                    / total_steps.saturating_sub(warmup_steps).max(1) as f64
            };
            encoder_opt.set_learning_rate(options.learning_rate * factor);
            head_opt.set_learning_rate(options.head_learning_rate * factor);
            let embedded = embed(batch)?;
            let target_ids: Vec<u32> = batch.iter().map(|&i| targets[i] as u32).collect();
            let loss = match options.objective {
                TuneObjective::CrossEntropy => {
                    cross_entropy(&logits_of(&embedded)?, &target_ids, &class_weight)?
                }
                TuneObjective::Contrastive => {
                    // The head learns from detached embeddings: only the pairs move the encoder.
                    let head_loss =
                        cross_entropy(&logits_of(&embedded.detach())?, &target_ids, &class_weight)?;
                    let pairs = contrastive(&embedded, &target_ids)?;
                    (pairs + head_loss)?
                }
            };
            let value = loss.to_scalar::<f32>()?;
            if !value.is_finite() {
                return Err(Error::model(format!(
                    "fine-tuning diverged in epoch {epoch}, batch {} of {} (loss {value}); try a lower \
                     --tune-learning-rate",
                    b + 1,
                    batches.len()
                )));
            }
            let grads = loss.backward()?;
            encoder_opt.step(&grads)?;
            head_opt.step(&grads)?;
            epoch_loss += f64::from(value);
            step += 1;
            if (b + 1) % (batches.len() / 10).max(1) == 0 {
                log::info!(
                    "epoch {epoch}/{}: {}/{} batches, mean loss {:.4}, {:.0} s",
                    options.epochs,
                    b + 1,
                    batches.len(),
                    epoch_loss / (b + 1) as f64,
                    epoch_started.elapsed().as_secs_f64()
                );
            }
        }
        let (accuracy, loss) = validate()?;
        log::info!(
            "epoch {epoch}: validation accuracy {accuracy:.4} (loss {loss:.4}), {:.0} s",
            epoch_started.elapsed().as_secs_f64()
        );
        history.push(accuracy);
        // Validation loss decides: accuracy on a validation part of a thousand rows moves in steps of a tenth
        // of a point and missed real gains (Banking77: loss 0.339 -> 0.288 with accuracy one row lower).
        if -loss > best.1 {
            best = (accuracy, -loss, epoch);
            best_weights = (
                tunable.snapshot()?,
                head_snapshot(&head_weight, &head_bias)?,
            );
        }
    }
    tunable.restore(&best_weights.0)?;
    log::info!(
        "kept epoch {} (validation loss {:.4}, accuracy {:.4})",
        best.2,
        -best.1,
        best.0
    );
    Ok((
        tunable.tensors()?,
        FineTuneReport {
            layers: (first..config.num_hidden_layers).collect(),
            epochs_run: options.epochs,
            best_epoch: best.2,
            validation_accuracy: history,
            train_rows: train.len(),
            validation_rows: validation.len(),
            seconds: started.elapsed().as_secs_f64(),
            learning_rate: options.learning_rate,
            head_learning_rate: options.head_learning_rate,
            batch_size: options.batch_size,
            max_tokens: options.max_tokens,
            objective: options.objective,
        },
    ))
}

/// Class-weighted mean cross-entropy of `logits` `[rows, classes]` against `targets`.
fn cross_entropy(logits: &Tensor, targets: &[u32], class_weight: &Tensor) -> Result<Tensor> {
    let target_ids = Tensor::from_slice(targets, targets.len(), logits.device())?;
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = log_p.gather(&target_ids.unsqueeze(1)?, 1)?.squeeze(1)?;
    let row_weight = class_weight.index_select(&target_ids, 0)?;
    let total = row_weight.sum_all()?.to_scalar::<f32>()?;
    Ok((picked.mul(&row_weight)?.sum_all()?.neg()? / f64::from(total))?)
}

/// Supervised contrastive loss of L2-normalised `embedded` `[rows, dim]` with labels `targets`: for each row
/// with a same-label partner in the batch, minus the mean log-probability of its partners among all other
/// rows, under a softmax of cosine / `CONTRASTIVE_TEMPERATURE`; averaged over those rows (zero when none has one).
fn contrastive(embedded: &Tensor, targets: &[u32]) -> Result<Tensor> {
    let n = targets.len();
    let device = embedded.device();
    // A row is not its own partner: its self-similarity is pushed far below any other (finite, so that the
    // zero weight it gets below does not meet an infinity).
    let mut self_mask = vec![0f32; n * n];
    let mut partners = vec![0f32; n * n];
    let mut anchors = 0usize;
    for a in 0..n {
        self_mask[a * n + a] = -1e4;
        let mut count = 0;
        for b in (0..n).filter(|&b| b != a && targets[b] == targets[a]) {
            partners[a * n + b] = 1.0;
            count += 1;
        }
        if count > 0 {
            anchors += 1;
            for b in 0..n {
                partners[a * n + b] /= count as f32;
            }
        }
    }
    if anchors == 0 {
        return Ok(Tensor::zeros((), embedded.dtype(), device)?);
    }
    let similarity = (embedded.matmul(&embedded.t()?)? / CONTRASTIVE_TEMPERATURE)?
        .broadcast_add(&Tensor::from_vec(self_mask, (n, n), device)?)?;
    let log_p = candle_nn::ops::log_softmax(&similarity, D::Minus1)?;
    let partners = Tensor::from_vec(partners, (n, n), device)?;
    Ok((log_p.mul(&partners)?.sum_all()?.neg()? / anchors as f64)?)
}

/// One epoch's contrastive batches: each label's rows shuffled and cut into groups of `ROWS_PER_LABEL`, the
/// groups shuffled and packed into batches of about `size` rows, so that most rows meet a partner and every
/// label comes up as often as it has rows.
fn label_batches(
    rows: &[usize],
    targets: &[usize],
    size: usize,
    rng: &mut SplitMix64,
) -> Vec<Vec<usize>> {
    let mut by_label: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for &i in rows {
        by_label.entry(targets[i]).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for mut members in by_label.into_values() {
        rng.shuffle(&mut members);
        groups.extend(members.chunks(ROWS_PER_LABEL).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut groups);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::with_capacity(size);
    for group in groups {
        if !current.is_empty() && current.len() + group.len() > size {
            batches.push(std::mem::take(&mut current));
        }
        current.extend(group);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

fn head_snapshot(weight: &Var, bias: &Var) -> Result<(Tensor, Tensor)> {
    Ok((weight.as_tensor().copy()?, bias.as_tensor().copy()?))
}

/// The frozen bottom's hidden states of each of `rows` (in that order): the first window of `prefix + text`,
/// cut to `max_tokens` (keeping the closing special token), through the embedding block and layers `0..first`.
fn bottom_states(
    encoder: &Encoder,
    texts: &[&str],
    prefix: &str,
    rows: &[usize],
    first: usize,
    max_tokens: usize,
) -> Result<Vec<Tensor>> {
    let selected: Vec<&str> = rows.iter().map(|&i| texts[i]).collect();
    let max_tokens = max_tokens.max(2);
    let ids: Vec<Vec<u32>> = encoder
        .tokenize(&selected, prefix)?
        .into_iter()
        .map(|t| {
            let mut window = t.windows.into_iter().next().unwrap_or_default();
            if window.len() > max_tokens {
                let last = window[window.len() - 1];
                window.truncate(max_tokens - 1);
                window.push(last);
            }
            window
        })
        .collect();
    if let Some(i) = ids.iter().position(Vec::is_empty) {
        return Err(Error::model(format!("row {}: no tokens", rows[i] + 1)));
    }
    let mut out: Vec<Option<Tensor>> = vec![None; ids.len()];
    for batch in length_batches(ids.iter().map(Vec::len), 4096) {
        let lengths: Vec<usize> = batch.iter().map(|&i| ids[i].len()).collect();
        let packed: Vec<u32> = batch.iter().flat_map(|&i| ids[i].iter().copied()).collect();
        let hidden = encoder.forward_packed_through(&packed, &lengths, first)?;
        let width = hidden.dim(1)?;
        let values = hidden.flatten_all()?.to_vec1::<f32>()?;
        let mut start = 0;
        for (&i, &len) in batch.iter().zip(&lengths) {
            // Each text gets storage of its own: a narrowed view (even after `copy`, which clones the whole
            // storage) would keep its batch's states alive, ~6 MB per text.
            out[i] = Some(Tensor::from_slice(
                &values[start * width..(start + len) * width],
                (len, width),
                &Device::Cpu,
            )?);
            start += len;
        }
    }
    Ok(out
        .into_iter()
        .map(|t| t.expect("every row batched"))
        .collect())
}

/// `rows` in batches of `size` of similar length, for evaluation.
fn by_length(rows: &[usize], length: &dyn Fn(usize) -> usize, size: usize) -> Vec<Vec<usize>> {
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|&i| (length(i), i));
    sorted.chunks(size).map(<[usize]>::to_vec).collect()
}

/// One epoch's batches: rows shuffled, then sorted by length within pools of 50 batches so that a batch pads
/// little, then the batches themselves shuffled so that lengths do not arrive in order.
fn shuffled_batches(
    rows: &[usize],
    length: &dyn Fn(usize) -> usize,
    size: usize,
    rng: &mut SplitMix64,
) -> Vec<Vec<usize>> {
    let mut order = rows.to_vec();
    rng.shuffle(&mut order);
    let mut batches = Vec::with_capacity(order.len().div_ceil(size));
    for pool in order.chunks_mut(size * 50) {
        pool.sort_by_key(|&i| length(i));
        batches.extend(pool.chunks(size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrastive_loss_matches_a_hand_computation() {
        // Three unit vectors: rows 0 and 1 share a label, row 2 has no partner (not an anchor).
        let rows: [[f32; 2]; 3] = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]];
        let embedded = Tensor::from_vec(rows.concat(), (3, 2), &Device::Cpu).unwrap();
        let loss = contrastive(&embedded, &[7, 7, 3])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let cos = |a: usize, b: usize| f64::from(rows[a][0] * rows[b][0] + rows[a][1] * rows[b][1]);
        let t = CONTRASTIVE_TEMPERATURE;
        // Anchor a, partner p, the other row o: -log(e^(cos(a,p)/t) / (e^(cos(a,p)/t) + e^(cos(a,o)/t))).
        let term = |a: usize, p: usize, o: usize| {
            let (x, y) = (cos(a, p) / t, cos(a, o) / t);
            -(x - (x.exp() + y.exp()).ln())
        };
        let expected = (term(0, 1, 2) + term(1, 0, 2)) / 2.0;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-4 * expected.max(1.0),
            "{loss} against {expected}"
        );
        // No pairs, no loss.
        let none = contrastive(&embedded, &[1, 2, 3]).unwrap();
        assert_eq!(none.to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn label_batches_pair_rows_and_use_each_once() {
        // Labels 0..5, three rows each.
        let targets: Vec<usize> = (0..15).map(|i| i / 3).collect();
        let rows: Vec<usize> = (0..15).collect();
        let batches = label_batches(&rows, &targets, 4, &mut SplitMix64::new(1));
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, rows);
        assert!(batches.iter().all(|b| b.len() <= 4));
        // Each label's rows come in a pair and a single: five pairs, each within one batch.
        let targets = &targets;
        let paired = batches
            .iter()
            .map(|b| {
                (0..5)
                    .filter(|&l| b.iter().filter(|&&i| targets[i] == l).count() >= 2)
                    .count()
            })
            .sum::<usize>();
        assert!(paired >= 5, "{batches:?}");
    }
}
