//! Parquet files.
//!
//! Contract: the file's Arrow schema and row count come from its footer, so probing is cheap and the row
//! count exact. Columns keep their native types. Rows are numbered from 1 in file order. A file whose footer
//! or data cannot be decoded is an `Error::Input` naming it: unlike a bad text line, a corrupt Parquet page
//! cannot be narrowed down to one row.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{Error, IoContext, Location, Result};

use super::source::{ChunkReader, SourceChunk};

pub(crate) struct ParquetSource {
    pub path: PathBuf,
    pub schema: SchemaRef,
    pub rows: u64,
}

impl ParquetSource {
    pub(crate) fn probe(path: &Path) -> Result<ParquetSource> {
        let builder = open(path)?;
        let rows = builder.metadata().file_metadata().num_rows();
        Ok(ParquetSource {
            path: path.to_path_buf(),
            schema: builder.schema().clone(),
            rows: u64::try_from(rows).unwrap_or(0),
        })
    }

    pub(crate) fn reader(&self, batch_rows: usize) -> Result<ParquetChunkReader> {
        let reader = open(&self.path)?
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| undecodable(&self.path, e))?;
        Ok(ParquetChunkReader {
            path: self.path.clone(),
            reader,
            rows_read: 0,
        })
    }
}

pub(crate) struct ParquetChunkReader {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    rows_read: u64,
}

impl ChunkReader for ParquetChunkReader {
    /// `max_rows` was fixed when the reader was built, as its batch size.
    fn next_chunk(&mut self, _max_rows: usize) -> Result<Option<SourceChunk>> {
        let Some(batch) = self.reader.next() else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| {
            Error::input(
                Location::file(&self.path).row(self.rows_read + 1),
                format!("cannot decode Parquet data: {e}"),
            )
        })?;
        let first = self.rows_read + 1;
        self.rows_read += batch.num_rows() as u64;
        Ok(Some(SourceChunk {
            rows: (first..=self.rows_read).collect(),
            batch,
            rejects: Vec::new(),
        }))
    }
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).at(path)?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| undecodable(path, e))
}

fn undecodable(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::input(
        Location::file(path),
        format!("not a readable Parquet file: {error}"),
    )
}
