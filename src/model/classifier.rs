//! Hugging Face sequence-classification checkpoints (`BertForSequenceClassification`,
//! `XLMRobertaForSequenceClassification`, `RobertaForSequenceClassification`): the encoder of `bert.rs` plus
//! the checkpoint's own classification head, and its `id2label`.
//!
//! Contract: `probabilities` returns one softmax distribution over `labels()` per text, in input order. The
//! head reads the first token's final hidden state: BERT through its pooler (`tanh(W_p h + b_p)`) and
//! `classifier`; RoBERTa-style through `classifier.dense` + `tanh` and `classifier.out_proj`. A text longer
//! than the window is read in windows like `Encoder::embed` reads it, and its distribution is the
//! length-weighted mean of its windows' distributions.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{Device, Tensor, D};
use serde::Deserialize;

use super::bert::Precision;
use super::encoder::Encoder;
use super::store::ModelLocation;
use crate::error::{Error, IoContext, Result};

/// The architectures whose classification head this module knows.
const BERT_ARCHITECTURES: [&str; 1] = ["BertForSequenceClassification"];
const ROBERTA_ARCHITECTURES: [&str; 3] = [
    "XLMRobertaForSequenceClassification",
    "RobertaForSequenceClassification",
    "CamembertForSequenceClassification",
];

/// `y = x W^T + b` on a `[rows, in]` matrix.
struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?)
    }
}

/// The layers between the first token's hidden state and the logits.
struct Head {
    /// BERT's pooler, or RoBERTa's `classifier.dense`; both are followed by `tanh`.
    hidden: Dense,
    out: Dense,
}

pub struct SequenceClassifier {
    encoder: Encoder,
    head: Head,
    labels: Vec<String>,
}

#[derive(Deserialize)]
struct ClassifierConfig {
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    id2label: BTreeMap<String, String>,
    hidden_size: usize,
}

