//! Writing results: Parquet files with deliberate writer properties, committed atomically.
//!
//! Contract:
//! - `ParquetSink::create(final_path, schema, metadata)` writes to a temporary file beside `final_path`;
//!   `write` streams record batches (row groups bounded, so memory does not grow with the input);
//!   `finish` closes it and returns a `StagedFile` that is not yet visible under its final name.
//! - `commit(staged, stale)` renames every staged file into place and removes `stale` outputs of an earlier
//!   run that this run did not produce (an old rejects.parquet), so a re-run leaves a consistent folder.
//! - A `StagedFile` (or a `ParquetSink`) dropped without commit removes its temporary file.
//! - `StagedWriter` does the same for any other file (CSV, XML, JSON Lines): written beside its final path,
//!   staged by `finish`, visible only after `commit`.
//! - `Spill` writes hidden intermediate Parquet files that are removed when dropped.
//! - `read_parquet` and `file_metadata` read a written file back, for tests and reporting;
//!   `ParquetBatches` streams a file's batches, optionally only some columns.

mod commit;
mod parquet;
mod read;
mod spill;
mod staged;

pub use self::commit::{commit, StagedFile};
pub use self::parquet::{writer_properties, ParquetSink, MAX_ROW_GROUP_BYTES, MAX_ROW_GROUP_ROWS};
pub use self::read::{file_metadata, read_parquet, ParquetBatches};
pub use self::spill::{Spill, SpillReader};
pub use self::staged::StagedWriter;
