//! Serde types of the pipeline file, loading and validation. (Contract; implementation pending.)

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Result;

/// The five lifecycle phases of the Life Cycle Model, in order. A pipeline's `[[phases]]` must define exactly these ids.
pub const LIFECYCLE_PHASES: [&str; 5] = [
    "not_yet_customer",
    "becoming_customer",
    "being_customer",
    "staying_customer",
    "leaving",
];

/// Text per language code (`nl`, `en`, `de`, `fr`, ...).
pub type Localized = BTreeMap<String, String>;

/// One problem in a pipeline file. `line` is 1-based; 0 when the problem has no single place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub id: String,
    pub name: Localized,
}

#[derive(Debug, Clone)]
pub struct ContactReason {
    pub id: String,
    pub phase: String,
    pub name: Localized,
    pub description: Localized,
    /// Example utterances per language.
    pub examples: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ModelSection {
    /// A model name from `touchpoint models list`, a local folder, or `hf:owner/name`.
    pub encoder: String,
    pub query_prefix: String,
    pub max_tokens: usize,
}

#[derive(Debug, Clone)]
pub struct ClassifySection {
    /// Below this similarity the contact reason is `unknown`.
    pub unknown_below: f32,
    pub top_k: usize,
}

#[derive(Debug, Clone, Default)]
pub struct InputSection {
    pub max_text_bytes: Option<usize>,
    /// Canonical column name -> source column name.
    pub columns: BTreeMap<String, String>,
    /// Source channel value -> canonical channel.
    pub channels: BTreeMap<String, String>,
    /// Source direction value -> `inbound` / `outbound`.
    pub directions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    pub name: String,
    pub model: ModelSection,
    pub classify: ClassifySection,
    pub input: InputSection,
    pub phases: Vec<Phase>,
    pub contact_reasons: Vec<ContactReason>,
    /// sha256 (hex) of the file's bytes.
    pub hash: String,
}

impl Pipeline {
    /// Reads and validates a pipeline file; every problem found is reported at once, with its line.
    pub fn load(path: &Path) -> Result<Pipeline> {
        let _ = path;
        unimplemented!("pipeline loading")
    }
}
