//! Zero-shot contact reasons: nearest anchors in embedding space.
//!
//! Every contact reason of the pipeline contributes anchors: its name and description in each language and its
//! example utterances, embedded once with the model's query prefix (cached on disk, keyed by the model's sha256
//! and the pipeline's hash, so a run with the same model and pipeline never re-embeds them). An interaction's
//! score for a reason is the cosine similarity to the normalised mean of the reason's anchors (`centroid`, the
//! default) or to its closest anchor (`nearest`); the best reason wins unless its
//! score is under the pipeline's `unknown_below`, in which case the answer is `unknown`. Columns come out as
//! Arrow arrays: the reason, its score, its lifecycle phase and the top-k reasons with their scores.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{Array, ArrayRef, Float32Array, StringArray};
use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::model::{Embeddings, Encoder};
use crate::pipeline::{Pipeline, Scoring};
use crate::schema;

/// The anchors of every contact reason, embedded.
pub struct ZeroShot {
    reasons: Vec<String>,
    phases: Vec<String>,
    /// Reason index of each anchor.
    anchor_reason: Vec<usize>,
    anchors: Embeddings,
    unknown_below: f32,
    unknown_below_by_language: std::collections::BTreeMap<String, f32>,
    top_k: usize,
}

/// The classification columns of one batch.
pub struct ReasonColumns {
    pub reason: ArrayRef,
    pub score: ArrayRef,
    pub top: ArrayRef,
    pub phase: ArrayRef,
    pub source: ArrayRef,
}

impl ZeroShot {
    /// Embeds the pipeline's anchors, or reads them from the cache folder when present.
    pub fn build(
        pipeline: &Pipeline,
        encoder: &Encoder,
        cache_dir: Option<&Path>,
        token_budget: usize,
    ) -> Result<Self> {
        let mut texts = Vec::new();
        let mut anchor_reason = Vec::new();
        for (i, reason) in pipeline.contact_reasons.iter().enumerate() {
            let examples = reason.examples.values().flatten();
            for text in reason
                .name
                .values()
                .chain(reason.description.values())
                .chain(examples)
            {
                texts.push(text.as_str());
                anchor_reason.push(i);
            }
        }
        if texts.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no contact reasons to classify into",
                pipeline.path.display()
            )));
        }
        let cache = cache_dir.map(|dir| {
            let model = &encoder.location().sha256;
            let key = format!(
                "{}-{}{}",
                &model[..model.len().min(16)],
                &pipeline.hash[..pipeline.hash.len().min(16)],
                encoder.precision().cache_suffix()
            );
            dir.join(format!("anchors-{key}.f32"))
        });
        let cached = cache
            .as_deref()
            .and_then(|p| read_cache(p, texts.len(), encoder.dim()));
        let anchors = match cached {
            Some(anchors) => anchors,
            None => {
                let anchors = encoder.embed(&texts, &pipeline.model.query_prefix, token_budget)?;
                if let Some(path) = &cache {
                    // A cache that cannot be written only costs time on the next run.
                    if let Err(e) = write_cache(path, &anchors) {
                        log::warn!("could not cache reason anchors: {e}");
                    }
                }
                anchors
            }
        };
        let (anchors, anchor_reason) = match pipeline.classify.scoring {
            Scoring::Nearest => (anchors, anchor_reason),
            Scoring::Centroid => {
                centroids(&anchors, &anchor_reason, pipeline.contact_reasons.len())
            }
        };
        Ok(ZeroShot {
            reasons: pipeline
                .contact_reasons
                .iter()
                .map(|r| r.id.clone())
                .collect(),
            phases: pipeline
                .contact_reasons
                .iter()
                .map(|r| r.phase.clone())
                .collect(),
            anchor_reason,
            anchors,
            unknown_below: pipeline.classify.unknown_below,
            unknown_below_by_language: pipeline.classify.unknown_below_by_language.clone(),
            top_k: pipeline.classify.top_k.max(1),
        })
    }

    pub fn top_k(&self) -> usize {
        self.top_k
    }

    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    pub fn n_anchors(&self) -> usize {
        self.anchors.len()
    }

    /// Each row's score for every reason: the best cosine over the reason's anchors (one anchor per reason in
    /// centroid scoring).
    pub fn reason_scores(&self, embeddings: &Embeddings) -> Vec<Vec<f32>> {
        (0..embeddings.len())
            .into_par_iter()
            .map(|row| {
                let x = embeddings.row(row);
                let mut best = vec![f32::NEG_INFINITY; self.reasons.len()];
                for (a, &reason) in self.anchor_reason.iter().enumerate() {
                    // Both sides are unit vectors, so the dot product is the cosine.
                    let cosine: f32 = x.iter().zip(self.anchors.row(a)).map(|(p, q)| p * q).sum();
                    if cosine > best[reason] {
                        best[reason] = cosine;
                    }
                }
                best
            })
            .collect()
    }

    /// The `unknown` threshold for a text in `language` (the pipeline's per-language value, else its default).
    pub fn threshold(&self, language: Option<&str>) -> f32 {
        language
            .and_then(|l| self.unknown_below_by_language.get(l))
            .copied()
            .unwrap_or(self.unknown_below)
    }

    /// The best reason per row (`None` when under the threshold) with its score, and the ranked top-k.
    pub fn rank(&self, scores: &[f32], threshold: f32) -> (Option<usize>, f32, Vec<(usize, f32)>) {
        let top = top_ranked(scores, self.top_k);
        let (best, score) = top.first().copied().unwrap_or((0, f32::NEG_INFINITY));
        let chosen = (score >= threshold).then_some(best);
        (chosen, score, top)
    }

    /// The zero-shot decision for every row of `embeddings`; `languages` (the detected language per row, when
    /// known) selects per-language thresholds.
    pub fn decide(
        &self,
        embeddings: &Embeddings,
        languages: Option<&StringArray>,
    ) -> Vec<Decision> {
        self.reason_scores(embeddings)
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let language = languages
                    .filter(|l| i < l.len() && l.is_valid(i))
                    .map(|l| l.value(i));
                let (reason, score, top) = self.rank(row, self.threshold(language));
                Decision {
                    reason,
                    score,
                    top,
                    source: Source::ZeroShot,
                }
            })
            .collect()
    }

    /// The classification columns for a batch of embeddings, zero-shot only.
    pub fn classify(&self, embeddings: &Embeddings) -> ReasonColumns {
        self.columns(&self.decide(embeddings, None))
    }

    /// The contact-reason columns for decisions about this pipeline's reasons.
    pub fn columns(&self, decisions: &[Decision]) -> ReasonColumns {
        let n = decisions.len();
        let mut reason = StringBuilder::with_capacity(n, n * 16);
        let mut score = Float32Builder::with_capacity(n);
        let mut phase = StringBuilder::with_capacity(n, n * 16);
        let mut source = StringBuilder::with_capacity(n, n * 9);
        let item = StructBuilder::from_fields(schema::ranked_reason_fields(), n * self.top_k);
        let mut top = ListBuilder::new(item).with_field(schema::list_item(
            arrow_schema::DataType::Struct(schema::ranked_reason_fields()),
        ));
        for decision in decisions {
            match decision.reason {
                Some(i) => {
                    reason.append_value(&self.reasons[i]);
                    phase.append_value(&self.phases[i]);
                }
                None => {
                    reason.append_value(schema::UNKNOWN_REASON);
                    phase.append_null();
                }
            }
            score.append_value(decision.score);
            source.append_value(decision.source.as_str());
            let entries = top.values();
            for &(i, s) in decision.top.iter().take(self.top_k) {
                entries
                    .field_builder::<StringBuilder>(0)
                    .expect("field 0 of ranked_reason_fields is the reason")
                    .append_value(&self.reasons[i]);
                entries
                    .field_builder::<Float32Builder>(1)
                    .expect("field 1 of ranked_reason_fields is the score")
                    .append_value(s);
                entries.append(true);
            }
            top.append(true);
        }
        ReasonColumns {
            reason: Arc::new(reason.finish()) as ArrayRef,
            score: Arc::new(score.finish()) as ArrayRef,
            top: Arc::new(top.finish()) as ArrayRef,
            phase: Arc::new(phase.finish()) as ArrayRef,
            source: Arc::new(source.finish()) as ArrayRef,
        }
    }
}

