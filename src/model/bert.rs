//! The BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa, multilingual-e5): `load(weights, config)` and
//! `forward(ids, mask)`.
//!
//! Weights come either dense (safetensors, or dequantized) or as GGML Q4_0 blocks; `Precision` decides whether
//! 4-bit matrices run quantized through `QMatMul` or are expanded to f32 once at load. The word-embedding table
//! always stays in its stored form: a lookup dequantizes only the rows it reads, which gives the same values as
//! a dense table at a seventh of the memory. This file knows nothing of tokenizers or pooling.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Encoder hyper-parameters (the subset of a Hugging Face `config.json` the forward pass needs).
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: usize,
    /// Index of the first real position in the position table: 0 for BERT, `pad_token_id + 1` for RoBERTa-style
    /// checkpoints, which reserve the first rows.
    pub position_offset: usize,
}

impl BertConfig {
    /// Longest input (in tokens, specials included) the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset)
    }

    pub fn validate(&self) -> Result<()> {
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::model(format!(
                "hidden size {} is not divisible by {} attention heads",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if self.max_tokens() < 2 {
            return Err(Error::model("position table too small"));
        }
        Ok(())
    }

    /// Reads a Hugging Face `config.json` of a BERT / RoBERTa / XLM-RoBERTa model.
    pub fn from_hf_json(text: &str) -> Result<BertConfig> {
        #[derive(Deserialize)]
        struct Hf {
            model_type: Option<String>,
            vocab_size: usize,
            hidden_size: usize,
            num_hidden_layers: usize,
            num_attention_heads: usize,
            intermediate_size: usize,
            max_position_embeddings: usize,
            #[serde(default = "one")]
            type_vocab_size: usize,
            #[serde(default = "default_eps")]
            layer_norm_eps: f64,
            #[serde(default)]
            pad_token_id: Option<usize>,
            #[serde(default)]
            hidden_act: Option<String>,
            #[serde(default)]
            position_embedding_type: Option<String>,
        }
        fn one() -> usize {
            1
        }
        fn default_eps() -> f64 {
            1e-12
        }
        let hf: Hf =
            serde_json::from_str(text).map_err(|e| Error::model(format!("config.json: {e}")))?;
        let model_type = hf.model_type.unwrap_or_else(|| "bert".into());
        let roberta_like = matches!(model_type.as_str(), "roberta" | "xlm-roberta" | "camembert");
        if !roberta_like && model_type != "bert" {
            return Err(Error::model(format!(
                "model_type '{model_type}' is not supported (bert, roberta, xlm-roberta, camembert are)"
            )));
        }
        if let Some(act) = hf.hidden_act.as_deref().filter(|a| *a != "gelu") {
            return Err(Error::model(format!(
                "hidden_act '{act}' is not supported (gelu is)"
            )));
        }
        if let Some(p) = hf
            .position_embedding_type
            .as_deref()
            .filter(|p| *p != "absolute")
        {
            return Err(Error::model(format!(
                "position_embedding_type '{p}' is not supported"
            )));
        }
        let pad_token_id = hf.pad_token_id.unwrap_or(if roberta_like { 1 } else { 0 });
        let config = BertConfig {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: hf.num_attention_heads,
            intermediate_size: hf.intermediate_size,
            max_position_embeddings: hf.max_position_embeddings,
            type_vocab_size: hf.type_vocab_size,
            layer_norm_eps: hf.layer_norm_eps,
            pad_token_id,
            position_offset: if roberta_like { pad_token_id + 1 } else { 0 },
        };
        config.validate()?;
        Ok(config)
    }
}

/// How matrices stored as 4-bit blocks are multiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Expand 4-bit matrices to f32 once at load; every product in f32.
    #[default]
    F32,
    /// Keep 4-bit matrices as they are stored and multiply through `QMatMul`.
    Quantized,
}

/// One stored tensor.
#[derive(Debug, Clone)]
pub enum Weight {
    Dense(Tensor),
    Quantized(Arc<QTensor>),
}

