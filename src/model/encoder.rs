//! Texts in, sentence embeddings out.
//!
//! Contract: `Encoder::embed` returns one L2-normalised vector per input text, in input order, the mean of the
//! final hidden states over the text's real tokens (never padding). Texts are tokenised with the model's
//! prefix (e5: `query: `). A text longer than the model's window is read whole, in overlapping windows
//! (`chunk_windows`), each with the special tokens and the prefix; the text's vector is the mean of its
//! windows' vectors weighted by their lengths, so nothing is cut. Windows are sorted by length and grouped
//! into batches whose padded size stays under a token budget, so short texts are not padded to long ones.
//! `Encoder::embed_layers` pools the states of several layers the same way in one pass (`LayerEmbeddings`),
//! for heads that read more than the last layer.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;

use super::bert::{l2_normalise, mean_pool_packed, BertConfig, BertModel, Precision, Weights};
use super::e5s1;
use super::int8::Int8Kernel;
use super::store::{ModelFormat, ModelLocation};
use crate::error::{Error, IoContext, Result};

/// Embeddings of a list of texts, row-major `[n, dim]`, with per-text token counts.
#[derive(Debug, Clone, Default)]
pub struct Embeddings {
    pub dim: usize,
    pub vectors: Vec<f32>,
    /// The text's length in tokens (specials and prefix counted once).
    pub n_tokens: Vec<u32>,
    /// Windows the text was read in: 1 unless it is longer than the model's window.
    pub n_chunks: Vec<u32>,
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

    /// The rows of `parts` (embeddings of the same texts) joined end to end; token and window counts are
    /// the first part's.
    pub fn side_by_side(parts: &[&Embeddings]) -> Embeddings {
        let Some(first) = parts.first() else {
            return Embeddings::default();
        };
        let dim = parts.iter().map(|p| p.dim).sum();
        let mut vectors = Vec::with_capacity(first.len() * dim);
        for row in 0..first.len() {
            for part in parts {
                vectors.extend_from_slice(part.row(row));
            }
        }
        Embeddings {
            dim,
            vectors,
            n_tokens: first.n_tokens.clone(),
            n_chunks: first.n_chunks.clone(),
        }
    }
}

