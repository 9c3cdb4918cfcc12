//! Spill files: hidden temporary Parquet files for intermediate data that does not fit the memory budget
//! (journey linking spills interactions partitioned by customer). Written fast (snappy), read back once, and
//! removed when dropped, committed or not.

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::commit::TempFile;
use super::parquet::{create_temp_for, with_path};
use super::read::ParquetBatches;
use crate::error::Result;

/// A spill file being written.
pub struct Spill {
    // Declared before `temp` so the file is closed before the temporary file is removed.
    writer: ArrowWriter<File>,
    temp: TempFile,
    rows: u64,
}

impl Spill {
    /// Opens a hidden temporary file beside `near` (a path in the folder to spill into).
    pub fn create(near: &Path, schema: SchemaRef) -> Result<Spill> {
        let (temp, file) = create_temp_for(near)?;
        // Snappy: the data is read back once, moments later; speed matters more than size.
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(properties))
            .map_err(|e| with_path(temp.path(), e))?;
        Ok(Spill {
            writer,
            temp,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| with_path(self.temp.path(), e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Closes the file and opens it for reading, `batch_rows` at a time.
    pub fn read_back(self, batch_rows: usize) -> Result<SpillReader> {
        let Spill { writer, temp, .. } = self;
        writer.close().map_err(|e| with_path(temp.path(), e))?;
        let batches = ParquetBatches::open(temp.path(), None, batch_rows)?;
        Ok(SpillReader {
            batches,
            _temp: temp,
        })
    }
}

/// A spill file being read; removed when dropped.
pub struct SpillReader {
    batches: ParquetBatches,
    _temp: TempFile,
}

impl Iterator for SpillReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches.next()
    }
}
