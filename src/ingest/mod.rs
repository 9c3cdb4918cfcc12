//! Readers of tabular interaction files (CSV, JSON Lines, Parquet) into Arrow record batches of the canonical
//! interaction schema (`crate::schema`). (Contract; implementation pending.)
//!
//! Contract:
//! - `discover` expands files, folders (recursively, by extension) and globs into a sorted list of files.
//! - `Interactions::open` reads every file's header/schema up front, so the output schema is fixed before the
//!   first row: the canonical columns, then the union of the sources' other columns (pass-through, their own
//!   types; a name with conflicting types across files becomes Utf8), then `source_file`, `source_row`.
//!   A missing required column (only the text column is required) is an error naming the file and column.
//! - Iterating yields `IngestBatch`es of at most `batch_rows` rows. Every input row ends up either in
//!   `interactions` or in `rejects` (schema `schema::reject_fields`), with the reason and the column.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::Result;

/// Canonical column name -> source column name, plus value maps for channel and direction.
#[derive(Debug, Clone)]
pub struct ColumnMapping {
    pub columns: BTreeMap<String, String>,
    pub channels: BTreeMap<String, String>,
    pub directions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub mapping: ColumnMapping,
    pub batch_rows: usize,
    pub max_text_bytes: usize,
}

pub struct IngestBatch {
    pub interactions: RecordBatch,
    pub rejects: RecordBatch,
}

pub fn discover(inputs: &[String]) -> Result<Vec<PathBuf>> {
    let _ = inputs;
    unimplemented!()
}

pub struct Interactions {}

impl Interactions {
    pub fn open(files: Vec<PathBuf>, options: IngestOptions) -> Result<Interactions> {
        let _ = (files, options);
        unimplemented!()
    }
    pub fn schema(&self) -> SchemaRef {
        unimplemented!()
    }
    /// Rows in all inputs: exact for Parquet, counted for text formats. For progress bars.
    pub fn rows_hint(&self) -> Option<u64> {
        None
    }
}

impl Iterator for Interactions {
    type Item = Result<IngestBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}
