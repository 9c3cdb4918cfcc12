//! Readers of tabular interaction files (CSV, JSON Lines, Parquet) into Arrow record batches of the canonical
//! interaction schema (`crate::schema`).
//!
//! Contract:
//! - `discover` expands files, folders (recursively, by extension) and globs into a sorted list of files.
//! - `Interactions::open` reads every file's header/schema up front, so the output schema is fixed before the
//!   first row: the canonical columns, then the union of the sources' other columns (pass-through, their own
//!   types; a name with conflicting types across files becomes Utf8), then `source_file`, `source_row`.
//!   A missing required column (only the text column is required) is an error naming the file and column.
//! - Iterating yields `IngestBatch`es of at most `batch_rows` input rows, each from one file. Every input row
//!   ends up either in `interactions` or in `rejects` (schema `schema::reject_fields`), with the reason and
//!   the column. Nothing holds a whole file in memory.
//!
//! Module layout: `discover` (inputs -> files), `mapping` (column and value mapping), `source` with `csv`,
//! `jsonl` and `parquet` (files -> raw chunks), `layout` (the run's output schema), `timestamp` and
//! `canonical` (raw chunk -> interactions and rejects).

mod canonical;
mod csv;
mod discover;
pub mod email;
mod inputs;
mod jsonl;
mod layout;
mod mapping;
mod parquet;
mod rejects;
mod source;
mod timestamp;
pub mod transcript;

use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{Error, Location, Result};
use crate::pipeline::InputSection;

use canonical::{FileContext, IdRegistry, Rules};
use layout::Layout;
use mapping::ValueMap;
use source::{ChunkReader, Source};

pub use discover::discover;
pub use inputs::{open_inputs, InputFormat, Inputs};
pub use mapping::ColumnMapping;

/// Rows per batch unless the caller says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 1024;

/// Longer texts are rejected unless the pipeline raises the limit: no customer writes a quarter megabyte,
/// and such rows are usually exports gone wrong (a whole mailbox in one field).
pub const DEFAULT_MAX_TEXT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub mapping: ColumnMapping,
    pub batch_rows: usize,
    pub max_text_bytes: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            mapping: ColumnMapping::default(),
            batch_rows: DEFAULT_BATCH_ROWS,
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
        }
    }
}

impl IngestOptions {
    /// Options from a pipeline's `[input]` section, with the default batch size.
    pub fn from_pipeline(input: &InputSection) -> Result<IngestOptions> {
        Ok(IngestOptions {
            mapping: ColumnMapping::from_pipeline(input)?,
            batch_rows: DEFAULT_BATCH_ROWS,
            max_text_bytes: input.max_text_bytes.unwrap_or(DEFAULT_MAX_TEXT_BYTES),
        })
    }
}

/// One batch of one file: the accepted rows in the run's schema and the rejected rows.
pub struct IngestBatch {
    pub interactions: RecordBatch,
    pub rejects: RecordBatch,
}

/// A stream of `IngestBatch`es over all input files, in order.
pub struct Interactions {
    sources: Vec<Source>,
    /// Per file: the path as given, for `source_file` and reject reasons.
    source_files: Vec<String>,
    /// Per file: the file name, for generated ids.
    file_names: Vec<String>,
    layout: Layout,
    rules: Rules,
    batch_rows: usize,
    ids: IdRegistry,
    next_file: usize,
    current: Option<(usize, Box<dyn ChunkReader>)>,
    rows_read: u64,
    rows_rejected: u64,
    failed: bool,
}

impl Interactions {
    /// Reads every file's header or schema and fixes the output schema; reads no data rows yet.
    pub fn open(files: Vec<PathBuf>, options: IngestOptions) -> Result<Interactions> {
        if options.batch_rows == 0 {
            return Err(Error::Usage("batch_rows must be at least 1".to_string()));
        }
        options.mapping.validate()?;
        let sources = files
            .iter()
            .map(|path| Source::probe(path))
            .collect::<Result<Vec<_>>>()?;
        let layout = Layout::build(&sources, &options.mapping)?;
        let source_files = files
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        let file_names = files
            .iter()
            .map(|path| canonical::file_name(path))
            .collect();
        let rules = Rules {
            channels: ValueMap::channels(&options.mapping)?,
            directions: ValueMap::directions(&options.mapping)?,
            max_text_bytes: options.max_text_bytes,
        };
        Ok(Interactions {
            sources,
            source_files,
            file_names,
            layout,
            rules,
            batch_rows: options.batch_rows,
            ids: IdRegistry::default(),
            next_file: 0,
            current: None,
            rows_read: 0,
            rows_rejected: 0,
            failed: false,
        })
    }

    /// The schema of every `interactions` batch.
    pub fn schema(&self) -> SchemaRef {
        self.layout.schema.clone()
    }

    /// Rows in all inputs: exact for Parquet, counted for text formats. For progress bars.
    pub fn rows_hint(&self) -> Option<u64> {
        Some(self.sources.iter().map(Source::rows).sum())
    }

    /// Input rows read so far (accepted plus rejected).
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// Input rows rejected so far.
    pub fn rows_rejected(&self) -> u64 {
        self.rows_rejected
    }

    fn next_batch(&mut self) -> Result<Option<IngestBatch>> {
        loop {
            let (file_index, reader) = match &mut self.current {
                Some((file_index, reader)) => (*file_index, reader),
                None => {
                    let Some(source) = self.sources.get(self.next_file) else {
                        return Ok(None);
                    };
                    let reader = source.reader(self.batch_rows)?;
                    self.current = Some((self.next_file, reader));
                    self.next_file += 1;
                    continue;
                }
            };
            let Some(chunk) = reader.next_chunk(self.batch_rows)? else {
                self.current = None;
                continue;
            };
            if chunk.input_rows() == 0 {
                continue;
            }
            let (Some(plan), Some(source_file), Some(file_name), Some(source)) = (
                self.layout.plans.get(file_index),
                self.source_files.get(file_index),
                self.file_names.get(file_index),
                self.sources.get(file_index),
            ) else {
                return Ok(None);
            };
            let context = FileContext {
                index: file_index,
                source_file,
                file_name,
            };
            let input_rows = chunk.input_rows() as u64;
            let batch = canonical::convert(
                chunk,
                &context,
                plan,
                &self.layout,
                &self.rules,
                &mut self.ids,
                &self.source_files,
            )
            .map_err(|e| with_file(e, source.path()))?;
            self.rows_read += input_rows;
            self.rows_rejected += batch.rejects.num_rows() as u64;
            return Ok(Some(batch));
        }
    }
}

/// Arrow errors surface while converting one file's rows; name that file.
fn with_file(error: Error, path: &std::path::Path) -> Error {
    match error {
        Error::Arrow(e) => Error::input(Location::file(path), e.to_string()),
        other => other,
    }
}

impl Iterator for Interactions {
    type Item = Result<IngestBatch>;

    /// After an error the stream ends: a half-read file cannot be resumed reliably.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_batch() {
            Ok(batch) => batch.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
