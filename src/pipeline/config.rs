//! The pipeline file: its types, loading and validation.
//!
//! Contract: [`Pipeline::load`] and [`Pipeline::parse`] return a `Pipeline` only when the file passes every
//! check; otherwise they return [`Error::Pipeline`] listing every problem found, each with its 1-based line.
//!
//! A file is read in three steps, each reporting all of its problems before the next one runs:
//! 1. TOML syntax: every syntax error the parser can recover from.
//! 2. Shape: each section and each `[[phases]]` / `[[contact_reasons]]` entry is deserialized on its own into
//!    a raw, file-shaped struct that rejects unknown keys, so that one bad entry does not hide the others.
//! 3. Meaning: ids, lifecycle phases, language coverage, ranges and canonical values.
//!
//! Only a file without problems is turned into the clean public types.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::error::{Error, IoContext, Result};
use crate::schema;

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

const DEFAULT_QUERY_PREFIX: &str = "query: ";
const DEFAULT_MAX_TOKENS: usize = 512;
const DEFAULT_TOP_K: usize = 3;

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
    /// Per-language overrides of `unknown_below` (ISO 639-1 code -> threshold), for languages whose texts
    /// score differently, applied by the detected language of each interaction.
    pub unknown_below_by_language: BTreeMap<String, f32>,
    pub top_k: usize,
    pub scoring: Scoring,
    /// A head folder written by `touchpoint train`, relative to the pipeline file; it decides the rows it is
    /// confident about, zero-shot the rest.
    pub head: Option<PathBuf>,
}

/// How a text's similarity to a contact reason is computed from the reason's anchors (name, description,
/// examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scoring {
    /// Similarity to the normalised mean of the reason's anchors: robust to one odd example.
    #[default]
    Centroid,
    /// Similarity to the reason's closest anchor: sharper for reasons whose examples differ a lot.
    Nearest,
}

/// Where sentiment comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentimentSource {
    /// No sentiment columns are written.
    Off,
    /// The head shipped with touchpoint (trained on MultiEmo nl+en for the default encoder).
    Builtin,
    /// A head folder written by `touchpoint train` on sentiment labels, relative to the pipeline file.
    Head(PathBuf),
    /// A Hugging Face sequence-classification model: `hf:owner/name` or a local folder.
    Classifier(String),
}

#[derive(Debug, Clone)]
pub struct SentimentSection {
    pub source: SentimentSource,
    /// Class name -> sentiment value, for models whose classes are not named as sentiments (`LABEL_0`).
    pub labels: BTreeMap<String, String>,
    /// Also score every customer turn of chats and calls (one more encoder pass per turn).
    pub turns: bool,
}

impl Default for SentimentSection {
    fn default() -> Self {
        SentimentSection {
            source: SentimentSource::Builtin,
            labels: BTreeMap::new(),
            turns: true,
        }
    }
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
    pub description: Option<String>,
    /// Languages every phase and contact reason name and description covers.
    pub languages: Vec<String>,
    pub model: ModelSection,
    pub classify: ClassifySection,
    pub sentiment: SentimentSection,
    pub input: InputSection,
    /// The five lifecycle phases, in the order of [`LIFECYCLE_PHASES`].
    pub phases: Vec<Phase>,
    /// The contact reasons, in file order.
    pub contact_reasons: Vec<ContactReason>,
    /// sha256 (hex) of the file's bytes.
    pub hash: String,
}

impl Pipeline {
    /// Reads and validates a pipeline file; every problem found is reported at once, with its line.
    pub fn load(path: &Path) -> Result<Pipeline> {
        let bytes = fs::read(path).at(path)?;
        match String::from_utf8(bytes) {
            Ok(text) => Self::parse(&text, path),
            Err(not_utf8) => {
                let bytes = not_utf8.as_bytes();
                let valid_up_to = not_utf8.utf8_error().valid_up_to();
                let line = 1 + bytes
                    .iter()
                    .take(valid_up_to)
                    .filter(|&&b| b == b'\n')
                    .count();
                Err(invalid(
                    path,
                    vec![Diagnostic {
                        line,
                        message: "the file is not valid UTF-8 text".to_string(),
                    }],
                ))
            }
        }
    }

