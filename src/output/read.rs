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
