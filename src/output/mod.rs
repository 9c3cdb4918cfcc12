//! Writing results: Parquet files with deliberate writer properties, committed atomically.
//! (Contract; implementation pending.)
//!
//! Contract:
//! - `ParquetSink::create(final_path, schema, metadata)` writes to a temporary file beside `final_path`;
//!   `write` streams record batches (row groups bounded, so memory does not grow with the input);
//!   `finish` closes it and returns a `StagedFile` that is not yet visible under its final name.
//! - `commit(staged, stale)` renames every staged file into place and removes `stale` outputs of an earlier
//!   run that this run did not produce (an old rejects.parquet), so a re-run leaves a consistent folder.
//! - A `StagedFile` dropped without commit removes its temporary file.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::Result;

pub struct ParquetSink {}

pub struct StagedFile {}

impl ParquetSink {
    pub fn create(
        final_path: &Path,
        schema: SchemaRef,
        metadata: Vec<(String, String)>,
    ) -> Result<ParquetSink> {
        let _ = (final_path, schema, metadata);
        unimplemented!()
    }
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let _ = batch;
        unimplemented!()
    }
    pub fn rows(&self) -> u64 {
        unimplemented!()
    }
    pub fn finish(self) -> Result<StagedFile> {
        unimplemented!()
    }
}

pub fn commit(staged: Vec<StagedFile>, stale: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let _ = (staged, stale);
    unimplemented!()
}