    /// Validates pipeline text; `path` names the file in the result and in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Pipeline> {
        let mut problems = Problems::new(text);
        let (root, syntax_errors) = DeTable::parse_recoverable(text);
        for error in &syntax_errors {
            problems.toml("invalid TOML", error);
        }
        if !syntax_errors.is_empty() {
            return Err(invalid(path, problems.into_sorted()));
        }

        let raw = RawFile::read(root.into_inner(), &mut problems);
        raw.check(&mut problems);
        if !problems.is_empty() {
            return Err(invalid(path, problems.into_sorted()));
        }
        // Every required section was checked to be present, so this always gives a pipeline.
        raw.into_pipeline(path, text).ok_or_else(|| {
            let problem = Diagnostic {
                line: 0,
                message: "incomplete pipeline".to_string(),
            };
            invalid(path, vec![problem])
        })
    }

    /// The contact reason with this id.
    pub fn reason(&self, id: &str) -> Option<&ContactReason> {
        self.contact_reasons.iter().find(|reason| reason.id == id)
    }

    /// The lifecycle phase of the contact reason with this id.
    pub fn phase_of(&self, reason_id: &str) -> Option<&str> {
        self.reason(reason_id).map(|reason| reason.phase.as_str())
    }

    /// The languages every name and description covers (`pipeline.languages`).
    pub fn languages(&self) -> &[String] {
        &self.languages
    }
}