/// The `k` highest scores with their indices, best first; ties go to the lower index, so rankings are
/// deterministic.
pub fn top_ranked(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|i| (i, scores[i])).collect()
}

/// Which head decided a row's contact reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Head,
    ZeroShot,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Head => "head",
            Source::ZeroShot => "zero_shot",
        }
    }
}

/// One row's contact reason: the pipeline reason index (`None` is `unknown`), its score (a calibrated
/// probability from a trained head, a cosine similarity from zero-shot), the ranked candidates, and who decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub reason: Option<usize>,
    pub score: f32,
    pub top: Vec<(usize, f32)>,
    pub source: Source,
}

/// Convenience for tests and `eval`: the predicted reason id (or `unknown`) per row.
pub fn predicted_labels(columns: &ReasonColumns) -> Vec<String> {
    let reasons = columns.reason.as_any().downcast_ref::<StringArray>();
    reasons
        .map(|a| {
            a.iter()
                .map(|v| v.unwrap_or(schema::UNKNOWN_REASON).to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Convenience for tests: the scores per row.
pub fn scores(columns: &ReasonColumns) -> Vec<f32> {
    columns
        .score
        .as_any()
        .downcast_ref::<Float32Array>()
        .map(|a| a.values().to_vec())
        .unwrap_or_default()
}

/// The normalised mean of each reason's anchors, one anchor per reason.
fn centroids(
    anchors: &Embeddings,
    anchor_reason: &[usize],
    n_reasons: usize,
) -> (Embeddings, Vec<usize>) {
    let dim = anchors.dim;
    let mut sums = vec![0f32; n_reasons * dim];
    for (a, &reason) in anchor_reason.iter().enumerate() {
        for (sum, v) in sums[reason * dim..(reason + 1) * dim]
            .iter_mut()
            .zip(anchors.row(a))
        {
            *sum += v;
        }
    }
    for centroid in sums.chunks_mut(dim) {
        let norm = centroid
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        centroid.iter_mut().for_each(|v| *v /= norm);
    }
    let centroids = Embeddings {
        dim,
        vectors: sums,
        n_tokens: vec![0; n_reasons],
        n_chunks: vec![1; n_reasons],
    };
    (centroids, (0..n_reasons).collect())
}

const CACHE_MAGIC: &[u8; 8] = b"TPANCH01";

fn read_cache(path: &Path, count: usize, dim: usize) -> Option<Embeddings> {
    let bytes = fs::read(path).ok()?;
    let body = bytes.strip_prefix(CACHE_MAGIC.as_slice())?;
    if body.len() != count * dim * 4 {
        return None;
    }
    let vectors = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(Embeddings {
        dim,
        vectors,
        n_tokens: vec![0; count],
        n_chunks: vec![1; count],
    })
}

fn write_cache(path: &Path, anchors: &Embeddings) -> Result<()> {
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&dir).at(&dir)?;
    let mut bytes = Vec::with_capacity(CACHE_MAGIC.len() + anchors.vectors.len() * 4);
    bytes.extend_from_slice(CACHE_MAGIC);
    for v in &anchors.vectors {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).at(&tmp)?;
    fs::rename(&tmp, path).at(path)
}
