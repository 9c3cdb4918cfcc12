//! Reading chat and call transcripts into canonical interactions, one row per conversation.
//!
//! Contract of `read_transcripts(files, kind, options)`:
//! - Inputs are files and folders (folders are searched recursively for the kind's extensions, hidden entries
//!   skipped). The format follows the extension:
//!   - chat: `.jsonl` / `.ndjson` are JSON Lines, anything else JSON (`chat`);
//!   - call: `.vtt` WebVTT, `.srt` SubRip (`subtitles`), `.json` speech-to-text segments (`segments`), anything
//!     else speaker-labelled text (`labelled`). One call per file.
//! - Every conversation ends up either as a row of the interactions batch or as a row of the rejects batch
//!   (schema `schema::reject_fields`). Rejected: a file that is not valid JSON / WebVTT / SRT / labelled text
//!   (`source_row` is then the line at fault, and the reason says where), a conversation that is malformed
//!   (its position), and a conversation without any customer text. A file that cannot be read is an error.
//! - Interactions have the canonical columns, then `schema::chat_fields` or `schema::call_fields`, then
//!   `source_file` and `source_row` (the conversation's position in its file: 1-based array index for JSON, the
//!   line for JSON Lines, 1 for a call file). `id` is the conversation's own id or `<file name>:<row>`;
//!   `channel` is `chat` or `voice`; `timestamp` the conversation's start (null when unknown); `direction`
//!   `inbound`; `text` the customer's turns joined by newlines (what classification reads); `text_raw` every
//!   turn as a `Speaker: text` line; `turns` every turn with its role (`roles` says how labels map to roles).
//! - Call metrics (`metrics`) are computed from the turns that have both a start and an end time, and are null
//!   when no turn has.
//! - Ids are not checked for duplicates across files here; `enrich` sees every row.

mod chat;
mod columns;
mod fields;
mod labelled;
mod lines;
mod metrics;
mod roles;
mod segments;
mod subtitles;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::error::{Error, IoContext, Location, Result};
use crate::schema;

use super::rejects::{json_record, RejectsBuilder};
use columns::TranscriptRow;
use roles::RoleMap;

pub use metrics::CallMetrics;
pub use roles::Role;

/// What the transcripts are: typed chats or transcribed calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptKind {
    Chat,
    Call,
}

impl TranscriptKind {
    /// The canonical channel of this kind's rows.
    pub fn channel(self) -> &'static str {
        match self {
            TranscriptKind::Chat => "chat",
            TranscriptKind::Call => "voice",
        }
    }

    /// Extensions looked for when a folder is given.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            TranscriptKind::Chat => &["json", "jsonl", "ndjson"],
            TranscriptKind::Call => &["txt", "vtt", "srt", "json"],
        }
    }
}

/// How speakers are recognised.
#[derive(Debug, Clone, Default)]
pub struct TranscriptOptions {
    /// Extra speaker labels and their roles, on top of (and overriding) the built-in ones of `roles`. Matched
    /// case-insensitively against the whole label and against its first word (`Agent Sanne` -> `agent`).
    pub speaker_roles: HashMap<String, Role>,
}

/// One turn as a format reader found it: the label as written (none when the source gives none: it then
/// continues the previous speaker), times in seconds from the conversation's start, the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawTurn {
    pub speaker: Option<String>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
}

/// One conversation as a format reader found it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConversation {
    pub id: Option<String>,
    pub customer_id: Option<String>,
    /// Start in microseconds since the epoch (UTC).
    pub started_at: Option<i64>,
    pub turns: Vec<RawTurn>,
    /// Position in the file (see the module contract).
    pub row: u64,
    /// The source text of the conversation, kept for the rejects file.
    pub record: String,
}

/// Something a format reader could not turn into a conversation.
#[derive(Debug, Clone)]
pub(crate) struct Rejected {
    pub row: u64,
    pub column: Option<&'static str>,
    pub reason: String,
    pub record: String,
}

pub(crate) type Parsed = std::result::Result<RawConversation, Rejected>;

/// One turn with its resolved speaker and role.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub speaker: String,
    pub role: Role,
    pub start_seconds: Option<f64>,
    pub end_seconds: Option<f64>,
    pub text: String,
}

/// The turns written inside one text value of tabular input, for conversations that arrive as rows rather than
/// as transcript files: a JSON list of messages (`[{"speaker": "Klant", "text": "..."}, ...]`, the keys of
/// `fields`) or speaker-labelled lines (`Klant: ...` / `Agent: ...`). `None` when the text is neither, or has
/// fewer than two turns (a single labelled line is more likely a heading than a conversation).
pub fn turns_in_text(text: &str) -> Option<Vec<Turn>> {
    let roles = RoleMap::new(&HashMap::new());
    let trimmed = text.trim_start();
    let raw: Vec<RawTurn> = if trimmed.starts_with('[') {
        let items: Vec<serde_json::Value> = serde_json::from_str(trimmed).ok()?;
        items
            .iter()
            .map(|item| {
                let object = item.as_object()?;
                Some(RawTurn {
                    speaker: fields::speaker(object),
                    start: None,
                    end: None,
                    text: fields::text(object, &fields::TEXT_KEYS)?,
                })
            })
            .collect::<Option<Vec<_>>>()?
    } else {
        labelled::parse(text, &roles).ok()?.turns
    };
    (raw.len() >= 2).then(|| roles.resolve(&raw))
}