fn invalid(path: &Path, problems: Vec<Diagnostic>) -> Error {
    Error::Pipeline {
        file: path.to_path_buf(),
        problems,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The problems found so far, placed on lines of the file's text.
struct Problems {
    /// Byte offset at which each line starts.
    line_starts: Vec<usize>,
    found: Vec<Diagnostic>,
}

impl Problems {
    fn new(text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Problems {
            line_starts,
            found: Vec::new(),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        // Line starts begin with 0, so at least one start is <= any offset: lines come out 1-based.
        self.line_starts.partition_point(|&start| start <= offset)
    }

    fn at(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let line = self.line_of(span.start);
        self.on_line(line, message);
    }

    fn on_line(&mut self, line: usize, message: impl Into<String>) {
        self.found.push(Diagnostic {
            line,
            message: message.into(),
        });
    }

    fn toml(&mut self, context: &str, error: &toml::de::Error) {
        let line = error.span().map_or(0, |span| self.line_of(span.start));
        self.on_line(line, format!("{context}: {}", error.message()));
    }

    fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// By line, keeping the order of problems found on the same line.
    fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.found.sort_by_key(|problem| problem.line);
        self.found
    }
}

// ---- Step 2: the file's shape -------------------------------------------------------------------------------

/// Localized text as written, each text keeping its place for messages.
type RawLocalized = BTreeMap<String, Spanned<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [pipeline] table")]
struct RawHeader {
    name: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    languages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [model] table")]
struct RawModel {
    encoder: Spanned<String>,
    query_prefix: Option<String>,
    max_tokens: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [classify] table")]
struct RawClassify {
    unknown_below: Spanned<f64>,
    unknown_below_by_language: Option<BTreeMap<String, Spanned<f64>>>,
    top_k: Option<Spanned<i64>>,
    scoring: Option<Scoring>,
    head: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [sentiment] table")]
struct RawSentiment {
    enabled: Option<bool>,
    head: Option<String>,
    model: Option<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<String, Spanned<String>>,
    turns: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "an [input] table")]
struct RawInput {
    max_text_bytes: Option<usize>,
    #[serde(default)]
    columns: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    channels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    directions: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[phases]] table")]
struct RawPhase {
    id: Spanned<String>,
    name: Option<Spanned<RawLocalized>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[contact_reasons]] table")]
struct RawReason {
    id: Spanned<String>,
    phase: Spanned<String>,
    name: Option<Spanned<RawLocalized>>,
    description: Option<Spanned<RawLocalized>>,
    #[serde(default)]
    examples: BTreeMap<String, Vec<Spanned<String>>>,
}

/// The file as written. Sections are optional here so that a missing one is one problem among others.
#[derive(Default)]
struct RawFile {
    header: Option<RawHeader>,
    model: Option<RawModel>,
    classify: Option<RawClassify>,
    sentiment: Option<Spanned<RawSentiment>>,
    input: Option<RawInput>,
    phases: Entries<RawPhase>,
    reasons: Entries<RawReason>,
}

/// The entries of an array of tables: those read, and the ids of those that could not be read. The latter are
/// reported already; their ids are kept so that they cause no second problem (a phase reported missing, say).
struct Entries<T> {
    read: Vec<Spanned<T>>,
    unreadable_ids: BTreeSet<String>,
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries {
            read: Vec::new(),
            unreadable_ids: BTreeSet::new(),
        }
    }
}

const SECTIONS: [&str; 7] = [
    "pipeline",
    "model",
    "classify",
    "sentiment",
    "input",
    "phases",
    "contact_reasons",
];

impl RawFile {
    fn read(root: DeTable<'_>, problems: &mut Problems) -> RawFile {
        let mut file = RawFile::default();
        let mut present = BTreeSet::new();
        for (key, value) in root {
            let name = key.get_ref().as_ref();
            match name {
                "pipeline" => file.header = read_one(value, "[pipeline]", problems),
                "model" => file.model = read_one(value, "[model]", problems),
                "classify" => file.classify = read_one(value, "[classify]", problems),
                "sentiment" => file.sentiment = read_one(value, "[sentiment]", problems),
                "input" => file.input = read_one(value, "[input]", problems),
                "phases" => file.phases = read_entries(value, "phases", "phase", problems),
                "contact_reasons" => {
                    file.reasons =
                        read_entries(value, "contact_reasons", "contact reason", problems)
                }
                unknown => problems.at(
                    &key.span(),
                    format!(
                        "unknown key '{unknown}' (expected one of: {})",
                        SECTIONS.join(", ")
                    ),
                ),
            }
            present.insert(name.to_string());
        }
        // A section that is present but malformed has been reported while reading it.
        for required in ["pipeline", "model", "classify"] {
            if !present.contains(required) {
                problems.on_line(0, format!("missing section [{required}]"));
            }
        }
        file
    }
}

fn read_one<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    context: &str,
    problems: &mut Problems,
) -> Option<T> {
    T::deserialize(ValueDeserializer::from(value))
        .map_err(|error| problems.toml(context, &error))
        .ok()
}

/// Reads an array of tables entry by entry, so that every malformed entry is reported.
/// `entry_kind` names one entry in messages.
fn read_entries<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    key: &str,
    entry_kind: &str,
    problems: &mut Problems,
) -> Entries<T> {
    let mut entries = Entries::default();
    let span = value.span();
    let DeValue::Array(values) = value.into_inner() else {
        problems.at(
            &span,
            format!("'{key}' must be an array of tables, written [[{key}]]"),
        );
        return entries;
    };
    for (index, value) in values.into_iter().enumerate() {
        let id = entry_id(value.get_ref());
        // Names the entry by its id where it has one, else by its position.
        let context = match &id {
            Some(id) => format!("{entry_kind} '{id}'"),
            None => format!("{entry_kind} number {}", index + 1),
        };
        match read_one(value, &context, problems) {
            Some(entry) => entries.read.push(entry),
            None => entries.unreadable_ids.extend(id),
        }
    }
    entries
}

fn entry_id(entry: &DeValue<'_>) -> Option<String> {
    entry
        .get("id")
        .and_then(|id| id.get_ref().as_str())
        .map(str::to_owned)
}

// ---- Step 3: the file's meaning -----------------------------------------------------------------------------

impl RawFile {
    fn check(&self, problems: &mut Problems) {
        let languages = self
            .header
            .as_ref()
            .map_or(&[][..], |header| header.languages.as_slice());
        if let Some(header) = &self.header {
            if header.name.get_ref().trim().is_empty() {
                problems.at(&header.name.span(), "[pipeline]: name is empty");
            }
        }
        if let Some(model) = &self.model {
            check_model(model, problems);
        }
        if let Some(sentiment) = &self.sentiment {
            check_sentiment(sentiment, problems);
        }
        if let Some(classify) = &self.classify {
            check_classify(classify, problems);
        }
        if let Some(input) = &self.input {
            check_input(input, problems);
        }
        check_phases(&self.phases, languages, problems);
        let defined_phases: BTreeSet<&str> = self
            .phases
            .read
            .iter()
            .map(|phase| phase.get_ref().id.get_ref().as_str())
            .chain(self.phases.unreadable_ids.iter().map(String::as_str))
            .collect();
        check_reasons(&self.reasons.read, &defined_phases, languages, problems);
    }
}

fn check_model(model: &RawModel, problems: &mut Problems) {
    if model.encoder.get_ref().trim().is_empty() {
        problems.at(&model.encoder.span(), "[model]: encoder is empty");
    }
    if let Some(max_tokens) = &model.max_tokens {
        if *max_tokens.get_ref() < 1 {
            problems.at(
                &max_tokens.span(),
                format!(
                    "[model]: max_tokens must be at least 1, not {}",
                    max_tokens.get_ref()
                ),
            );
        }
    }
}

fn check_sentiment(sentiment: &Spanned<RawSentiment>, problems: &mut Problems) {
    let raw = sentiment.get_ref();
    if raw.head.is_some() && raw.model.is_some() {
        problems.at(
            &sentiment.span(),
            "[sentiment]: give either head (a trained head) or model (a Hugging Face classifier), not both",
        );
    }
    for (class, value) in &raw.labels {
        if crate::classify::sentiment::polarity_of(value.get_ref()).is_none() {
            problems.at(
                &value.span(),
                format!(
                    "[sentiment]: labels.{class} = '{}' is not a sentiment (one of {})",
                    value.get_ref(),
                    schema::SENTIMENTS.join(", ")
                ),
            );
        }
    }
}

fn check_classify(classify: &RawClassify, problems: &mut Problems) {
    let unknown_below = *classify.unknown_below.get_ref();
    // Written so that NaN fails too.
    if !(-1.0..=1.0).contains(&unknown_below) {
        problems.at(
            &classify.unknown_below.span(),
            format!("[classify]: unknown_below must be between -1 and 1, not {unknown_below}"),
        );
    }
    for (language, threshold) in classify.unknown_below_by_language.iter().flatten() {
        let value = *threshold.get_ref();
        if !(-1.0..=1.0).contains(&value) {
            problems.at(
                &threshold.span(),
                format!("[classify]: unknown_below_by_language.{language} must be between -1 and 1, not {value}"),
            );
        }
        if language.len() != 2 || !language.chars().all(|c| c.is_ascii_lowercase()) {
            problems.at(
                &threshold.span(),
                format!("[classify]: '{language}' in unknown_below_by_language is not an ISO 639-1 code such as nl"),
            );
        }
    }
    if let Some(top_k) = &classify.top_k {
        if *top_k.get_ref() < 1 {
            problems.at(
                &top_k.span(),
                format!(
                    "[classify]: top_k must be at least 1, not {}",
                    top_k.get_ref()
                ),
            );
        }
    }
}

fn check_input(input: &RawInput, problems: &mut Problems) {
    for column in input.columns.keys() {
        if !schema::CANONICAL.contains(&column.get_ref().as_str()) {
            problems.at(
                &column.span(),
                format!(
                    "[input.columns]: '{}' is not a canonical column (expected one of: {})",
                    column.get_ref(),
                    schema::CANONICAL.join(", ")
                ),
            );
        }
    }
    check_mapped_values(
        "[input.channels]",
        &input.channels,
        &schema::CHANNELS,
        problems,
    );
    check_mapped_values(
        "[input.directions]",
        &input.directions,
        &schema::DIRECTIONS,
        problems,
    );
}

fn check_mapped_values(
    section: &str,
    mapping: &BTreeMap<String, Spanned<String>>,
    allowed: &[&str],
    problems: &mut Problems,
) {
    for (source, target) in mapping {
        if !allowed.contains(&target.get_ref().as_str()) {
            problems.at(
                &target.span(),
                format!(
                    "{section}: '{source}' maps to '{}', which is not one of: {}",
                    target.get_ref(),
                    allowed.join(", ")
                ),
            );
        }
    }
}

fn check_phases(phases: &Entries<RawPhase>, languages: &[String], problems: &mut Problems) {
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for phase in &phases.read {
        let phase_ref = phase.get_ref();
        let id = phase_ref.id.get_ref().as_str();
        let line = problems.line_of(phase_ref.id.span().start);
        if !LIFECYCLE_PHASES.contains(&id) {
            problems.on_line(
                line,
                format!(
                    "unknown phase '{id}' (the phases are: {})",
                    LIFECYCLE_PHASES.join(", ")
                ),
            );
        }
        match first_line.get(id) {
            Some(first) => problems.on_line(
                line,
                format!("phase '{id}' is defined twice (first on line {first})"),
            ),
            None => {
                first_line.insert(id, line);
            }
        }
        let owner = format!("phase '{id}'");
        check_localized(
            &owner,
            "name",
            &phase_ref.name,
            &phase.span(),
            languages,
            problems,
        );
    }
    for missing in LIFECYCLE_PHASES
        .iter()
        .filter(|id| !first_line.contains_key(*id) && !phases.unreadable_ids.contains(**id))
    {
        problems.on_line(0, format!("missing phase '{missing}' in [[phases]]"));
    }
}

fn check_reasons(
    reasons: &[Spanned<RawReason>],
    defined_phases: &BTreeSet<&str>,
    languages: &[String],
    problems: &mut Problems,
) {
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for reason in reasons {
        let reason_ref = reason.get_ref();
        let id = reason_ref.id.get_ref().as_str();
        let line = problems.line_of(reason_ref.id.span().start);
        if !is_snake_case(id) {
            problems.on_line(
                line,
                format!("contact reason id '{id}' is not snake_case (a-z, 0-9 and single '_')"),
            );
        } else if id == schema::UNKNOWN_REASON {
            problems.on_line(
                line,
                format!("contact reason id '{id}' is reserved for texts no reason fits"),
            );
        }
        match first_line.get(id) {
            Some(first) => problems.on_line(
                line,
                format!("contact reason '{id}' is defined twice (first on line {first})"),
            ),
            None => {
                first_line.insert(id, line);
            }
        }
        let phase = reason_ref.phase.get_ref().as_str();
        if !defined_phases.contains(phase) {
            problems.at(
                &reason_ref.phase.span(),
                format!("contact reason '{id}': unknown phase '{phase}'"),
            );
        }
        let owner = format!("contact reason '{id}'");
        let span = reason.span();
        check_localized(&owner, "name", &reason_ref.name, &span, languages, problems);
        check_localized(
            &owner,
            "description",
            &reason_ref.description,
            &span,
            languages,
            problems,
        );
        for (language, examples) in &reason_ref.examples {
            for example in examples.iter().filter(|e| e.get_ref().trim().is_empty()) {
                problems.at(
                    &example.span(),
                    format!("{owner}: blank example in examples.{language}"),
                );
            }
        }
    }
}

/// Checks that localized text exists, covers every pipeline language and has no blank text.
/// `owner_span` places the problem when the text is missing altogether.
fn check_localized(
    owner: &str,
    field: &str,
    text: &Option<Spanned<RawLocalized>>,
    owner_span: &Range<usize>,
    languages: &[String],
    problems: &mut Problems,
) {
    let Some(text) = text.as_ref().filter(|text| !text.get_ref().is_empty()) else {
        problems.at(owner_span, format!("{owner} has no {field}"));
        return;
    };
    for language in languages {
        if !text.get_ref().contains_key(language) {
            problems.at(
                &text.span(),
                format!("{owner}: {field} has no '{language}' text"),
            );
        }
    }
    for (language, value) in text.get_ref() {
        if value.get_ref().trim().is_empty() {
            problems.at(
                &value.span(),
                format!("{owner}: {field}.{language} is blank"),
            );
        }
    }
}

/// Lowercase ASCII words of letters and digits joined by single underscores, starting with a letter.
fn is_snake_case(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.split('_').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

// ---- Conversion to the public types -------------------------------------------------------------------------

impl RawFile {
    /// The clean pipeline, or `None` when a required section is missing. Call only after `check`.
    fn into_pipeline(self, path: &Path, text: &str) -> Option<Pipeline> {
        let header = self.header?;
        let model = self.model?;
        let classify = self.classify?;
        let input = self.input.unwrap_or_default();
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let sentiment = match self.sentiment.map(Spanned::into_inner) {
            None => SentimentSection::default(),
            Some(raw) => SentimentSection {
                source: match (raw.enabled, raw.head, raw.model) {
                    (Some(false), _, _) => SentimentSource::Off,
                    (_, Some(head), _) if head == "builtin" => SentimentSource::Builtin,
                    (_, Some(head), _) => SentimentSource::Head(base.join(head)),
                    (_, None, Some(model)) => {
                        // A local folder is found relative to this file, like a head; Hub ids and
                        // packaged names are left as written.
                        let model = model.into_inner();
                        let local = base.join(&model);
                        SentimentSource::Classifier(
                            if !model.starts_with("hf:") && local.is_dir() {
                                local.display().to_string()
                            } else {
                                model
                            },
                        )
                    }
                    (_, None, None) => SentimentSource::Builtin,
                },
                labels: plain_values(raw.labels),
                turns: raw.turns.unwrap_or(true),
            },
        };

        let mut phases: Vec<Phase> = self
            .phases
            .read
            .into_iter()
            .map(|phase| {
                let phase = phase.into_inner();
                Phase {
                    id: phase.id.into_inner(),
                    name: plain(phase.name),
                }
            })
            .collect();
        phases.sort_by_key(|phase| LIFECYCLE_PHASES.iter().position(|id| *id == phase.id));

        let contact_reasons = self
            .reasons
            .read
            .into_iter()
            .map(|reason| {
                let reason = reason.into_inner();
                ContactReason {
                    id: reason.id.into_inner(),
                    phase: reason.phase.into_inner(),
                    name: plain(reason.name),
                    description: plain(reason.description),
                    examples: reason
                        .examples
                        .into_iter()
                        .map(|(language, examples)| {
                            (
                                language,
                                examples.into_iter().map(Spanned::into_inner).collect(),
                            )
                        })
                        .collect(),
                }
            })
            .collect();

        Some(Pipeline {
            path: path.to_path_buf(),
            name: header.name.into_inner(),
            description: header.description,
            languages: header.languages,
            model: ModelSection {
                encoder: model.encoder.into_inner(),
                query_prefix: model
                    .query_prefix
                    .unwrap_or_else(|| DEFAULT_QUERY_PREFIX.to_string()),
                max_tokens: model
                    .max_tokens
                    .and_then(|n| usize::try_from(n.into_inner()).ok())
                    .unwrap_or(DEFAULT_MAX_TOKENS),
            },
            classify: ClassifySection {
                unknown_below: *classify.unknown_below.get_ref() as f32,
                unknown_below_by_language: classify
                    .unknown_below_by_language
                    .iter()
                    .flatten()
                    .map(|(language, t)| (language.clone(), *t.get_ref() as f32))
                    .collect(),
                top_k: classify
                    .top_k
                    .and_then(|k| usize::try_from(k.into_inner()).ok())
                    .unwrap_or(DEFAULT_TOP_K),
                scoring: classify.scoring.unwrap_or_default(),
                head: classify
                    .head
                    .map(|h| path.parent().unwrap_or_else(|| Path::new(".")).join(h)),
            },
            sentiment,
            input: InputSection {
                max_text_bytes: input.max_text_bytes,
                columns: input
                    .columns
                    .into_iter()
                    .map(|(canonical, source)| (canonical.into_inner(), source))
                    .collect(),
                channels: plain_values(input.channels),
                directions: plain_values(input.directions),
            },
            phases,
            contact_reasons,
            hash: sha256_hex(text.as_bytes()),
        })
    }
}

fn plain(text: Option<Spanned<RawLocalized>>) -> Localized {
    text.map(|text| plain_values(text.into_inner()))
        .unwrap_or_default()
}

fn plain_values(map: BTreeMap<String, Spanned<String>>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(key, value)| (key, value.into_inner()))
        .collect()
}
