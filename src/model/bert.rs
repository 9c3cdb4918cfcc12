//! The BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa, multilingual-e5): `load(weights, config)` and
//! `forward(ids, mask)`.
//!
//! Weights come either dense (safetensors, or dequantized) or as GGML Q4_0 blocks; `Precision` decides how the
//! dense layers multiply: in f32 (4-bit matrices expanded once at load), as stored through `QMatMul`, or as
//! 8-bit codes on integer instructions (`int8`). The word-embedding table
//! always stays in its stored form: a lookup dequantizes only the rows it reads, which gives the same values as
//! a dense table at a seventh of the memory. This file knows nothing of tokenizers or pooling.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};

use super::int8::Int8Matrix;
use super::kernels::{AddNorm, AddNormParams, Attention, AttentionParams, BiasGelu};
use rayon::prelude::*;
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
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
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

/// How the encoder's dense matrices are multiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Expand 4-bit matrices to f32 once at load; every product in f32.
    #[default]
    F32,
    /// Keep 4-bit matrices as they are stored and multiply through `QMatMul`.
    Quantized,
    /// Weights as per-row i8 codes, activations quantized to u8 per row on the fly, integer products
    /// (`int8::Int8Matrix`; fast where the CPU has AMX or AVX-512 VNNI).
    Int8,
}