impl SequenceClassifier {
    /// Loads a sequence-classification checkpoint from a resolved Hugging Face folder.
    pub fn load(location: ModelLocation, precision: Precision) -> Result<SequenceClassifier> {
        let config_path = location
            .config
            .clone()
            .ok_or_else(|| Error::model(format!("{}: no config.json", location.dir.display())))?;
        let text = std::fs::read_to_string(&config_path).at(&config_path)?;
        let config: ClassifierConfig = serde_json::from_str(&text)
            .map_err(|e| Error::model(format!("{}: {e}", config_path.display())))?;
        let architecture = config.architectures.first().cloned().unwrap_or_default();
        let roberta = ROBERTA_ARCHITECTURES.contains(&architecture.as_str());
        if !roberta && !BERT_ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(Error::model(format!(
                "{}: architecture '{architecture}' is not a supported sequence classifier ({})",
                config_path.display(),
                BERT_ARCHITECTURES
                    .iter()
                    .chain(&ROBERTA_ARCHITECTURES)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let labels = labels_in_order(&config.id2label)
            .map_err(|e| Error::model(format!("{}: {e}", config_path.display())))?;
        let weights = location.weights.clone();
        // SAFETY: as for every model file, touchpoint assumes the checkpoint is not rewritten while it runs;
        // only the few head tensors are read from the mapping.
        let tensors = unsafe { MmapedSafetensors::new(&weights) }
            .map_err(|e| Error::model(format!("{}: {e}", weights.display())))?;
        let dense = |names: &[&str], rows: usize, cols: usize| -> Result<Dense> {
            Ok(Dense {
                weight: tensor(&tensors, &weights, names, ".weight", &[rows, cols])?,
                bias: tensor(&tensors, &weights, names, ".bias", &[rows])?,
            })
        };
        let h = config.hidden_size;
        let k = labels.len();
        let head = if roberta {
            Head {
                hidden: dense(&["classifier.dense"], h, h)?,
                out: dense(&["classifier.out_proj"], k, h)?,
            }
        } else {
            Head {
                hidden: dense(&["bert.pooler.dense", "pooler.dense"], h, h)?,
                out: dense(&["classifier"], k, h)?,
            }
        };
        let encoder = Encoder::load(location, precision, None)?;
        Ok(SequenceClassifier {
            encoder,
            head,
            labels,
        })
    }

    /// The class names, in the order of the probabilities.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn location(&self) -> &ModelLocation {
        self.encoder.location()
    }

    /// One probability distribution over `labels()` per text.
    pub fn probabilities(&self, texts: &[&str], token_budget: usize) -> Result<Vec<Vec<f32>>> {
        let tokens = self.encoder.tokenize(texts, "")?;
        let k = self.labels.len();
        let mut sums = vec![vec![0f32; k]; texts.len()];
        let mut weights = vec![0f32; texts.len()];
        self.encoder
            .forward_windows(&tokens, token_budget, |windows, hidden| {
                // Windows are packed: each one's first token sits where the previous ones end.
                let starts: Vec<u32> = windows
                    .iter()
                    .scan(0u32, |at, &(_, length)| {
                        let start = *at;
                        *at += length as u32;
                        Some(start)
                    })
                    .collect();
                let starts = Tensor::from_vec(starts, windows.len(), hidden.device())?;
                let first = hidden.index_select(&starts, 0)?;
                let pooled = self.head.hidden.forward(&first)?.tanh()?;
                let logits = self.head.out.forward(&pooled)?;
                let probabilities =
                    candle_nn::ops::softmax(&logits, D::Minus1)?.to_vec2::<f32>()?;
                for (&(owner, length), p) in windows.iter().zip(probabilities) {
                    let w = length as f32;
                    sums[owner]
                        .iter_mut()
                        .zip(&p)
                        .for_each(|(s, v)| *s += w * v);
                    weights[owner] += w;
                }
                Ok(())
            })?;
        for (sum, w) in sums.iter_mut().zip(weights) {
            sum.iter_mut().for_each(|s| *s /= w.max(f32::MIN_POSITIVE));
        }
        Ok(sums)
    }
}

/// `id2label` as a list indexed by class id; ids must be 0..n without gaps.
fn labels_in_order(
    id2label: &BTreeMap<String, String>,
) -> std::result::Result<Vec<String>, String> {
    if id2label.is_empty() {
        return Err("config.json has no id2label: the classes cannot be named".into());
    }
    let mut labels = vec![None; id2label.len()];
    for (id, label) in id2label {
        let index: usize = id
            .parse()
            .map_err(|_| format!("id2label key '{id}' is not a class number"))?;
        let slot = labels
            .get_mut(index)
            .ok_or_else(|| format!("id2label ids must be 0..{}", id2label.len()))?;
        *slot = Some(label.clone());
    }
    labels
        .into_iter()
        .map(|l| l.ok_or_else(|| "id2label has gaps".to_string()))
        .collect()
}

/// The first of `names` (+ `suffix`) the checkpoint holds, as f32 of the expected shape.
fn tensor(
    tensors: &MmapedSafetensors,
    path: &Path,
    names: &[&str],
    suffix: &str,
    shape: &[usize],
) -> Result<Tensor> {
    let found = names.iter().find_map(|name| {
        let full = format!("{name}{suffix}");
        tensors.get(&full).ok().map(|_| full)
    });
    let Some(name) = found else {
        return Err(Error::model(format!(
            "{}: no tensor {}{suffix}: not a sequence-classification checkpoint",
            path.display(),
            names.join(" or ")
        )));
    };
    let tensor = tensors
        .load(&name, &Device::Cpu)
        .map_err(|e| Error::model(format!("{}: {name}: {e}", path.display())))?
        .to_dtype(candle_core::DType::F32)?;
    if tensor.dims() != shape {
        return Err(Error::model(format!(
            "{}: tensor '{name}' has shape {:?}, expected {shape:?}",
            path.display(),
            tensor.dims()
        )));
    }
    Ok(tensor)
}
