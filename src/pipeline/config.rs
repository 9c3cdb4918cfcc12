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
use crate::journey::calendar::{parse_clock, parse_date, parse_weekday, WEEKDAY_IDS};
use crate::journey::holidays::{LiberationDay, PublicHoliday};
use crate::model::Precision;
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
const DEFAULT_MAX_GAP_DAYS: f64 = 14.0;
const DEFAULT_REPEAT_WINDOW_DAYS: f64 = 7.0;

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
    /// The team that owns the reason (answers for its volume and quality).
    pub owner: Option<String>,
    /// The back-office processes behind the reason.
    pub processes: Vec<String>,
    /// The IT systems the reason's handling touches.
    pub systems: Vec<String>,
    /// What one contact for this reason costs, in the organisation's currency.
    pub cost_per_contact: Option<f64>,
}

/// A journey: one customer's run of contacts around one need. An interaction joins a journey instance when its
/// contact reason is one of `reasons` and the time since the instance's last touchpoint is at most `max_gap_days`.
#[derive(Debug, Clone)]
pub struct Journey {
    pub id: String,
    pub name: Localized,
    /// Contact reason ids, in file order. A reason may belong to several journeys.
    pub reasons: Vec<String>,
    pub max_gap_days: f64,
}

/// What the activity of an event-log event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventActivity {
    /// The contact reason (`move_house`).
    #[default]
    Reason,
    /// The contact reason and the channel (`move_house @ email`).
    ReasonAndChannel,
}

/// How interactions are linked into journeys.
#[derive(Debug, Clone)]
pub struct LinkingSection {
    /// The gap of journeys that set none.
    pub max_gap_days: f64,
    /// An inbound contact is a repeat contact when the same customer contacted about the same reason at most this
    /// many days before.
    pub repeat_window_days: f64,
    pub activity: EventActivity,
}

impl Default for LinkingSection {
    fn default() -> Self {
        LinkingSection {
            max_gap_days: DEFAULT_MAX_GAP_DAYS,
            repeat_window_days: DEFAULT_REPEAT_WINDOW_DAYS,
            activity: EventActivity::default(),
        }
    }
}

/// The working calendar SLA response times are measured in.
#[derive(Debug, Clone)]
pub struct CalendarSection {
    pub time_zone: chrono_tz::Tz,
    pub working_days: Vec<chrono::Weekday>,
    /// Local opening and closing time of a working day.
    pub opens: chrono::NaiveTime,
    pub closes: chrono::NaiveTime,
    pub public_holidays: Vec<PublicHoliday>,
    pub liberation_day: LiberationDay,
    /// Extra days the organisation is closed (company days off).
    pub closed_dates: Vec<chrono::NaiveDate>,
}

impl Default for CalendarSection {
    fn default() -> Self {
        use chrono::Weekday::*;
        CalendarSection {
            time_zone: chrono_tz::Europe::Amsterdam,
            working_days: vec![Mon, Tue, Wed, Thu, Fri],
            opens: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            closes: chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
            public_holidays: PublicHoliday::dutch_defaults(),
            liberation_day: LiberationDay::default(),
            closed_dates: Vec::new(),
        }
    }
}

/// How long an inbound message may wait for its reply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlaLimit {
    WorkingHours(f64),
    /// Whole working days, each as long as the calendar's working day.
    WorkingDays(f64),
}

/// One service-level rule: inbound messages on `channel` (any channel when `None`) about one of `reasons` (any
/// reason when empty) are answered within `limit`.
#[derive(Debug, Clone)]
pub struct SlaRule {
    pub channel: Option<String>,
    pub reasons: Vec<String>,
    pub limit: SlaLimit,
}

#[derive(Debug, Clone)]
pub struct SlaSection {
    /// Channels on which an inbound contact is answered within the contact itself (a call, a chat): no response
    /// time is measured for them.
    pub live_channels: Vec<String>,
    pub rules: Vec<SlaRule>,
}

impl Default for SlaSection {
    fn default() -> Self {
        SlaSection {
            live_channels: vec!["voice".to_string(), "chat".to_string()],
            rules: Vec::new(),
        }
    }
}

