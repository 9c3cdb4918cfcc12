//! One entry point for every kind of input `enrich` reads: tabular files (CSV, JSON Lines, Parquet), raw
//! e-mail (`.eml`, mbox), chat transcripts and call transcripts.
//!
//! Contract: `open_inputs` decides the format (`Auto`: e-mail when every input is an `.eml` / `.mbox` file,
//! calls when every input is a `.vtt` / `.srt` subtitle file, tabular otherwise; folders, chat exports and
//! other call formats need the format named), opens the readers, and returns the fixed output schema, a row
//! count for progress, and the stream of `IngestBatch`es. One run reads one kind: their rows have different
//! columns, so mixing them is a usage error rather than a guess.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::email::{read_emails, EmailOptions};
use super::transcript::{read_transcripts, TranscriptKind, TranscriptOptions};
use super::{discover, IngestBatch, IngestOptions, Interactions};
use crate::error::{Error, Result};

/// How the inputs are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// By extension: `.eml` and `.mbox` files are e-mail, everything else tabular.
    #[default]
    Auto,
    Tabular,
    Email,
    /// Chat transcripts (JSON / JSON Lines exports), one interaction per conversation.
    Chat,
    /// Call transcripts (speaker-labelled text, WebVTT, SRT, JSON segments), one interaction per call.
    Call,
}

/// Opened inputs, ready to stream.
pub struct Inputs {
    pub schema: SchemaRef,
    pub rows_hint: Option<u64>,
    pub batches: Box<dyn Iterator<Item = Result<IngestBatch>>>,
}

fn extension(input: &str) -> Option<String> {
    Path::new(input)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
}

fn is_email_file(input: &str) -> bool {
    matches!(extension(input).as_deref(), Some("eml" | "mbox"))
}

fn is_subtitle_file(input: &str) -> bool {
    matches!(extension(input).as_deref(), Some("vtt" | "srt"))
}

pub fn open_inputs(
    inputs: &[String],
    format: InputFormat,
    tabular: IngestOptions,
    email: &EmailOptions,
    transcripts: &TranscriptOptions,
) -> Result<Inputs> {
    let emails = inputs.iter().filter(|i| is_email_file(i)).count();
    let subtitles = inputs.iter().filter(|i| is_subtitle_file(i)).count();
    let format = match format {
        InputFormat::Auto if emails == 0 && subtitles == 0 => InputFormat::Tabular,
        InputFormat::Auto if emails == inputs.len() => InputFormat::Email,
        InputFormat::Auto if subtitles == inputs.len() => InputFormat::Call,
        InputFormat::Auto => {
            return Err(Error::Usage(
                "the inputs mix kinds (e-mail, call subtitles, tabular files): enrich them in separate runs, or name the kind with --format".into(),
            ))
        }
        explicit => explicit,
    };
    let paths = || -> Vec<PathBuf> { inputs.iter().map(PathBuf::from).collect() };
    match format {
        InputFormat::Email => {
            let (interactions, rejects) = read_emails(&paths(), email)?;
            Ok(in_memory(interactions, rejects, tabular.batch_rows))
        }
        InputFormat::Chat | InputFormat::Call => {
            let kind = if format == InputFormat::Chat {
                TranscriptKind::Chat
            } else {
                TranscriptKind::Call
            };
            let (interactions, rejects) = read_transcripts(&paths(), kind, transcripts)?;
            Ok(in_memory(interactions, rejects, tabular.batch_rows))
        }
        _ => {
            let reader = Interactions::open(discover(inputs)?, tabular)?;
            Ok(Inputs {
                schema: reader.schema(),
                rows_hint: reader.rows_hint(),
                batches: Box::new(reader),
            })
        }
    }
}

/// Inputs read whole (e-mail threading and transcript grouping need every row), streamed on in batches.
fn in_memory(interactions: RecordBatch, rejects: RecordBatch, batch_rows: usize) -> Inputs {
    Inputs {
        schema: interactions.schema(),
        rows_hint: Some((interactions.num_rows() + rejects.num_rows()) as u64),
        batches: Box::new(
            slices(interactions, rejects, batch_rows)
                .into_iter()
                .map(Ok),
        ),
    }
}

/// Cuts one read of e-mail or transcripts into batches of at most `rows` rows (zero-copy slices); the rejects travel with
/// the first batch.
fn slices(interactions: RecordBatch, rejects: RecordBatch, rows: usize) -> Vec<IngestBatch> {
    let rows = rows.max(1);
    let total = interactions.num_rows();
    let mut batches = Vec::with_capacity(total / rows + 1);
    let mut rejects = Some(rejects);
    let mut offset = 0;
    loop {
        let length = rows.min(total - offset);
        let batch_rejects = rejects.take().unwrap_or_else(|| {
            RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::new(
                crate::schema::reject_fields(),
            )))
        });
        batches.push(IngestBatch {
            interactions: interactions.slice(offset, length),
            rejects: batch_rejects,
        });
        offset += length;
        if offset >= total {
            break;
        }
    }
    batches
}