/// The named tensors of a checkpoint, under Hugging Face BERT names without a model prefix.
#[derive(Debug)]
pub struct Weights {
    tensors: HashMap<String, Weight>,
}

impl Weights {
    pub fn new(tensors: HashMap<String, Weight>) -> Weights {
        Weights { tensors }
    }

    /// Loads a safetensors checkpoint; half-precision tensors become f32. Architecture prefixes
    /// (`bert.`, `roberta.`, `model.`) and the old `gamma`/`beta` layer-norm names are normalised.
    pub fn from_safetensors(path: &Path, device: &Device) -> Result<Weights> {
        let raw = candle_core::safetensors::load(path, device)
            .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
        let mut tensors = HashMap::with_capacity(raw.len());
        for (name, tensor) in raw {
            let name = ["bert.", "roberta.", "model."]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .unwrap_or(&name)
                .replace("LayerNorm.gamma", "LayerNorm.weight")
                .replace("LayerNorm.beta", "LayerNorm.bias");
            let tensor = if tensor.dtype() == DType::F32 {
                tensor
            } else {
                tensor.to_dtype(DType::F32)?
            };
            tensors.insert(name, Weight::Dense(tensor));
        }
        Ok(Weights { tensors })
    }

    /// Every tensor as dense f32 (4-bit blocks expanded), under its Hugging Face name.
    pub fn to_dense(&self) -> Result<HashMap<String, Tensor>> {
        self.tensors
            .iter()
            .map(|(name, weight)| {
                let tensor = match weight {
                    Weight::Dense(t) => t.clone(),
                    Weight::Quantized(q) => q.dequantize(&q.device())?,
                };
                Ok((name.clone(), tensor))
            })
            .collect()
    }

    fn get(&self, name: &str) -> Result<&Weight> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::model(format!("checkpoint has no tensor '{name}'")))
    }

    /// A tensor as dense f32 of the expected shape.
    fn dense(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let tensor = match self.get(name)? {
            Weight::Dense(t) => t.clone(),
            Weight::Quantized(q) => q.dequantize(&q.device())?,
        };
        if tensor.dims() != shape {
            return Err(Error::model(format!(
                "tensor '{name}' has shape {:?}, expected {shape:?}",
                tensor.dims()
            )));
        }
        Ok(tensor)
    }

    fn matrix(&self, name: &str, shape: &[usize], precision: Precision) -> Result<QMatMul> {
        match (self.get(name)?, precision) {
            (Weight::Quantized(q), Precision::Quantized) => {
                if q.shape().dims() != shape {
                    return Err(Error::model(format!(
                        "tensor '{name}' has an unexpected shape"
                    )));
                }
                Ok(QMatMul::from_arc(q.clone())?)
            }
            _ => Ok(QMatMul::Tensor(self.dense(name, shape)?)),
        }
    }

    fn linear(
        &self,
        prefix: &str,
        out_dim: usize,
        in_dim: usize,
        precision: Precision,
    ) -> Result<Linear> {
        Ok(Linear {
            weight: self.matrix(&format!("{prefix}.weight"), &[out_dim, in_dim], precision)?,
            bias: self.dense(&format!("{prefix}.bias"), &[out_dim])?,
        })
    }

    fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.dense(&format!("{prefix}.weight"), &[dim])?,
            bias: self.dense(&format!("{prefix}.bias"), &[dim])?,
            eps: eps as f32,
        })
    }
}

/// `y = x W^T + b` over the last dimension, dense or 4-bit.
#[derive(Debug)]
struct Linear {
    weight: QMatMul,
    bias: Tensor,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Flatten to 2-D so the product is one large matrix multiplication, not a batched one.
        let (b, l, d) = x.dims3()?;
        let y = self.weight.forward(&x.reshape((b * l, d))?)?;
        let y = y.broadcast_add(&self.bias)?;
        Ok(y.reshape((b, l, ()))?)
    }
}

#[derive(Debug)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(
            x,
            &self.weight,
            &self.bias,
            self.eps,
        )?)
    }
}

