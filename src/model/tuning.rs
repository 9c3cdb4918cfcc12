//! The encoder's top layers as trainable variables: the differentiable half of fine-tuning.
//!
//! Contract: `TunableLayers::new(weights, config, first)` copies transformer layers `first..` of a checkpoint into
//! f32 `Var`s. `forward` takes the hidden states that the frozen bottom of the same model produced for a batch of
//! texts (`Encoder::forward_packed_through(.., first)`, one `[len, hidden]` tensor per text), runs the tunable
//! layers over them as one right-padded batch, with the arithmetic of `BertModel` (a test checks that both
//! agree), built from candle operations that have gradients, and returns the L2-normalised mean of each text's
//! final states: the sentence embedding the rest of touchpoint uses. `tensors` gives the current weights under
//! their Hugging Face names; written to a file, they are the overlay that `ModelLocation::with_tuned` lays over
//! the base model, so the tuned encoder then runs on the fast inference path.
//!
//! Why only the top layers can be chosen: the bottom runs once per text instead of once per epoch, and the
//! frozen word embeddings and lower layers keep the model's alignment across languages, which a head trained on
//! one language needs to serve the others.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};

use super::bert::{BertConfig, Weights};
use crate::error::{Error, Result};

/// One transformer layer's parameters, with query, key and value side by side as in `BertModel`.
struct TunableLayer {
    qkv_weight: Var,
    qkv_bias: Var,
    attention_out_weight: Var,
    attention_out_bias: Var,
    attention_norm: (Var, Var),
    intermediate_weight: Var,
    intermediate_bias: Var,
    output_weight: Var,
    output_bias: Var,
    output_norm: (Var, Var),
}

/// Layers `first..` of an encoder, trainable.
pub struct TunableLayers {
    first: usize,
    layers: Vec<TunableLayer>,
    heads: usize,
    hidden: usize,
    eps: f64,
    device: Device,
}