/// Weights of the priority score of journeys and contact reasons; each weighs a measure scaled to 0..1.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorityWeights {
    pub volume: f64,
    pub share_negative: f64,
    pub repeat_contact_rate: f64,
    pub sla_breach_rate: f64,
    pub low_score_share: f64,
}

impl Default for PriorityWeights {
    fn default() -> Self {
        PriorityWeights {
            volume: 1.0,
            share_negative: 1.0,
            repeat_contact_rate: 1.0,
            sla_breach_rate: 1.0,
            low_score_share: 1.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelSection {
    /// A model name from `touchpoint models list`, a local folder, or `hf:owner/name`.
    pub encoder: String,
    pub query_prefix: String,
    pub max_tokens: usize,
    /// How the encoder multiplies (`precision = "f32" | "int8" | "q4"`; f32 when absent). The command
    /// line's `--precision` overrides it.
    pub precision: Precision,
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
    /// The journeys, in file order; none means no journey linking.
    pub journeys: Vec<Journey>,
    pub linking: LinkingSection,
    pub calendar: CalendarSection,
    pub sla: SlaSection,
    pub priorities: PriorityWeights,
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
    precision: Option<Spanned<String>>,
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
    owner: Option<Spanned<String>>,
    #[serde(default)]
    processes: Vec<Spanned<String>>,
    #[serde(default)]
    systems: Vec<Spanned<String>>,
    cost_per_contact: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[journeys]] table")]
struct RawJourney {
    id: Spanned<String>,
    name: Option<Spanned<RawLocalized>>,
    reasons: Spanned<Vec<Spanned<String>>>,
    max_gap_days: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [linking] table")]
struct RawLinking {
    max_gap_days: Option<Spanned<f64>>,
    repeat_window_days: Option<Spanned<f64>>,
    activity: Option<EventActivity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [calendar] table")]
struct RawCalendar {
    time_zone: Option<Spanned<String>>,
    working_days: Option<Spanned<Vec<Spanned<String>>>>,
    opens: Option<Spanned<String>>,
    closes: Option<Spanned<String>>,
    public_holidays: Option<Vec<Spanned<String>>>,
    liberation_day: Option<Spanned<String>>,
    #[serde(default)]
    closed_dates: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [sla] table")]
struct RawSla {
    live_channels: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    rules: Vec<Spanned<RawSlaRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [[sla.rules]] table")]
struct RawSlaRule {
    channel: Option<Spanned<String>>,
    #[serde(default)]
    reasons: Vec<Spanned<String>>,
    within_working_hours: Option<Spanned<f64>>,
    within_working_days: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [priorities] table")]
struct RawPriorities {
    volume: Option<Spanned<f64>>,
    share_negative: Option<Spanned<f64>>,
    repeat_contact_rate: Option<Spanned<f64>>,
    sla_breach_rate: Option<Spanned<f64>>,
    low_score_share: Option<Spanned<f64>>,
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
    journeys: Entries<RawJourney>,
    linking: Option<RawLinking>,
    calendar: Option<RawCalendar>,
    sla: Option<RawSla>,
    priorities: Option<RawPriorities>,
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

const SECTIONS: [&str; 12] = [
    "pipeline",
    "model",
    "classify",
    "sentiment",
    "input",
    "phases",
    "contact_reasons",
    "journeys",
    "linking",
    "calendar",
    "sla",
    "priorities",
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
                "journeys" => file.journeys = read_entries(value, "journeys", "journey", problems),
                "linking" => file.linking = read_one(value, "[linking]", problems),
                "calendar" => file.calendar = read_one(value, "[calendar]", problems),
                "sla" => file.sla = read_one(value, "[sla]", problems),
                "priorities" => file.priorities = read_one(value, "[priorities]", problems),
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
        let defined_reasons: BTreeSet<&str> = self
            .reasons
            .read
            .iter()
            .map(|reason| reason.get_ref().id.get_ref().as_str())
            .chain(self.reasons.unreadable_ids.iter().map(String::as_str))
            .collect();
        check_journeys(&self.journeys.read, &defined_reasons, languages, problems);
        if let Some(linking) = &self.linking {
            check_linking(linking, problems);
        }
        if let Some(calendar) = &self.calendar {
            check_calendar(calendar, problems);
        }
        if let Some(sla) = &self.sla {
            check_sla(sla, &defined_reasons, problems);
        }
        if let Some(priorities) = &self.priorities {
            check_priorities(priorities, problems);
        }
    }
}

/// Reports a number that is not finite or not above `min` (or not at least `min` when `inclusive`).
fn check_number(
    value: &Spanned<f64>,
    what: &str,
    min: f64,
    inclusive: bool,
    problems: &mut Problems,
) {
    let v = *value.get_ref();
    let ok = v.is_finite() && if inclusive { v >= min } else { v > min };
    if !ok {
        let bound = if inclusive { "at least" } else { "more than" };
        problems.at(
            &value.span(),
            format!("{what} must be {bound} {min}, not {v}"),
        );
    }
}

fn check_journeys(
    journeys: &[Spanned<RawJourney>],
    defined_reasons: &BTreeSet<&str>,
    languages: &[String],
    problems: &mut Problems,
) {
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    let in_some_journey: BTreeSet<&str> = journeys
        .iter()
        .flat_map(|j| j.get_ref().reasons.get_ref().iter())
        .map(|r| r.get_ref().as_str())
        .collect();
    for journey in journeys {
        let journey_ref = journey.get_ref();
        let id = journey_ref.id.get_ref().as_str();
        let line = problems.line_of(journey_ref.id.span().start);
        if !is_snake_case(id) {
            problems.on_line(
                line,
                format!("journey id '{id}' is not snake_case (a-z, 0-9 and single '_')"),
            );
        } else if id == schema::UNKNOWN_REASON {
            problems.on_line(line, format!("journey id '{id}' is reserved"));
        } else if defined_reasons.contains(id) && !in_some_journey.contains(id) {
            problems.on_line(
                line,
                format!(
                    "journey id '{id}' is the id of contact reason '{id}', which belongs to no journey and so \
                     forms a journey of its own under that id; give this journey another id or list the reason in it"
                ),
            );
        }
        match first_line.get(id) {
            Some(first) => problems.on_line(
                line,
                format!("journey '{id}' is defined twice (first on line {first})"),
            ),
            None => {
                first_line.insert(id, line);
            }
        }
        let owner = format!("journey '{id}'");
        check_localized(
            &owner,
            "name",
            &journey_ref.name,
            &journey.span(),
            languages,
            problems,
        );
        if journey_ref.reasons.get_ref().is_empty() {
            problems.at(
                &journey_ref.reasons.span(),
                format!("{owner} has no reasons"),
            );
        }
        let mut seen = BTreeSet::new();
        for reason in journey_ref.reasons.get_ref() {
            let reason_id = reason.get_ref().as_str();
            if reason_id == schema::UNKNOWN_REASON {
                problems.at(
                    &reason.span(),
                    format!("{owner}: '{reason_id}' cannot be listed; unknown interactions join the customer's open journey by themselves"),
                );
            } else if !defined_reasons.contains(reason_id) {
                problems.at(
                    &reason.span(),
                    format!("{owner}: unknown contact reason '{reason_id}'"),
                );
            }
            if !seen.insert(reason_id) {
                problems.at(
                    &reason.span(),
                    format!("{owner}: contact reason '{reason_id}' is listed twice"),
                );
            }
        }
        if let Some(gap) = &journey_ref.max_gap_days {
            check_number(gap, &format!("{owner}: max_gap_days"), 0.0, false, problems);
        }
    }
}

fn check_linking(linking: &RawLinking, problems: &mut Problems) {
    if let Some(gap) = &linking.max_gap_days {
        check_number(gap, "[linking]: max_gap_days", 0.0, false, problems);
    }
    if let Some(window) = &linking.repeat_window_days {
        check_number(
            window,
            "[linking]: repeat_window_days",
            0.0,
            false,
            problems,
        );
    }
}

fn check_calendar(calendar: &RawCalendar, problems: &mut Problems) {
    if let Some(zone) = &calendar.time_zone {
        if zone.get_ref().parse::<chrono_tz::Tz>().is_err() {
            problems.at(
                &zone.span(),
                format!(
                    "[calendar]: unknown time zone '{}' (an IANA name such as Europe/Amsterdam)",
                    zone.get_ref()
                ),
            );
        }
    }
    if let Some(days) = &calendar.working_days {
        if days.get_ref().is_empty() {
            problems.at(&days.span(), "[calendar]: working_days is empty");
        }
        let mut seen = BTreeSet::new();
        for day in days.get_ref() {
            if parse_weekday(day.get_ref()).is_none() {
                problems.at(
                    &day.span(),
                    format!(
                        "[calendar]: '{}' is not a weekday (one of: {})",
                        day.get_ref(),
                        WEEKDAY_IDS.join(", ")
                    ),
                );
            } else if !seen.insert(day.get_ref().as_str()) {
                problems.at(
                    &day.span(),
                    format!("[calendar]: '{}' is listed twice", day.get_ref()),
                );
            }
        }
    }
    let clock = |value: &Option<Spanned<String>>, key: &str, problems: &mut Problems| {
        let value = value.as_ref()?;
        let parsed = parse_clock(value.get_ref());
        if parsed.is_none() {
            problems.at(
                &value.span(),
                format!(
                    "[calendar]: {key} '{}' is not a time written HH:MM",
                    value.get_ref()
                ),
            );
        }
        parsed.map(|time| (time, value.span()))
    };
    let opens = clock(&calendar.opens, "opens", problems);
    let closes = clock(&calendar.closes, "closes", problems);
    let defaults = CalendarSection::default();
    let (open_time, close_time) = (
        opens.as_ref().map_or(defaults.opens, |o| o.0),
        closes.as_ref().map_or(defaults.closes, |c| c.0),
    );
    let unparsed = (calendar.opens.is_some() && opens.is_none())
        || (calendar.closes.is_some() && closes.is_none());
    if !unparsed && open_time >= close_time && (opens.is_some() || closes.is_some()) {
        let span = closes.or(opens).map(|c| c.1).unwrap_or_default();
        problems.at(
            &span,
            format!("[calendar]: closes ({close_time}) must be after opens ({open_time})"),
        );
    }
    for holiday in calendar.public_holidays.iter().flatten() {
        if PublicHoliday::parse(holiday.get_ref()).is_none() {
            let known: Vec<&str> = PublicHoliday::ALL.iter().map(|h| h.id()).collect();
            problems.at(
                &holiday.span(),
                format!(
                    "[calendar]: unknown public holiday '{}' (one of: {})",
                    holiday.get_ref(),
                    known.join(", ")
                ),
            );
        }
    }
    if let Some(liberation) = &calendar.liberation_day {
        if LiberationDay::parse(liberation.get_ref()).is_none() {
            problems.at(
                &liberation.span(),
                format!(
                    "[calendar]: liberation_day must be one of: {}",
                    LiberationDay::IDS.join(", ")
                ),
            );
        }
    }
    for date in &calendar.closed_dates {
        if parse_date(date.get_ref()).is_none() {
            problems.at(
                &date.span(),
                format!(
                    "[calendar]: closed date '{}' is not a date written YYYY-MM-DD",
                    date.get_ref()
                ),
            );
        }
    }
}

fn check_sla(sla: &RawSla, defined_reasons: &BTreeSet<&str>, problems: &mut Problems) {
    for channel in sla.live_channels.iter().flatten() {
        if !schema::CHANNELS.contains(&channel.get_ref().as_str()) {
            problems.at(
                &channel.span(),
                format!(
                    "[sla]: live channel '{}' is not one of: {}",
                    channel.get_ref(),
                    schema::CHANNELS.join(", ")
                ),
            );
        }
    }
    let mut first_line: HashMap<(Option<&str>, Vec<&str>), usize> = HashMap::new();
    for rule in &sla.rules {
        let rule_ref = rule.get_ref();
        let line = problems.line_of(rule.span().start);
        if let Some(channel) = &rule_ref.channel {
            if !schema::CHANNELS.contains(&channel.get_ref().as_str()) {
                problems.at(
                    &channel.span(),
                    format!(
                        "[[sla.rules]]: channel '{}' is not one of: {}",
                        channel.get_ref(),
                        schema::CHANNELS.join(", ")
                    ),
                );
            }
        }
        for reason in &rule_ref.reasons {
            if !defined_reasons.contains(reason.get_ref().as_str()) {
                problems.at(
                    &reason.span(),
                    format!(
                        "[[sla.rules]]: unknown contact reason '{}'",
                        reason.get_ref()
                    ),
                );
            }
        }
        match (
            &rule_ref.within_working_hours,
            &rule_ref.within_working_days,
        ) {
            (Some(hours), None) => check_number(
                hours,
                "[[sla.rules]]: within_working_hours",
                0.0,
                false,
                problems,
            ),
            (None, Some(days)) => check_number(
                days,
                "[[sla.rules]]: within_working_days",
                0.0,
                false,
                problems,
            ),
            _ => problems.on_line(
                line,
                "[[sla.rules]]: give exactly one of within_working_hours and within_working_days",
            ),
        }
        let mut reasons: Vec<&str> = rule_ref
            .reasons
            .iter()
            .map(|r| r.get_ref().as_str())
            .collect();
        reasons.sort_unstable();
        let key = (
            rule_ref.channel.as_ref().map(|c| c.get_ref().as_str()),
            reasons,
        );
        match first_line.get(&key) {
            Some(first) => problems.on_line(
                line,
                format!("[[sla.rules]]: a rule for the same channel and reasons is defined on line {first}"),
            ),
            None => {
                first_line.insert(key, line);
            }
        }
    }
}

fn check_priorities(priorities: &RawPriorities, problems: &mut Problems) {
    let weights = [
        (&priorities.volume, "volume"),
        (&priorities.share_negative, "share_negative"),
        (&priorities.repeat_contact_rate, "repeat_contact_rate"),
        (&priorities.sla_breach_rate, "sla_breach_rate"),
        (&priorities.low_score_share, "low_score_share"),
    ];
    for (weight, name) in weights {
        if let Some(weight) = weight {
            check_number(
                weight,
                &format!("[priorities]: {name}"),
                0.0,
                true,
                problems,
            );
        }
    }
    let defaults = PriorityWeights::default();
    let total = priorities
        .volume
        .as_ref()
        .map_or(defaults.volume, |w| *w.get_ref())
        + priorities
            .share_negative
            .as_ref()
            .map_or(defaults.share_negative, |w| *w.get_ref())
        + priorities
            .repeat_contact_rate
            .as_ref()
            .map_or(defaults.repeat_contact_rate, |w| *w.get_ref())
        + priorities
            .sla_breach_rate
            .as_ref()
            .map_or(defaults.sla_breach_rate, |w| *w.get_ref())
        + priorities
            .low_score_share
            .as_ref()
            .map_or(defaults.low_score_share, |w| *w.get_ref());
    if total.is_finite() && total <= 0.0 {
        problems.on_line(0, "[priorities]: at least one weight must be above 0");
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
    if let Some(precision) = &model.precision {
        if Precision::parse(precision.get_ref()).is_none() {
            problems.at(
                &precision.span(),
                format!(
                    "[model]: precision must be \"f32\", \"int8\" or \"q4\", not \"{}\"",
                    precision.get_ref()
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
        if let Some(team) = reason_ref
            .owner
            .as_ref()
            .filter(|o| o.get_ref().trim().is_empty())
        {
            problems.at(&team.span(), format!("{owner}: owner is blank"));
        }
        for (key, values) in [
            ("processes", &reason_ref.processes),
            ("systems", &reason_ref.systems),
        ] {
            for value in values.iter().filter(|v| v.get_ref().trim().is_empty()) {
                problems.at(&value.span(), format!("{owner}: blank entry in {key}"));
            }
        }
        if let Some(cost) = &reason_ref.cost_per_contact {
            check_number(
                cost,
                &format!("{owner}: cost_per_contact"),
                0.0,
                true,
                problems,
            );
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
                    owner: reason.owner.map(Spanned::into_inner),
                    processes: reason
                        .processes
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                    systems: reason
                        .systems
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                    cost_per_contact: reason.cost_per_contact.map(Spanned::into_inner),
                }
            })
            .collect();

        let linking = self.linking.map_or_else(LinkingSection::default, |raw| {
            let defaults = LinkingSection::default();
            LinkingSection {
                max_gap_days: raw
                    .max_gap_days
                    .map_or(defaults.max_gap_days, Spanned::into_inner),
                repeat_window_days: raw
                    .repeat_window_days
                    .map_or(defaults.repeat_window_days, Spanned::into_inner),
                activity: raw.activity.unwrap_or_default(),
            }
        });
        let journeys = self
            .journeys
            .read
            .into_iter()
            .map(|journey| {
                let journey = journey.into_inner();
                Journey {
                    id: journey.id.into_inner(),
                    name: plain(journey.name),
                    reasons: journey
                        .reasons
                        .into_inner()
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                    max_gap_days: journey
                        .max_gap_days
                        .map_or(linking.max_gap_days, Spanned::into_inner),
                }
            })
            .collect();
        let calendar = self
            .calendar
            .map_or_else(CalendarSection::default, calendar_section);
        let sla = self.sla.map_or_else(SlaSection::default, |raw| SlaSection {
            live_channels: raw.live_channels.map_or_else(
                || SlaSection::default().live_channels,
                |channels| channels.into_iter().map(Spanned::into_inner).collect(),
            ),
            rules: raw
                .rules
                .into_iter()
                .filter_map(|rule| {
                    let rule = rule.into_inner();
                    let limit = match (rule.within_working_hours, rule.within_working_days) {
                        (Some(hours), _) => SlaLimit::WorkingHours(hours.into_inner()),
                        (None, Some(days)) => SlaLimit::WorkingDays(days.into_inner()),
                        (None, None) => return None,
                    };
                    Some(SlaRule {
                        channel: rule.channel.map(Spanned::into_inner),
                        reasons: rule.reasons.into_iter().map(Spanned::into_inner).collect(),
                        limit,
                    })
                })
                .collect(),
        });
        let priorities = self
            .priorities
            .map_or_else(PriorityWeights::default, |raw| {
                let d = PriorityWeights::default();
                let pick =
                    |w: Option<Spanned<f64>>, default: f64| w.map_or(default, Spanned::into_inner);
                PriorityWeights {
                    volume: pick(raw.volume, d.volume),
                    share_negative: pick(raw.share_negative, d.share_negative),
                    repeat_contact_rate: pick(raw.repeat_contact_rate, d.repeat_contact_rate),
                    sla_breach_rate: pick(raw.sla_breach_rate, d.sla_breach_rate),
                    low_score_share: pick(raw.low_score_share, d.low_score_share),
                }
            });

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
                precision: model
                    .precision
                    .and_then(|p| Precision::parse(p.get_ref()))
                    .unwrap_or_default(),
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
            journeys,
            linking,
            calendar,
            sla,
            priorities,
            hash: sha256_hex(text.as_bytes()),
        })
    }
}

/// The calendar as written, defaults filled in. Call only after `check_calendar` found no problem.
fn calendar_section(raw: RawCalendar) -> CalendarSection {
    let defaults = CalendarSection::default();
    CalendarSection {
        time_zone: raw
            .time_zone
            .and_then(|zone| zone.get_ref().parse().ok())
            .unwrap_or(defaults.time_zone),
        working_days: raw.working_days.map_or(defaults.working_days, |days| {
            days.into_inner()
                .iter()
                .filter_map(|day| parse_weekday(day.get_ref()))
                .collect()
        }),
        opens: raw
            .opens
            .and_then(|t| parse_clock(t.get_ref()))
            .unwrap_or(defaults.opens),
        closes: raw
            .closes
            .and_then(|t| parse_clock(t.get_ref()))
            .unwrap_or(defaults.closes),
        public_holidays: raw
            .public_holidays
            .map_or(defaults.public_holidays, |holidays| {
                holidays
                    .iter()
                    .filter_map(|h| PublicHoliday::parse(h.get_ref()))
                    .collect()
            }),
        liberation_day: raw
            .liberation_day
            .and_then(|l| LiberationDay::parse(l.get_ref()))
            .unwrap_or(defaults.liberation_day),
        closed_dates: raw
            .closed_dates
            .iter()
            .filter_map(|d| parse_date(d.get_ref()))
            .collect(),
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
