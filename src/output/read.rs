//! Reading a Parquet file back: its record batches and its footer's key-value metadata.

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{IoContext, Result};

/// The key under which the Arrow writer stores the serialised Arrow schema; an implementation detail of
/// the format, not metadata a user set.
const ARROW_SCHEMA_KEY: &str = "ARROW:schema";

/// All record batches of the Parquet file at `path`, in file order.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).at(path)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| super::parquet::with_path(path, e))?
        .build()
        .map_err(|e| super::parquet::with_path(path, e))?;
    reader
        .map(|batch| batch.map_err(|e| super::parquet::with_path(path, e)))
        .collect()
}

/// The key-value metadata in the footer of the Parquet file at `path` (the serialised Arrow schema
/// left out), in file order. A missing value reads as an empty string.
pub fn file_metadata(path: &Path) -> Result<Vec<(String, String)>> {
    let file = File::open(path).at(path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| super::parquet::with_path(path, e))?;
    let pairs = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|pairs| {
            pairs
                .iter()
                .filter(|kv| kv.key != ARROW_SCHEMA_KEY)
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Ok(pairs)
}

/// Streams the record batches of a Parquet file, `batch_rows` rows at a time, optionally only the named
/// columns (those the file lacks are left out). Memory is bounded by one batch and one row group's pages.
pub struct ParquetBatches {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    path: std::path::PathBuf,
    rows: u64,
}

impl ParquetBatches {
    pub fn open(
        path: &Path,
        columns: Option<&[&str]>,
        batch_rows: usize,
    ) -> Result<ParquetBatches> {
        let file = File::open(path).at(path)?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| super::parquet::with_path(path, e))?;
        let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let builder = match columns {
            Some(names) => {
                let schema = builder.parquet_schema();
                // Top-level columns by position in the Arrow schema, so nested columns come whole.
                let roots: Vec<usize> = builder
                    .schema()
                    .fields()
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| names.contains(&f.name().as_str()))
                    .map(|(i, _)| i)
                    .collect();
                let mask = parquet::arrow::ProjectionMask::roots(schema, roots);
                builder.with_projection(mask)
            }
            None => builder,
        };
        let reader = builder
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(|e| super::parquet::with_path(path, e))?;
        Ok(ParquetBatches {
            reader,
            path: path.to_path_buf(),
            rows,
        })
    }

    /// Rows in the file (from its footer).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The schema of the batches (the projected columns only).
    pub fn schema(&self) -> arrow_schema::SchemaRef {
        use arrow_array::RecordBatchReader;
        self.reader.schema()
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader
            .next()
            .map(|batch| batch.map_err(|e| super::parquet::with_path(&self.path, e)))
    }
}
