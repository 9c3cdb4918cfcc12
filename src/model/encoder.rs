//! Texts in, sentence embeddings out.
//!
//! Contract: `Encoder::embed` returns one L2-normalised vector per input text, in input order, the mean of the
//! final hidden states over the text's real tokens (never padding). Texts are tokenised with the model's
//! prefix (e5: `query: `), truncated to the model's window (reported per text), sorted by length and grouped
//! into batches whose padded size stays under a token budget, so short texts are not padded to long ones.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use candle_core::Device;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::bert::{mean_pool_packed, BertConfig, BertModel, Precision, Weights};
use super::e5s1;
use super::store::{ModelFormat, ModelLocation};
use crate::error::{Error, IoContext, Result};

/// Embeddings of a list of texts, row-major `[n, dim]`, with per-text token counts.
#[derive(Debug, Clone, Default)]
pub struct Embeddings {
    pub dim: usize,
    pub vectors: Vec<f32>,
    /// Tokens the model saw per text (specials included).
    pub n_tokens: Vec<u32>,
    /// Whether the text was longer than the model's window and cut.
    pub truncated: Vec<bool>,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.n_tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.n_tokens.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }
}

/// A loaded model ready to embed.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    location: ModelLocation,
    max_tokens: usize,
    load_time: std::time::Duration,
    /// Nanoseconds spent tokenising and in the model since the last `take_work_time`.
    tokenise_nanos: AtomicU64,
    encode_nanos: AtomicU64,
}

/// Time an encoder spent on its two halves (see `Encoder::take_work_time`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EncoderWork {
    pub tokenise: Duration,
    pub encode: Duration,
}

impl Encoder {
    /// Loads the model at `location` on the CPU. `max_tokens` caps the window below the model's own.
    pub fn load(
        location: ModelLocation,
        precision: Precision,
        max_tokens: Option<usize>,
    ) -> Result<Encoder> {
        let started = Instant::now();
        let device = Device::Cpu;
        let (config, weights) = match location.format {
            ModelFormat::E5s1 => e5s1::load(&location.weights, &device)?,
            ModelFormat::Hf => {
                let config_path = location.config.as_deref().ok_or_else(|| {
                    Error::model(format!("{}: no config.json", location.dir.display()))
                })?;
                let text = std::fs::read_to_string(config_path).at(config_path)?;
                let config = BertConfig::from_hf_json(&text)
                    .map_err(|e| Error::model(format!("{}: {e}", config_path.display())))?;
                (
                    config,
                    Weights::from_safetensors(&location.weights, &device)?,
                )
            }
        };
        let model = BertModel::load(&weights, &config, precision, &device)?;
        let max_tokens = max_tokens
            .map(|m| m.min(config.max_tokens()))
            .unwrap_or(config.max_tokens())
            .max(2);
        let tokenizer = load_tokenizer(&location.tokenizer, max_tokens)?;
        Ok(Encoder {
            model,
            tokenizer,
            location,
            max_tokens,
            load_time: started.elapsed(),
            tokenise_nanos: AtomicU64::new(0),
            encode_nanos: AtomicU64::new(0),
        })
    }

    pub fn location(&self) -> &ModelLocation {
        &self.location
    }

