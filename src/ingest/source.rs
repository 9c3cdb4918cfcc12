//! What every format reader provides, so that the rest of ingest does not care about formats.
//!
//! Contract: `Source::probe` reads a file's header or schema (and, for text formats, counts its records)
//! without keeping the file open; `Source::reader` then streams it as `SourceChunk`s of at most `max_rows`
//! input rows each. A chunk holds the rows that could be decoded, as a batch in the file's own schema with
//! their 1-based row numbers, and the rows that could not (invalid UTF-8, wrong field count, not a JSON
//! object) as `RawReject`s. Every input row is in exactly one of the two.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::Result;

use super::{csv, jsonl, parquet};

/// The input formats, recognised by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    JsonLines,
    Parquet,
}

impl Format {
    pub(crate) fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// A row a reader could not decode, with the column at fault where known and the raw row as JSON object text.
#[derive(Debug, Clone)]
pub(crate) struct RawReject {
    pub row: u64,
    pub column: Option<String>,
    pub reason: String,
    pub record: String,
}

/// Up to `max_rows` consecutive input rows of one file.
pub(crate) struct SourceChunk {
    /// The decoded rows, in the file's own schema.
    pub batch: RecordBatch,
    /// The 1-based row number of each row of `batch`.
    pub rows: Vec<u64>,
    pub rejects: Vec<RawReject>,
}

impl SourceChunk {
    pub(crate) fn input_rows(&self) -> usize {
        self.rows.len() + self.rejects.len()
    }
}

pub(crate) trait ChunkReader {
    /// The next chunk, or `None` at the end of the file.
    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<SourceChunk>>;
}

/// A probed input file: its schema and what is needed to read it.
pub(crate) enum Source {
    Csv(csv::CsvSource),
    JsonLines(jsonl::JsonLinesSource),
    Parquet(parquet::ParquetSource),
}

impl Source {
    /// Reads the header or schema of `path`; a file in no known format is read as CSV.
    pub(crate) fn probe(path: &Path) -> Result<Source> {
        match Format::from_path(path).unwrap_or(Format::Csv) {
            Format::Csv => csv::CsvSource::probe(path).map(Source::Csv),
            Format::JsonLines => jsonl::JsonLinesSource::probe(path).map(Source::JsonLines),
            Format::Parquet => parquet::ParquetSource::probe(path).map(Source::Parquet),
        }
    }

    pub(crate) fn path(&self) -> &PathBuf {
        match self {
            Source::Csv(source) => &source.path,
            Source::JsonLines(source) => &source.path,
            Source::Parquet(source) => &source.path,
        }
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        match self {
            Source::Csv(source) => source.schema.clone(),
            Source::JsonLines(source) => source.schema.clone(),
            Source::Parquet(source) => source.schema.clone(),
        }
    }

    pub(crate) fn rows(&self) -> u64 {
        match self {
            Source::Csv(source) => source.rows,
            Source::JsonLines(source) => source.rows,
            Source::Parquet(source) => source.rows,
        }
    }

    pub(crate) fn reader(&self, batch_rows: usize) -> Result<Box<dyn ChunkReader>> {
        Ok(match self {
            Source::Csv(source) => Box::new(source.reader()?),
            Source::JsonLines(source) => Box::new(source.reader()?),
            Source::Parquet(source) => Box::new(source.reader(batch_rows)?),
        })
    }
}
