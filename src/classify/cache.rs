//! An on-disk cache of text embeddings, so that re-training and re-evaluating on the same texts does not
//! run the encoder again.
//!
//! Contract: `embed_cached` returns exactly what `Encoder::embed` would for the texts (same vectors, input
//! order), except that `n_tokens` and `n_chunks` are 0 for rows served from the cache; with `layers` it returns
//! what `Encoder::embed_features` would. One file per model, precision and layer set
//! (`embeddings-<model sha256 prefix>[-int8|-q4][-L<layers>].tpemb` in the cache folder) holds
//! fixed-size records of `sha256(max_tokens, prefix, text)` and the vector, so a different prefix or window
//! never hits another's entries. New rows are appended in one write; a torn or foreign file is ignored (the
//! texts are embedded again), and a cache that cannot be written only costs time. Nothing here is needed for
//! correctness.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{IoContext, Result};
use crate::model::{Embeddings, Encoder};

/// Version 2: long texts are read whole in windows (version 1 cut them at the window).
const MAGIC: &[u8; 8] = b"TPEMB002";
const KEY_BYTES: usize = 32;
/// Texts embedded (and appended to the cache) at a time.
const CHUNK: usize = 1000;

/// Embeds `texts` with `prefix` at `layers` (as a head names them: empty for the sentence embedding), reading
/// and extending the cache in `cache_dir` when given.
pub fn embed_cached(
    encoder: &Encoder,
    texts: &[&str],
    prefix: &str,
    token_budget: usize,
    layers: &[usize],
    cache_dir: Option<&Path>,
) -> Result<Embeddings> {
    let layers = encoder.feature_layers(layers);
    let Some(dir) = cache_dir else {
        return encoder.embed_features(texts, prefix, token_budget, &layers);
    };
    let dim = encoder.dim() * layers.len();
    let sha = &encoder.location().sha256;
    // The sentence embedding keeps the file name it always had, so existing caches stay valid.
    let layer_suffix = if layers == [encoder.final_layer()] {
        String::new()
    } else {
        let names: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
        format!("-L{}", names.join("."))
    };
    let path = dir.join(format!(
        "embeddings-{}{}{layer_suffix}.tpemb",
        &sha[..sha.len().min(16)],
        encoder.precision().cache_suffix()
    ));
    let keys: Vec<[u8; KEY_BYTES]> = texts
        .iter()
        .map(|t| key(encoder.max_tokens(), prefix, t))
        .collect();
    let cached = read(&path, dim);
    let missing: Vec<usize> = (0..texts.len())
        .filter(|&i| !cached.contains_key(&keys[i]))
        .collect();
    log::info!(
        "{} of {} texts embedded before (cache {})",
        texts.len() - missing.len(),
        texts.len(),
        path.display()
    );
    let fresh = if missing.is_empty() {
        Embeddings {
            dim,
            ..Default::default()
        }
    } else {
        // In chunks, so that progress shows and an interrupted run keeps what it embedded.
        let mut fresh = Embeddings {
            dim,
            ..Default::default()
        };
        for (chunk_index, chunk) in missing.chunks(CHUNK).enumerate() {
            let chunk_texts: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let part = encoder.embed_features(&chunk_texts, prefix, token_budget, &layers)?;
            if let Err(e) = append(&path, dim, chunk.iter().map(|&i| &keys[i]), &part) {
                log::warn!("could not extend the embedding cache: {e}");
            }
            fresh.vectors.extend_from_slice(&part.vectors);
            fresh.n_tokens.extend_from_slice(&part.n_tokens);
            fresh.n_chunks.extend_from_slice(&part.n_chunks);
            log::info!(
                "embedded {} of {} texts",
                (chunk_index * CHUNK + chunk.len()),
                missing.len()
            );
        }
        fresh
    };
    let mut out = Embeddings {
        dim,
        vectors: vec![0.0; texts.len() * dim],
        n_tokens: vec![0; texts.len()],
        n_chunks: vec![0; texts.len()],
    };
    let mut fresh_row: HashMap<usize, usize> = HashMap::with_capacity(missing.len());
    for (j, &i) in missing.iter().enumerate() {
        fresh_row.insert(i, j);
    }
    for (i, key) in keys.iter().enumerate() {
        let vector = match fresh_row.get(&i) {
            Some(&j) => {
                out.n_tokens[i] = fresh.n_tokens[j];
                out.n_chunks[i] = fresh.n_chunks[j];
                fresh.row(j)
            }
            None => match cached.get(key) {
                Some(v) => v.as_slice(),
                None => continue,
            },
        };
        out.vectors[i * dim..(i + 1) * dim].copy_from_slice(vector);
    }
    Ok(out)
}

fn key(max_tokens: usize, prefix: &str, text: &str) -> [u8; KEY_BYTES] {
    let mut hasher = Sha256::new();
    hasher.update((max_tokens as u64).to_le_bytes());
    hasher.update((prefix.len() as u64).to_le_bytes());
    hasher.update(prefix.as_bytes());
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

fn header(dim: usize) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&(dim as u32).to_le_bytes());
    header
}

/// Every complete record of the file; an unreadable or foreign file reads as empty.
fn read(path: &Path, dim: usize) -> HashMap<[u8; KEY_BYTES], Vec<f32>> {
    let mut out = HashMap::new();
    let Ok(bytes) = fs::read(path) else {
        return out;
    };
    let Some(body) = bytes.strip_prefix(header(dim).as_slice()) else {
        return out;
    };
    // A record cut short by a crash mid-append is left out by `chunks_exact`.
    for record in body.chunks_exact(KEY_BYTES + dim * 4) {
        let (key, vector) = record.split_at(KEY_BYTES);
        let mut k = [0u8; KEY_BYTES];
        k.copy_from_slice(key);
        let vector = vector
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert(k, vector);
    }
    out
}

fn append<'a>(
    path: &Path,
    dim: usize,
    keys: impl Iterator<Item = &'a [u8; KEY_BYTES]>,
    embeddings: &Embeddings,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).at(dir)?;
    }
    let expected = header(dim);
    let fresh_file = match fs::read(path) {
        Ok(bytes) if bytes.starts_with(&expected) => {
            // Drop a torn tail so that new records stay aligned.
            let record = KEY_BYTES + dim * 4;
            let body = bytes.len() - expected.len();
            if !body.is_multiple_of(record) {
                let keep = expected.len() + body / record * record;
                let file = OpenOptions::new().write(true).open(path).at(path)?;
                file.set_len(keep as u64).at(path)?;
            }
            false
        }
        _ => true,
    };
    let mut bytes = Vec::new();
    if fresh_file {
        bytes.extend_from_slice(&expected);
    }
    for (row, key) in keys.enumerate() {
        bytes.extend_from_slice(key);
        for v in embeddings.row(row) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(!fresh_file)
        .write(true)
        .truncate(fresh_file)
        .open(path)
        .at(path)?;
    file.write_all(&bytes).at(path)
}

/// The default cache folder: `<touchpoint home>/cache`.
pub fn default_dir() -> PathBuf {
    crate::model::store::home().join("cache")
}
