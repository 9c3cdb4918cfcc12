//! Writing results: Parquet files with deliberate writer properties, committed atomically.
//!
//! Contract:
//! - `ParquetSink::create(final_path, schema, metadata)` writes to a temporary file beside `final_path`;
//!   `write` streams record batches (row groups bounded, so memory does not grow with the input);
//!   `finish` closes it and returns a `StagedFile` that is not yet visible under its final name.
//! - `commit(staged, stale)` renames every staged file into place and removes `stale` outputs of an earlier
//!   run that this run did not produce (an old rejects.parquet), so a re-run leaves a consistent folder.
//! - A `StagedFile` (or a `ParquetSink`) dropped without commit removes its temporary file.
//! - `read_parquet` and `file_metadata` read a written file back, for tests and reporting.

mod commit;
mod parquet;
mod read;

pub use self::commit::{commit, StagedFile};
pub use self::parquet::{writer_properties, ParquetSink, MAX_ROW_GROUP_BYTES, MAX_ROW_GROUP_ROWS};
pub use self::read::{file_metadata, read_parquet};