impl Precision {
    /// The name used on the command line, in pipeline files and in output metadata.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Quantized => "q4",
            Precision::Int8 => "int8",
        }
    }

    /// What cache file names carry so that vectors of one precision never stand in for another's (they differ
    /// slightly): nothing for f32, whose files keep the names they always had; `-q4`; and for int8, whose
    /// quantisation is touchpoint's own code rather than the model file's, the scheme's version too
    /// (`-int8` for the first, `-int8s2` after a change), so that a changed scheme never reads old vectors.
    pub fn cache_suffix(self) -> String {
        match self {
            Precision::F32 => String::new(),
            Precision::Int8 if super::int8::SCHEME > 1 => {
                format!("-{}s{}", self.name(), super::int8::SCHEME)
            }
            other => format!("-{}", other.name()),
        }
    }

    /// Reads a name as `name` writes it.
    pub fn parse(name: &str) -> Option<Precision> {
        [Precision::F32, Precision::Quantized, Precision::Int8]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// One dense matrix of a layer, multiplied the way the model's `Precision` says.
#[derive(Debug)]
enum Matrix {
    Candle(QMatMul),
    Int8(Int8Matrix),
}

impl Matrix {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Matrix::Candle(m) => Ok(m.forward(x)?),
            Matrix::Int8(m) => m.forward(x),
        }
    }
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

    /// Lays `tensors` (dense, Hugging Face names) over the checkpoint's own: how a fine-tuned encoder, stored as
    /// the tensors that training changed, is put back together with the base model it was tuned from.
    pub fn overlay(&mut self, tensors: HashMap<String, Tensor>) -> Result<()> {
        for (name, tensor) in tensors {
            let shape = match self.get(&name)? {
                Weight::Dense(t) => t.dims().to_vec(),
                Weight::Quantized(q) => q.shape().dims().to_vec(),
            };
            if tensor.dims() != shape.as_slice() {
                return Err(Error::model(format!(
                    "tuned tensor '{name}' has shape {:?}, the base model's has {shape:?}",
                    tensor.dims()
                )));
            }
            self.tensors.insert(name, Weight::Dense(tensor));
        }
        Ok(())
    }

    /// A tensor as dense f32 of the expected shape.
    pub(crate) fn dense(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
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

    fn matrix(&self, name: &str, shape: &[usize], precision: Precision) -> Result<Matrix> {
        match (self.get(name)?, precision) {
            (Weight::Quantized(q), Precision::Quantized) => {
                if q.shape().dims() != shape {
                    return Err(Error::model(format!(
                        "tensor '{name}' has an unexpected shape"
                    )));
                }
                Ok(Matrix::Candle(QMatMul::from_arc(q.clone())?))
            }
            (_, Precision::Int8) => Ok(Matrix::Int8(Int8Matrix::quantize(
                &self.dense(name, shape)?,
            )?)),
            _ => Ok(Matrix::Candle(QMatMul::Tensor(self.dense(name, shape)?))),
        }
    }

    /// The query, key and value projections as one `[3 * hidden, hidden]` matrix, so that a single product
    /// computes all three. 4-bit blocks are joined without loss: each row's blocks are independent, and
    /// re-quantizing dequantized Q4_0 values gives back the same scales and codes.
    fn fused_qkv(&self, prefix: &str, hidden: usize, precision: Precision) -> Result<Matrix> {
        let names = ["query", "key", "value"].map(|n| format!("{prefix}.{n}.weight"));
        let quantized = names
            .iter()
            .map(|n| match self.get(n) {
                Ok(Weight::Quantized(q)) if precision == Precision::Quantized => {
                    Ok(Some(q.dtype()))
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            })
            .collect::<Result<Vec<_>>>()?;
        let parts = names
            .iter()
            .map(|n| self.dense(n, &[hidden, hidden]))
            .collect::<Result<Vec<_>>>()?;
        let joined = Tensor::cat(&parts, 0)?;
        match quantized.as_slice() {
            _ if precision == Precision::Int8 => Ok(Matrix::Int8(Int8Matrix::quantize(&joined)?)),
            [Some(a), Some(b), Some(c)] if a == b && b == c => Ok(Matrix::Candle(
                QMatMul::from_arc(Arc::new(QTensor::quantize(&joined, *a)?))?,
            )),
            _ => Ok(Matrix::Candle(QMatMul::Tensor(joined))),
        }
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        Ok(self.dense(name, &[len])?.to_vec1::<f32>()?)
    }

    fn norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<Norm> {
        Ok(Norm {
            weight: self.vector(&format!("{prefix}.weight"), dim)?,
            shift: self.vector(&format!("{prefix}.bias"), dim)?,
            eps: eps as f32,
        })
    }
}

/// Layer-norm parameters, applied by the fused `add_norm` kernel together with the preceding bias and residual.
#[derive(Debug)]
struct Norm {
    weight: Vec<f32>,
    shift: Vec<f32>,
    eps: f32,
}

impl Norm {
    /// `layer_norm(x + bias + residual)`.
    fn add_norm(&self, x: &Tensor, bias: &[f32], residual: &Tensor) -> Result<Tensor> {
        let op = AddNorm(AddNormParams {
            bias,
            weight: &self.weight,
            shift: &self.shift,
            eps: self.eps,
        });
        Ok(x.contiguous()?
            .apply_op2_no_bwd(&residual.contiguous()?, &op)?)
    }
}

/// One transformer layer. Matrices multiply without their bias; each bias is added by the kernel that follows.
#[derive(Debug)]
struct Layer {
    /// Query, key and value projections side by side.
    qkv: Matrix,
    query_bias: Vec<f32>,
    value_bias: Vec<f32>,
    attention_out: Matrix,
    attention_out_bias: Vec<f32>,
    attention_norm: Norm,
    intermediate: Matrix,
    intermediate_bias: Vec<f32>,
    output: Matrix,
    output_bias: Vec<f32>,
    output_norm: Norm,
}

/// A loaded encoder.
#[derive(Debug)]
pub struct BertModel {
    config: BertConfig,
    word_embeddings: QMatMul,
    position_embeddings: Tensor,
    token_type_embedding: Tensor,
    embedding_norm: candle_nn::LayerNorm,
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
        let embedding_norm = candle_nn::LayerNorm::new(
            weights.dense("embeddings.LayerNorm.weight", &[h])?,
            weights.dense("embeddings.LayerNorm.bias", &[h])?,
            eps,
        );
        // Layers are expanded (and for int8 quantized) side by side.
        let layers = (0..config.num_hidden_layers)
            .into_par_iter()
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    qkv: weights.fused_qkv(&format!("{p}.attention.self"), h, precision)?,
                    query_bias: weights.vector(&format!("{p}.attention.self.query.bias"), h)?,
                    value_bias: weights.vector(&format!("{p}.attention.self.value.bias"), h)?,
                    attention_out: weights.matrix(
                        &format!("{p}.attention.output.dense.weight"),
                        &[h, h],
                        precision,
                    )?,
                    attention_out_bias: weights
                        .vector(&format!("{p}.attention.output.dense.bias"), h)?,
                    attention_norm: weights.norm(
                        &format!("{p}.attention.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                    intermediate: weights.matrix(
                        &format!("{p}.intermediate.dense.weight"),
                        &[ff, h],
                        precision,
                    )?,
                    intermediate_bias: weights
                        .vector(&format!("{p}.intermediate.dense.bias"), ff)?,
                    output: weights.matrix(
                        &format!("{p}.output.dense.weight"),
                        &[h, ff],
                        precision,
                    )?,
                    output_bias: weights.vector(&format!("{p}.output.dense.bias"), h)?,
                    output_norm: weights.norm(&format!("{p}.output.LayerNorm"), h, eps)?,
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
    /// 1 for real tokens, 0 for padding; each row ones then zeros). Padding is never computed: the real tokens
    /// run through `forward_packed` and padding positions come back as zeros.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let ids = ids.to_vec2::<u32>()?;
        let mask = mask.to_vec2::<f32>()?;
        let mut flat = Vec::with_capacity(batch * len);
        let mut lengths = Vec::with_capacity(batch);
        for (row, row_mask) in ids.iter().zip(&mask) {
            let real = row_mask.iter().take_while(|&&m| m != 0.0).count();
            if row_mask[real..].iter().any(|&m| m != 0.0) {
                return Err(Error::model(
                    "attention mask must be ones followed by zeros (right padding)",
                ));
            }
            flat.extend_from_slice(&row[..real]);
            lengths.push(real);
        }
        let hidden = self.forward_packed(&flat, &lengths)?.to_vec2::<f32>()?;
        let dim = self.config.hidden_size;
        let mut padded = vec![0f32; batch * len * dim];
        let mut rows = hidden.into_iter();
        for (b, &real) in lengths.iter().enumerate() {
            for (i, row) in rows.by_ref().take(real).enumerate() {
                padded[(b * len + i) * dim..][..dim].copy_from_slice(&row);
            }
        }
        Ok(Tensor::from_vec(padded, (batch, len, dim), &self.device)?)
    }

    /// Hidden states `[tokens, hidden]` of several texts packed one after the other: `ids` holds the tokens of
    /// every text in turn and `lengths` their counts. Each text attends only to its own tokens, so no padding
    /// is needed and none is computed.
    pub fn forward_packed(&self, ids: &[u32], lengths: &[usize]) -> Result<Tensor> {
        self.forward_packed_through(ids, lengths, self.layers.len())
    }

    /// As `forward_packed`, but stops after the first `layers` transformer layers (0: the embedding block only).
    /// Fine-tuning runs the frozen bottom of the network through here once and trains the layers above.
    pub fn forward_packed_through(
        &self,
        ids: &[u32],
        lengths: &[usize],
        layers: usize,
    ) -> Result<Tensor> {
        let mut states = self.forward_packed_layers(ids, lengths, &[layers])?;
        Ok(states.remove(0))
    }

    /// As `forward_packed`, but returns the hidden states after each of `keep` layers (ascending; 0: the
    /// embedding block), from one pass that stops at the last of them.
    pub fn forward_packed_layers(
        &self,
        ids: &[u32],
        lengths: &[usize],
        keep: &[usize],
    ) -> Result<Vec<Tensor>> {
        if keep.windows(2).any(|w| w[0] >= w[1])
            || keep.last().is_some_and(|&l| l > self.layers.len())
        {
            return Err(Error::model(format!(
                "layers {keep:?} are not ascending within the model's {}",
                self.layers.len()
            )));
        }
        let tokens: usize = lengths.iter().sum();
        let dim = self.config.hidden_size;
        if tokens != ids.len() {
            return Err(Error::model(format!(
                "{} token ids for texts of {tokens} tokens in all",
                ids.len()
            )));
        }
        if let Some(&len) = lengths.iter().find(|&&l| l > self.config.max_tokens()) {
            return Err(Error::model(format!(
                "input of {len} tokens exceeds the model's {} positions",
                self.config.max_tokens()
            )));
        }
        if tokens == 0 {
            let empty = Tensor::zeros((0, dim), DType::F32, &self.device)?;
            return Ok(vec![empty; keep.len()]);
        }
        let offset = self.config.position_offset;
        let positions: Vec<u32> = lengths
            .iter()
            .flat_map(|&len| (offset..offset + len).map(|p| p as u32))
            .collect();
        let positions = Tensor::from_vec(positions, tokens, &self.device)?;
        let ids = Tensor::from_vec(ids.to_vec(), tokens, &self.device)?;
        let x = self
            .word_embeddings
            .embedding(&ids)?
            .add(&self.position_embeddings.index_select(&positions, 0)?)?
            .broadcast_add(&self.token_type_embedding)?;
        let mut x = self.embedding_norm.forward(&x)?;

        let heads = self.config.num_attention_heads;
        let mut kept = Vec::with_capacity(keep.len());
        if keep.first() == Some(&0) {
            kept.push(x.clone());
        }
        let last = keep.last().copied().unwrap_or(0);
        for (number, layer) in (1..).zip(self.layers.iter().take(last)) {
            let qkv = layer.qkv.forward(&x)?;
            let context = qkv.apply_op1_no_bwd(&Attention {
                lengths,
                params: AttentionParams {
                    heads,
                    head_dim: dim / heads,
                    query_bias: &layer.query_bias,
                    value_bias: &layer.value_bias,
                },
            })?;
            let attended = layer.attention_out.forward(&context)?;
            x = layer
                .attention_norm
                .add_norm(&attended, &layer.attention_out_bias, &x)?;
            let inner = layer
                .intermediate
                .forward(&x)?
                .contiguous()?
                .apply_op1_no_bwd(&BiasGelu(&layer.intermediate_bias))?;
            let out = layer.output.forward(&inner)?;
            x = layer.output_norm.add_norm(&out, &layer.output_bias, &x)?;
            if keep.contains(&number) {
                kept.push(x.clone());
            }
        }
        Ok(kept)
    }
}

/// Mean of packed hidden states `[tokens, hidden]` over each text's rows (`lengths`, as in `forward_packed`),
/// L2-normalised: `[texts * hidden]`, row-major. A text of no tokens gets a zero vector.
pub fn mean_pool_packed(hidden: &Tensor, lengths: &[usize]) -> Result<Vec<f32>> {
    let (tokens, dim) = hidden.dims2()?;
    if tokens != lengths.iter().sum::<usize>() {
        return Err(Error::model(
            "pooling: lengths do not match the hidden states",
        ));
    }
    let values = hidden.flatten_all()?.to_vec1::<f32>()?;
    let mut out = vec![0f32; lengths.len() * dim];
    let mut start = 0;
    for (pooled, &len) in out.chunks_exact_mut(dim).zip(lengths) {
        for row in values[start * dim..(start + len) * dim].chunks_exact(dim) {
            for (p, &v) in pooled.iter_mut().zip(row) {
                *p += v;
            }
        }
        start += len;
        // The mean's scale cancels in the normalisation, so only the sum's norm matters.
        l2_normalise(pooled);
    }
    Ok(out)
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub fn l2_normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    vector.iter_mut().for_each(|v| *v /= norm);
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