    pub fn dim(&self) -> usize {
        self.model.config().hidden_size
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn load_time(&self) -> std::time::Duration {
        self.load_time
    }

    /// Time spent tokenising and encoding since the previous call (or the load), and resets both clocks, so
    /// that a caller can attribute `embed`'s time to its two stages without a different `embed`.
    pub fn take_work_time(&self) -> EncoderWork {
        let take = |clock: &AtomicU64| Duration::from_nanos(clock.swap(0, Ordering::Relaxed));
        EncoderWork {
            tokenise: take(&self.tokenise_nanos),
            encode: take(&self.encode_nanos),
        }
    }

    fn clock(clock: &AtomicU64, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        clock.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The prefix the model expects before a query-like text ("query: " for e5, empty otherwise).
    pub fn query_prefix(&self) -> &str {
        &self.location.query_prefix
    }

    /// Token ids of `prefix + text` for each text, truncated to the window, with a flag per text.
    pub fn tokenize(&self, texts: &[&str], prefix: &str) -> Result<Vec<(Vec<u32>, bool)>> {
        let started = Instant::now();
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::model(format!("tokenizer: {e}")))?;
        let tokens = encodings
            .into_iter()
            .map(|e| {
                let truncated = !e.get_overflowing().is_empty();
                (e.get_ids().to_vec(), truncated)
            })
            .collect();
        Self::clock(&self.tokenise_nanos, started);
        Ok(tokens)
    }

    /// Embeds `texts` with `prefix`; batches are filled up to `token_budget` padded tokens.
    pub fn embed(&self, texts: &[&str], prefix: &str, token_budget: usize) -> Result<Embeddings> {
        let tokens = self.tokenize(texts, prefix)?;
        self.embed_tokens(&tokens, token_budget)
    }

    /// Embeds already tokenised inputs (see `tokenize`).
    pub fn embed_tokens(
        &self,
        tokens: &[(Vec<u32>, bool)],
        token_budget: usize,
    ) -> Result<Embeddings> {
        let started = Instant::now();
        let dim = self.dim();
        let mut out = Embeddings {
            dim,
            vectors: vec![0.0; tokens.len() * dim],
            n_tokens: tokens.iter().map(|(ids, _)| ids.len() as u32).collect(),
            truncated: tokens.iter().map(|(_, t)| *t).collect(),
        };
        for batch in length_batches(tokens.iter().map(|(ids, _)| ids.len()), token_budget) {
            // Texts are packed one after the other: the model computes no padding.
            let mut ids = Vec::with_capacity(batch.iter().map(|&i| tokens[i].0.len()).sum());
            let mut lengths = Vec::with_capacity(batch.len());
            for &i in &batch {
                ids.extend_from_slice(&tokens[i].0);
                lengths.push(tokens[i].0.len());
            }
            let hidden = self.model.forward_packed(&ids, &lengths)?;
            let pooled = mean_pool_packed(&hidden, &lengths)?;
            for (&i, vector) in batch.iter().zip(pooled.chunks_exact(dim)) {
                out.vectors[i * dim..(i + 1) * dim].copy_from_slice(vector);
            }
        }
        Self::clock(&self.encode_nanos, started);
        Ok(out)
    }
}

fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer> {
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
    Ok(tokenizer)
}

/// Groups indices into batches by length: sorted ascending, each batch's padded size (`count * longest`)
/// within `budget`, and a batch is closed early when padding would exceed about a tenth of its tokens, so that
/// short texts are not padded to long ones. A single text longer than the budget gets a batch of its own.
pub fn length_batches(lengths: impl Iterator<Item = usize>, budget: usize) -> Vec<Vec<usize>> {
    const MAX_PADDING: f64 = 0.10;
    let mut order: Vec<(usize, usize)> = lengths.enumerate().map(|(i, len)| (len, i)).collect();
    order.sort_unstable();
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut real = 0usize;
    for (len, i) in order {
        // Sorted ascending, so `len` is the widest row of the batch if added.
        let padded = (current.len() + 1) * len;
        let wasteful = padded as f64 * (1.0 - MAX_PADDING) > (real + len) as f64;
        if !current.is_empty() && (padded > budget || wasteful) {
            batches.push(std::mem::take(&mut current));
            real = 0;
        }
        current.push(i);
        real += len;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::length_batches;

    #[test]
    fn batches_cover_every_text_once_within_budget() {
        let lengths = [5usize, 300, 7, 12, 512, 9, 40, 3];
        let batches = length_batches(lengths.iter().copied(), 64);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for batch in &batches {
            let widest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(batch.len() == 1 || batch.len() * widest <= 64, "{batch:?}");
        }
        // Short texts are not padded to the long ones.
        assert_eq!(batches.last().unwrap(), &vec![4]);
        for batch in &batches {
            let widest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            let real: usize = batch.iter().map(|&i| lengths[i]).sum();
            assert!(
                batch.len() == 1 || real as f64 >= 0.9 * (batch.len() * widest) as f64,
                "{batch:?}"
            );
        }
    }
}