#[derive(Debug)]
struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded encoder.
#[derive(Debug)]
pub struct BertModel {
    config: BertConfig,
    word_embeddings: QMatMul,
    position_embeddings: Tensor,
    token_type_embedding: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    device: Device,
}

impl BertModel {
    pub fn load(
        weights: &Weights,
        config: &BertConfig,
        precision: Precision,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        let h = config.hidden_size;
        let ff = config.intermediate_size;
        let eps = config.layer_norm_eps;
        let word_embeddings = match weights.get("embeddings.word_embeddings.weight")? {
            Weight::Quantized(q) => QMatMul::QTensor(q.clone()),
            Weight::Dense(_) => QMatMul::Tensor(
                weights.dense("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            ),
        };
        let position_embeddings = weights.dense(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        // Every input is a single segment, so only the first token-type row is ever added.
        let token_type_embedding = weights
            .dense(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )?
            .get(0)?;
        let embedding_norm = weights.layer_norm("embeddings.LayerNorm", h, eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: weights.linear(&format!("{p}.attention.self.query"), h, h, precision)?,
                    key: weights.linear(&format!("{p}.attention.self.key"), h, h, precision)?,
                    value: weights.linear(&format!("{p}.attention.self.value"), h, h, precision)?,
                    attention_out: weights.linear(
                        &format!("{p}.attention.output.dense"),
                        h,
                        h,
                        precision,
                    )?,
                    attention_norm: weights.layer_norm(
                        &format!("{p}.attention.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                    intermediate: weights.linear(
                        &format!("{p}.intermediate.dense"),
                        ff,
                        h,
                        precision,
                    )?,
                    output: weights.linear(&format!("{p}.output.dense"), h, ff, precision)?,
                    output_norm: weights.layer_norm(&format!("{p}.output.LayerNorm"), h, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BertModel {
            config: config.clone(),
            word_embeddings,
            position_embeddings,
            token_type_embedding,
            embedding_norm,
            layers,
            device: device.clone(),
        })
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Hidden states `[batch, len, hidden]` for token ids `[batch, len]` (u32) and a mask `[batch, len]` (f32,
    /// 1 for real tokens, 0 for padding). Padding never influences real tokens: it is masked out of attention.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        if len > self.config.max_tokens() {
            return Err(Error::model(format!(
                "input of {len} tokens exceeds the model's {} positions",
                self.config.max_tokens()
            )));
        }
        let positions = self
            .position_embeddings
            .narrow(0, self.config.position_offset, len)?;
        let x = self
            .word_embeddings
            .embedding(ids)?
            .broadcast_add(&positions)?
            .broadcast_add(&self.token_type_embedding)?;
        let mut x = self.embedding_norm.forward(&x)?;

        // Additive attention bias: 0 for real keys, a large negative number for padding keys.
        let bias = ((mask.ones_like()? - mask)? * -1e9f64)?.reshape((batch, 1, 1, len))?;
        let heads = self.config.num_attention_heads;
        let head_dim = self.config.hidden_size / heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((batch, len, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        for layer in &self.layers {
            let q = split((layer.query.forward(&x)? * scale)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let scores = q.matmul(&k.t()?)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((
                batch,
                len,
                self.config.hidden_size,
            ))?;
            let attended = layer.attention_out.forward(&context)?;
            x = layer.attention_norm.forward(&(attended + &x)?)?;
            let inner = layer.intermediate.forward(&x)?.gelu_erf()?;
            let out = layer.output.forward(&inner)?;
            x = layer.output_norm.forward(&(out + &x)?)?;
        }
        Ok(x)
    }
}

/// Mean of the hidden states over real tokens only, then L2-normalised: `[batch, hidden]`.
pub fn mean_pool_normalized(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask3 = mask.unsqueeze(D::Minus1)?;
    let summed = hidden.broadcast_mul(&mask3)?.sum(1)?;
    let counts = mask.sum_keepdim(1)?.clamp(1.0, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    Ok(mean.broadcast_div(&norm)?)
}