/// Reads every conversation of `files` (files and folders); returns (interactions, rejects). See the module
/// contract.
pub fn read_transcripts(
    files: &[PathBuf],
    kind: TranscriptKind,
    options: &TranscriptOptions,
) -> Result<(RecordBatch, RecordBatch)> {
    let roles = RoleMap::new(&options.speaker_roles);
    let mut rows = Vec::new();
    let mut rejects = RejectsBuilder::default();
    for path in expand(files, kind)? {
        let bytes = fs::read(&path).at(&path)?;
        let source_file = path.display().to_string();
        let parsed = match String::from_utf8(bytes) {
            Ok(text) => parse_file(&path, &text, kind, &roles),
            Err(e) => vec![Err(Rejected {
                row: 1,
                column: None,
                reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
                record: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })],
        };
        let file_name = file_name(&path);
        for conversation in parsed {
            match conversation.and_then(|c| accept(c, kind, &roles, &file_name)) {
                Ok(row) => rows.push(TranscriptRow {
                    source_file: source_file.clone(),
                    ..row
                }),
                Err(rejected) => rejects.append(
                    &source_file,
                    rejected.row,
                    rejected.column,
                    &rejected.reason,
                    &json_record(&rejected.record),
                ),
            }
        }
    }
    Ok((columns::interactions(&rows, kind)?, rejects.finish()?))
}

fn parse_file(path: &Path, text: &str, kind: TranscriptKind, roles: &RoleMap) -> Vec<Parsed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match (kind, extension.as_str()) {
        (TranscriptKind::Chat, "jsonl" | "ndjson") => chat::parse_jsonl(text),
        (TranscriptKind::Chat, _) => chat::parse_json(text),
        (TranscriptKind::Call, "vtt") => vec![subtitles::parse_vtt(text, roles)],
        (TranscriptKind::Call, "srt") => vec![subtitles::parse_srt(text, roles)],
        (TranscriptKind::Call, "json") => vec![segments::parse(text)],
        (TranscriptKind::Call, _) => vec![labelled::parse(text, roles)],
    }
}

/// Resolves roles, builds the texts and metrics; rejects a conversation without customer text.
fn accept(
    conversation: RawConversation,
    kind: TranscriptKind,
    roles: &RoleMap,
    file_name: &str,
) -> std::result::Result<TranscriptRow, Rejected> {
    let turns = roles.resolve(&conversation.turns);
    let customer_text: Vec<&str> = turns
        .iter()
        .filter(|t| t.role == Role::Customer && !t.text.trim().is_empty())
        .map(|t| t.text.as_str())
        .collect();
    if customer_text.is_empty() {
        let mut speakers: Vec<&str> = Vec::new();
        for turn in &turns {
            if !speakers.contains(&turn.speaker.as_str()) {
                speakers.push(&turn.speaker);
            }
        }
        return Err(Rejected {
            row: conversation.row,
            column: Some(schema::TEXT),
            reason: format!(
                "no customer turns with text (speakers: {})",
                if speakers.is_empty() {
                    "none".to_string()
                } else {
                    speakers.join(", ")
                }
            ),
            record: conversation.record,
        });
    }
    let text_raw = turns
        .iter()
        .map(|t| {
            if t.speaker.is_empty() {
                t.text.clone()
            } else {
                format!("{}: {}", t.speaker, t.text)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let metrics = (kind == TranscriptKind::Call).then(|| CallMetrics::of(&turns));
    Ok(TranscriptRow {
        id: conversation
            .id
            .unwrap_or_else(|| format!("{file_name}:{}", conversation.row)),
        customer_id: conversation.customer_id,
        timestamp: conversation.started_at,
        text: customer_text.join("\n"),
        text_raw,
        turns,
        metrics,
        source_file: String::new(),
        source_row: conversation.row,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Files as given; folders searched recursively for the kind's extensions. Sorted, without duplicates. A
/// folder without such files is an error: reading less than asked for silently is worse than stopping.
fn expand(inputs: &[PathBuf], kind: TranscriptKind) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let before = files.len();
            collect(input, kind, &mut files)?;
            if files.len() == before {
                return Err(Error::input(
                    Location::file(input),
                    format!("no {} files in this folder", kind.extensions().join(" / ")),
                ));
            }
        } else {
            files.push(input.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect(folder: &Path, kind: TranscriptKind, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(folder).at(folder)? {
        let path = entry.at(folder)?.path();
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            collect(&path, kind, files)?;
        } else if path.extension().is_some_and(|e| {
            kind.extensions()
                .contains(&e.to_string_lossy().to_lowercase().as_str())
        }) {
            files.push(path);
        }
    }
    Ok(())
}
