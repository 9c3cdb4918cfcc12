//! One entry point for every kind of input `enrich` reads: tabular files (CSV, JSON Lines, Parquet) or raw
//! e-mail (`.eml`, mbox).
//!
//! Contract: `open_inputs` decides the format (`Auto`: e-mail when every input is an `.eml` / `.mbox` file,
//! tabular otherwise; folders are read as tabular unless the format is `Email`), opens the readers, and returns
//! the fixed output schema, a row count for progress, and the stream of `IngestBatch`es. One run reads one kind:
//! tabular and e-mail rows have different columns, so mixing them is a usage error rather than a guess.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::email::{read_emails, EmailOptions};
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
}

/// Opened inputs, ready to stream.
pub struct Inputs {
    pub schema: SchemaRef,
    pub rows_hint: Option<u64>,
    pub batches: Box<dyn Iterator<Item = Result<IngestBatch>>>,
}

fn is_email_file(input: &str) -> bool {
    let extension = Path::new(input)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    matches!(extension.as_deref(), Some("eml" | "mbox"))
}

pub fn open_inputs(
    inputs: &[String],
    format: InputFormat,
    tabular: IngestOptions,
    email: &EmailOptions,
) -> Result<Inputs> {
    let emails = inputs.iter().filter(|i| is_email_file(i)).count();
    let format = match format {
        InputFormat::Auto if emails == 0 => InputFormat::Tabular,
        InputFormat::Auto if emails == inputs.len() => InputFormat::Email,
        InputFormat::Auto => return Err(Error::Usage(
            "the inputs mix e-mail (.eml/.mbox) and tabular files; enrich them in separate runs"
                .into(),
        )),
        explicit => explicit,
    };
    match format {
        InputFormat::Email => {
            let paths: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
            let (interactions, rejects) = read_emails(&paths, email)?;
            Ok(Inputs {
                schema: interactions.schema(),
                rows_hint: Some((interactions.num_rows() + rejects.num_rows()) as u64),
                batches: Box::new(
                    slices(interactions, rejects, tabular.batch_rows)
                        .into_iter()
                        .map(Ok),
                ),
            })
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

/// Cuts one read of e-mail into batches of at most `rows` rows (zero-copy slices); the rejects travel with
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