/// A loaded model ready to embed.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    location: ModelLocation,
    precision: Precision,
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
        if precision == Precision::Int8 {
            match Int8Kernel::detect() {
                Int8Kernel::Portable => log::warn!(
                    "precision int8: this CPU has neither AMX nor AVX-512 VNNI, so the integer products run \
                     on portable code, several times slower than f32; choose f32 here"
                ),
                kernel => log::info!("precision int8: integer products on {}", kernel.name()),
            }
        }
        // Parsing the tokenizer (a 250,000-piece vocabulary) is most of the load time: it runs beside preparing
        // the weights.
        let (model, tokenizer) = rayon::join(
            || -> Result<(BertConfig, BertModel)> {
                let (config, weights) = load_weights(&location, &device)?;
                let model = BertModel::load(&weights, &config, precision, &device)?;
                Ok((config, model))
            },
            || load_tokenizer(&location.tokenizer),
        );
        let (config, model) = model?;
        let tokenizer = tokenizer?;
        let max_tokens = max_tokens
            .map(|m| m.min(config.max_tokens()))
            .unwrap_or(config.max_tokens())
            .max(2);
        Ok(Encoder {
            model,
            tokenizer,
            location,
            precision,
            max_tokens,
            load_time: started.elapsed(),
            tokenise_nanos: AtomicU64::new(0),
            encode_nanos: AtomicU64::new(0),
        })
    }

    pub fn location(&self) -> &ModelLocation {
        &self.location
    }

    /// How the encoder multiplies: embeddings of one precision differ slightly from another's.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn config(&self) -> &BertConfig {
        self.model.config()
    }

    /// Hidden states after the first `layers` layers for packed inputs (see `BertModel::forward_packed_through`).
    pub fn forward_packed_through(
        &self,
        ids: &[u32],
        lengths: &[usize],
        layers: usize,
    ) -> Result<Tensor> {
        self.model.forward_packed_through(ids, lengths, layers)
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

    /// Token ids of `prefix + text` for each text, as windows that fit the model (see `chunk_windows`).
    pub fn tokenize(&self, texts: &[&str], prefix: &str) -> Result<Vec<Tokenized>> {
        let started = Instant::now();
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::model(format!("tokenizer: {e}")))?;
        let tokens = encodings
            .iter()
            .map(|e| {
                // The prefix's tokens are those that end within it (offsets are bytes of `prefix + text`).
                let special = e.get_special_tokens_mask();
                let prefix_tokens = e
                    .get_offsets()
                    .iter()
                    .zip(special)
                    .skip_while(|(_, &s)| s == 1)
                    .take_while(|((_, end), &s)| s == 0 && *end <= prefix.len())
                    .count();
                split_windows(e.get_ids(), special, prefix_tokens, self.max_tokens)
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
    pub fn embed_tokens(&self, texts: &[Tokenized], token_budget: usize) -> Result<Embeddings> {
        let mut embedded = self.embed_tokens_layers(texts, token_budget, &[self.final_layer()])?;
        Ok(embedded.parts.remove(0))
    }

    /// The model's last layer: the one whose states make the sentence embedding.
    pub fn final_layer(&self) -> usize {
        self.config().num_hidden_layers
    }

    /// Embeds `texts` with `prefix` at each of `layers` (ascending; see `LayerEmbeddings`), in one pass that
    /// stops at the last of them.
    pub fn embed_layers(
        &self,
        texts: &[&str],
        prefix: &str,
        token_budget: usize,
        layers: &[usize],
    ) -> Result<LayerEmbeddings> {
        let tokens = self.tokenize(texts, prefix)?;
        self.embed_tokens_layers(&tokens, token_budget, layers)
    }

    /// The features a head reads (`LayerEmbeddings::features`) of `texts`: with `layers` empty or the final
    /// layer alone, exactly `embed`.
    pub fn embed_features(
        &self,
        texts: &[&str],
        prefix: &str,
        token_budget: usize,
        layers: &[usize],
    ) -> Result<Embeddings> {
        let embedded =
            self.embed_layers(texts, prefix, token_budget, &self.feature_layers(layers))?;
        Ok(embedded.features(layers)?.into_owned())
    }

    /// `layers` as a head names them, with empty (the default) meaning the final layer.
    pub fn feature_layers(&self, layers: &[usize]) -> Vec<usize> {
        named_or_final(layers, self.final_layer())
    }

    fn embed_tokens_layers(
        &self,
        texts: &[Tokenized],
        token_budget: usize,
        layers: &[usize],
    ) -> Result<LayerEmbeddings> {
        let started = Instant::now();
        let dim = self.dim();
        let mut sums = vec![vec![0f32; texts.len() * dim]; layers.len()];
        self.forward_windows_at(texts, token_budget, layers, |windows, states| {
            let lengths: Vec<usize> = windows.iter().map(|&(_, length)| length).collect();
            for (state, sums) in states.iter().zip(sums.iter_mut()) {
                let pooled = mean_pool_packed(state, &lengths)?;
                for (&(owner, length), vector) in windows.iter().zip(pooled.chunks_exact(dim)) {
                    let weight = length as f32;
                    let sum = &mut sums[owner * dim..(owner + 1) * dim];
                    sum.iter_mut()
                        .zip(vector)
                        .for_each(|(s, v)| *s += weight * v);
                }
            }
            Ok(())
        })?;
        let parts = sums
            .into_iter()
            .map(|mut sums| {
                for sum in sums.chunks_mut(dim) {
                    l2_normalise(sum);
                }
                Embeddings {
                    dim,
                    vectors: sums,
                    n_tokens: texts.iter().map(|t| t.n_tokens).collect(),
                    n_chunks: texts.iter().map(|t| t.windows.len() as u32).collect(),
                }
            })
            .collect();
        Self::clock(&self.encode_nanos, started);
        Ok(LayerEmbeddings {
            final_layer: self.final_layer(),
            layers: layers.to_vec(),
            parts,
        })
    }

    /// Runs the model over every window of `texts`, batched by length under `token_budget`. Windows of a batch
    /// are packed one after the other, so the model computes no padding. `visit` gets each batch's windows as
    /// (text index, window length) in order, and their final hidden states packed the same way,
    /// `[sum of lengths, hidden]`.
    pub fn forward_windows(
        &self,
        texts: &[Tokenized],
        token_budget: usize,
        mut visit: impl FnMut(&[(usize, usize)], &Tensor) -> Result<()>,
    ) -> Result<()> {
        self.forward_windows_at(
            texts,
            token_budget,
            &[self.final_layer()],
            |rows, states| visit(rows, &states[0]),
        )
    }

    /// As `forward_windows`, with the hidden states after each of `layers` (ascending) instead of the last.
    fn forward_windows_at(
        &self,
        texts: &[Tokenized],
        token_budget: usize,
        layers: &[usize],
        mut visit: impl FnMut(&[(usize, usize)], &[Tensor]) -> Result<()>,
    ) -> Result<()> {
        let windows: Vec<(usize, &[u32])> = texts
            .iter()
            .enumerate()
            .flat_map(|(t, text)| text.windows.iter().map(move |w| (t, w.as_slice())))
            .collect();
        for batch in length_batches(windows.iter().map(|(_, ids)| ids.len()), token_budget) {
            let mut ids = Vec::with_capacity(batch.iter().map(|&i| windows[i].1.len()).sum());
            let mut rows = Vec::with_capacity(batch.len());
            for &i in &batch {
                ids.extend_from_slice(windows[i].1);
                rows.push((windows[i].0, windows[i].1.len()));
            }
            let lengths: Vec<usize> = rows.iter().map(|&(_, length)| length).collect();
            let states = self.model.forward_packed_layers(&ids, &lengths, layers)?;
            visit(&rows, &states)?;
        }
        Ok(())
    }
}

/// The embeddings of the same texts at several layers of the encoder, from one pass (`Encoder::embed_layers`):
/// per layer, each text's length-weighted mean of its windows' mean-pooled hidden states, L2-normalised. The
/// final layer's is the sentence embedding; a head may read several layers (`HeadModel::layers`), because the
/// middle layers keep cues (tone, negation, wording) that the last one, trained for similarity, smooths away.
#[derive(Debug, Clone)]
pub struct LayerEmbeddings {
    /// The model's last layer, which `features(&[])` names.
    final_layer: usize,
    layers: Vec<usize>,
    parts: Vec<Embeddings>,
}

impl LayerEmbeddings {
    /// The embeddings at `layer`, when it was computed.
    pub fn layer(&self, layer: usize) -> Option<&Embeddings> {
        self.layers
            .iter()
            .position(|&l| l == layer)
            .map(|i| &self.parts[i])
    }

    /// The embeddings at `layers` side by side (`[n, dim * layers]`, each layer's part L2-normalised on its
    /// own); one layer is returned as it is, and no layers means the final one (the sentence embedding).
    pub fn features(&self, layers: &[usize]) -> Result<std::borrow::Cow<'_, Embeddings>> {
        let parts = named_or_final(layers, self.final_layer)
            .iter()
            .map(|&l| {
                self.layer(l).ok_or_else(|| {
                    Error::model(format!(
                        "layer {l} was not computed (computed: {:?})",
                        self.layers
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(match parts.as_slice() {
            [one] => std::borrow::Cow::Borrowed(*one),
            many => std::borrow::Cow::Owned(Embeddings::side_by_side(many)),
        })
    }
}

/// The one reading of a head's layer list: the layers it names, or the final layer when it names none.
fn named_or_final(layers: &[usize], final_layer: usize) -> Vec<usize> {
    if layers.is_empty() {
        vec![final_layer]
    } else {
        layers.to_vec()
    }
}

/// The configuration and weights at `location`, with its tuned overlay (if any) laid over them. The one place
/// that turns a location into tensors: `Encoder::load` and fine-tuning both read weights through it.
pub fn load_weights(location: &ModelLocation, device: &Device) -> Result<(BertConfig, Weights)> {
    let (config, mut weights) = match location.format {
        ModelFormat::E5s1 => e5s1::load(&location.weights, device)?,
        ModelFormat::Hf => {
            let config_path = location.config.as_deref().ok_or_else(|| {
                Error::model(format!("{}: no config.json", location.dir.display()))
            })?;
            let text = std::fs::read_to_string(config_path).at(config_path)?;
            let config = BertConfig::from_hf_json(&text)
                .map_err(|e| Error::model(format!("{}: {e}", config_path.display())))?;
            (
                config,
                Weights::from_safetensors(&location.weights, device)?,
            )
        }
    };
    if let Some(tuned) = &location.tuned {
        let tensors = candle_core::safetensors::load(tuned, device)
            .map_err(|e| Error::model(format!("{}: {e}", tuned.display())))?;
        weights
            .overlay(tensors)
            .map_err(|e| Error::model(format!("{}: {e}", tuned.display())))?;
    }
    Ok((config, weights))
}

/// One text's token ids as the windows the model reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    /// Each window starts and ends with the model's special tokens and repeats the prefix.
    pub windows: Vec<Vec<u32>>,
    /// The text's length in tokens, specials and prefix counted once.
    pub n_tokens: u32,
}

impl Tokenized {
    /// Tokens the model reads for this text (overlaps and repeated specials counted).
    pub fn model_tokens(&self) -> usize {
        self.windows.iter().map(Vec::len).sum()
    }
}

/// Tokens that consecutive windows share, so a sentence cut by a window boundary is read whole in one of
/// them; at most a quarter of the window.
const WINDOW_OVERLAP: usize = 64;

/// Splits one encoding (`ids` with the tokenizer's `special` mask, the prefix being the first
/// `prefix_tokens` tokens after the leading specials) into windows of at most `max_tokens`: the leading and
/// trailing special tokens and the prefix go into every window, the content is cut by `chunk_windows`. A text
/// that fits is one window, unchanged.
fn split_windows(
    ids: &[u32],
    special: &[u32],
    prefix_tokens: usize,
    max_tokens: usize,
) -> Tokenized {
    let n_tokens = ids.len() as u32;
    if ids.len() <= max_tokens {
        return Tokenized {
            windows: vec![ids.to_vec()],
            n_tokens,
        };
    }
    let lead = special.iter().take_while(|&&s| s == 1).count();
    let trail = special[lead..]
        .iter()
        .rev()
        .take_while(|&&s| s == 1)
        .count();
    let body = &ids[lead..ids.len() - trail];
    let (prefix, content) = body.split_at(prefix_tokens.min(body.len()));
    let fixed = lead + prefix.len() + trail;
    let window = max_tokens.saturating_sub(fixed).max(1);
    let windows = chunk_windows(content.len(), window, WINDOW_OVERLAP.min(window / 4))
        .into_iter()
        .map(|range| {
            let mut w = Vec::with_capacity(fixed + range.len());
            w.extend_from_slice(&ids[..lead]);
            w.extend_from_slice(prefix);
            w.extend_from_slice(&content[range]);
            w.extend_from_slice(&ids[ids.len() - trail..]);
            w
        })
        .collect();
    Tokenized { windows, n_tokens }
}

/// Windows of at most `window` positions over `0..len` that together cover every position, consecutive
/// windows sharing `overlap` positions (less for the last one, which ends at `len`). Windows are evenly
/// placed, so no tiny tail window is read on its own.
pub fn chunk_windows(len: usize, window: usize, overlap: usize) -> Vec<Range<usize>> {
    let window = window.max(1);
    if len <= window {
        return std::iter::once(0..len).collect();
    }
    let overlap = overlap.min(window - 1);
    let step = window - overlap;
    let count = (len - overlap).div_ceil(step);
    // Spread the starts evenly between 0 and `len - window`; the spacing never exceeds `step`, so the
    // overlap is at least `overlap` and every position is covered.
    let last_start = len - window;
    (0..count)
        .map(|k| {
            let start = if count == 1 {
                0
            } else {
                (k * last_start).div_ceil(count - 1)
            };
            start..start + window
        })
        .collect()
}

fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
    tokenizer.with_padding(None);
    // Long texts are split into windows here, not cut by the tokenizer.
    tokenizer
        .with_truncation(None)
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
    use super::{chunk_windows, length_batches, split_windows};

    #[test]
    fn windows_cover_every_position_with_overlap() {
        for len in [
            1usize, 100, 508, 509, 510, 511, 1000, 1017, 1018, 5000, 65_536,
        ] {
            let windows = chunk_windows(len, 508, 64);
            assert_eq!(windows.first().unwrap().start, 0);
            assert_eq!(windows.last().unwrap().end, len);
            for w in &windows {
                assert!(w.len() <= 508, "{len}: {w:?}");
            }
            for pair in windows.windows(2) {
                assert!(pair[1].start > pair[0].start, "{len}: {pair:?}");
                // Consecutive windows overlap by at least the requested 64 positions: nothing is skipped.
                assert!(pair[0].end >= pair[1].start + 64, "{len}: {pair:?}");
            }
            let mut covered = vec![false; len];
            windows
                .iter()
                .flat_map(|w| w.clone())
                .for_each(|i| covered[i] = true);
            assert!(covered.iter().all(|&c| c), "{len}");
            // No more windows than needed.
            assert_eq!(
                windows.len(),
                if len <= 508 {
                    1
                } else {
                    (len - 64).div_ceil(444)
                }
            );
        }
    }

    #[test]
    fn long_texts_split_into_windows_with_specials_and_prefix() {
        // [CLS]=0, prefix 7 8, content 100.., [SEP]=2; a window of 10 tokens.
        let content: Vec<u32> = (100..130).collect();
        let mut ids = vec![0, 7, 8];
        ids.extend(&content);
        ids.push(2);
        let mut special = vec![0u32; ids.len()];
        special[0] = 1;
        *special.last_mut().unwrap() = 1;
        let tokenized = split_windows(&ids, &special, 2, 10);
        assert_eq!(tokenized.n_tokens, ids.len() as u32);
        assert!(tokenized.windows.len() > 1);
        let mut seen = Vec::new();
        for w in &tokenized.windows {
            assert!(w.len() <= 10);
            assert_eq!(&w[..3], &[0, 7, 8]);
            assert_eq!(*w.last().unwrap(), 2);
            seen.extend_from_slice(&w[3..w.len() - 1]);
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, content, "every content token is read");
        // A text that fits is left as it is.
        let short = split_windows(&ids[..6], &special[..6], 2, 10);
        assert_eq!(short.windows, vec![ids[..6].to_vec()]);
    }

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