impl TunableLayers {
    /// Copies layers `first..config.num_hidden_layers` of `weights` (4-bit blocks expanded to f32).
    pub fn new(weights: &Weights, config: &BertConfig, first: usize) -> Result<TunableLayers> {
        config.validate()?;
        if first >= config.num_hidden_layers {
            return Err(Error::Usage(format!(
                "the model has {} layers: cannot tune from layer {first}",
                config.num_hidden_layers
            )));
        }
        let h = config.hidden_size;
        let ff = config.intermediate_size;
        let var = |name: &str, shape: &[usize]| -> Result<Var> {
            Ok(Var::from_tensor(&weights.dense(name, shape)?.copy()?)?)
        };
        let layers = (first..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                let qkv = ["query", "key", "value"];
                let qkv_weight = qkv
                    .iter()
                    .map(|n| weights.dense(&format!("{p}.attention.self.{n}.weight"), &[h, h]))
                    .collect::<Result<Vec<_>>>()?;
                let qkv_bias = qkv
                    .iter()
                    .map(|n| weights.dense(&format!("{p}.attention.self.{n}.bias"), &[h]))
                    .collect::<Result<Vec<_>>>()?;
                let norm = |name: &str| -> Result<(Var, Var)> {
                    Ok((
                        var(&format!("{p}.{name}.weight"), &[h])?,
                        var(&format!("{p}.{name}.bias"), &[h])?,
                    ))
                };
                Ok(TunableLayer {
                    qkv_weight: Var::from_tensor(&Tensor::cat(&qkv_weight, 0)?)?,
                    qkv_bias: Var::from_tensor(&Tensor::cat(&qkv_bias, 0)?)?,
                    attention_out_weight: var(
                        &format!("{p}.attention.output.dense.weight"),
                        &[h, h],
                    )?,
                    attention_out_bias: var(&format!("{p}.attention.output.dense.bias"), &[h])?,
                    attention_norm: norm("attention.output.LayerNorm")?,
                    intermediate_weight: var(&format!("{p}.intermediate.dense.weight"), &[ff, h])?,
                    intermediate_bias: var(&format!("{p}.intermediate.dense.bias"), &[ff])?,
                    output_weight: var(&format!("{p}.output.dense.weight"), &[h, ff])?,
                    output_bias: var(&format!("{p}.output.dense.bias"), &[h])?,
                    output_norm: norm("output.LayerNorm")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TunableLayers {
            first,
            layers,
            heads: config.num_attention_heads,
            hidden: h,
            eps: config.layer_norm_eps,
            device: Device::Cpu,
        })
    }

    /// The first tunable layer; the frozen bottom is the embedding block and layers `0..first`.
    pub fn first(&self) -> usize {
        self.first
    }

    /// Every trainable variable, for the optimiser.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| {
                [
                    &l.qkv_weight,
                    &l.qkv_bias,
                    &l.attention_out_weight,
                    &l.attention_out_bias,
                    &l.attention_norm.0,
                    &l.attention_norm.1,
                    &l.intermediate_weight,
                    &l.intermediate_bias,
                    &l.output_weight,
                    &l.output_bias,
                    &l.output_norm.0,
                    &l.output_norm.1,
                ]
            })
            .cloned()
            .collect()
    }

    /// Sentence embeddings `[texts, hidden]` (mean over each text's tokens, L2-normalised) of texts whose frozen
    /// bottom states are `bottom` (one `[len, hidden]` tensor per text, len >= 1).
    pub fn forward(&self, bottom: &[Tensor]) -> Result<Tensor> {
        let lengths: Vec<usize> = bottom
            .iter()
            .map(|t| t.dim(0))
            .collect::<candle_core::Result<_>>()?;
        let longest = lengths.iter().copied().max().unwrap_or(0);
        if longest == 0 || lengths.contains(&0) {
            return Err(Error::model("fine-tuning batch with an empty text"));
        }
        let h = self.hidden;
        let padded = bottom
            .iter()
            .zip(&lengths)
            .map(|(states, &len)| {
                if len == longest {
                    Ok(states.clone())
                } else {
                    Ok(Tensor::cat(
                        &[
                            states,
                            &Tensor::zeros((longest - len, h), DType::F32, &self.device)?,
                        ],
                        0,
                    )?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut x = Tensor::stack(&padded, 0)?;
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&len| (0..longest).map(move |i| if i < len { 1.0 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (lengths.len(), longest), &self.device)?;
        // Padding keys get a large negative score so that softmax gives them no weight.
        let key_bias = ((&mask - 1.0)? * 1e9)?.reshape((lengths.len(), 1, 1, longest))?;
        for layer in &self.layers {
            x = self.layer_forward(layer, &x, &key_bias)?;
        }
        let summed = x.broadcast_mul(&mask.unsqueeze(D::Minus1)?)?.sum(1)?;
        let norm = summed
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        Ok(summed.broadcast_div(&norm)?)
    }

    fn layer_forward(&self, layer: &TunableLayer, x: &Tensor, key_bias: &Tensor) -> Result<Tensor> {
        let (b, l, h) = x.dims3()?;
        let (heads, d) = (self.heads, h / self.heads);
        let flat = x.reshape((b * l, h))?;
        let qkv =
            linear(&flat, &layer.qkv_weight, &layer.qkv_bias)?.reshape((b, l, 3, heads, d))?;
        let part = |i: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(2, i, 1)?
                .squeeze(2)?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (d as f64).sqrt()))?
            .broadcast_add(key_bias)?;
        let probabilities = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let context = probabilities
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * l, h))?;
        let attended = linear(
            &context,
            &layer.attention_out_weight,
            &layer.attention_out_bias,
        )?;
        let x1 = layer_norm(&(attended + &flat)?, &layer.attention_norm, self.eps)?;
        let inner =
            linear(&x1, &layer.intermediate_weight, &layer.intermediate_bias)?.gelu_erf()?;
        let out = linear(&inner, &layer.output_weight, &layer.output_bias)?;
        let x2 = layer_norm(&(out + &x1)?, &layer.output_norm, self.eps)?;
        Ok(x2.reshape((b, l, h))?)
    }

    /// The current weights under their Hugging Face names (query, key and value apart again).
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>> {
        let h = self.hidden;
        let mut out = HashMap::new();
        for (offset, layer) in self.layers.iter().enumerate() {
            let p = format!("encoder.layer.{}", self.first + offset);
            for (i, n) in ["query", "key", "value"].iter().enumerate() {
                out.insert(
                    format!("{p}.attention.self.{n}.weight"),
                    layer.qkv_weight.as_tensor().narrow(0, i * h, h)?.copy()?,
                );
                out.insert(
                    format!("{p}.attention.self.{n}.bias"),
                    layer.qkv_bias.as_tensor().narrow(0, i * h, h)?.copy()?,
                );
            }
            let mut put = |name: &str, var: &Var| -> Result<()> {
                out.insert(format!("{p}.{name}"), var.as_tensor().copy()?);
                Ok(())
            };
            put("attention.output.dense.weight", &layer.attention_out_weight)?;
            put("attention.output.dense.bias", &layer.attention_out_bias)?;
            put("attention.output.LayerNorm.weight", &layer.attention_norm.0)?;
            put("attention.output.LayerNorm.bias", &layer.attention_norm.1)?;
            put("intermediate.dense.weight", &layer.intermediate_weight)?;
            put("intermediate.dense.bias", &layer.intermediate_bias)?;
            put("output.dense.weight", &layer.output_weight)?;
            put("output.dense.bias", &layer.output_bias)?;
            put("output.LayerNorm.weight", &layer.output_norm.0)?;
            put("output.LayerNorm.bias", &layer.output_norm.1)?;
        }
        Ok(out)
    }

    /// A copy of every variable's value, to return to with `restore` (keeping the best epoch).
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        Ok(self
            .vars()
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?)
    }

    pub fn restore(&self, snapshot: &[Tensor]) -> Result<()> {
        for (var, value) in self.vars().iter().zip(snapshot) {
            var.set(value)?;
        }
        Ok(())
    }
}

/// `x W^T + b` for `x` `[rows, in]` and `W` `[out, in]`.
fn linear(x: &Tensor, weight: &Var, bias: &Var) -> Result<Tensor> {
    Ok(x.matmul(&weight.as_tensor().t()?)?
        .broadcast_add(bias.as_tensor())?)
}

/// Layer normalisation over the last dimension from differentiable operations (candle's fused kernel has no
/// gradient).
fn layer_norm(x: &Tensor, (weight, shift): &(Var, Var), eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normalised = centred.broadcast_div(&(variance + eps)?.sqrt()?)?;
    Ok(normalised
        .broadcast_mul(weight.as_tensor())?
        .broadcast_add(shift.as_tensor())?)
}
