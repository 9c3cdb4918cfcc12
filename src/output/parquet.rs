//! `ParquetSink`: streams record batches into a Parquet file staged beside its final path.
//!
//! The writer properties are chosen for what this tool writes: a few low-cardinality label columns
//! (channel, language, contact reason, ...) next to high-cardinality ids and long free text, read back by
//! data scientists with pandas/polars/DuckDB/Spark.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::commit::{parent_folder, StagedFile, TempFile};
use crate::error::{Error, IoContext, Result};
use crate::schema;

/// Most rows in one row group. Readers parallelise and skip by row group, and the writer buffers a whole
/// row group in memory before encoding it out, so this bounds both the unit of work and the memory.
pub const MAX_ROW_GROUP_ROWS: usize = 64 * 1024;

/// Most (estimated, encoded) bytes buffered for one row group before it is flushed early. Long e-mails
/// reach this long before `MAX_ROW_GROUP_ROWS`; it keeps memory flat whatever the texts' length.
pub const MAX_ROW_GROUP_BYTES: usize = 128 * 1024 * 1024;

/// zstd level 3: zstd's own default, near the best ratio for text at a fraction of the higher levels'
/// cost, and every mainstream Parquet reader decodes zstd.
const ZSTD_LEVEL: i32 = 3;

/// Distinguishes temporary files of sinks in one process writing beside the same final path.
static NEXT_SINK: AtomicU64 = AtomicU64::new(0);

/// The writer properties for a file with `schema` and the caller's key-value `metadata`.
pub fn writer_properties(
    schema: &SchemaRef,
    metadata: Vec<(String, String)>,
) -> Result<WriterProperties> {
    let zstd = ZstdLevel::try_new(ZSTD_LEVEL)?;
    let key_values = metadata
        .into_iter()
        .map(|(key, value)| KeyValue::new(key, value))
        .collect();
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        // Dictionaries pay off only where values repeat. On ids and free text they cost a dictionary page
        // that overflows and falls back to plain encoding anyway, after wasting memory and time; so they
        // are off by default and switched on per low-cardinality column below.
        .set_dictionary_enabled(false)
        // Page-level min/max (the column index) lets readers skip pages when filtering on timestamps,
        // channels or reasons. Text statistics are truncated (64 bytes) so long texts do not bloat the
        // footer.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_statistics_truncate_length(Some(64))
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
        .set_created_by(format!("touchpoint {}", crate::VERSION))
        .set_key_value_metadata(Some(key_values));
    for field in schema.fields() {
        if schema::LOW_CARDINALITY.contains(&field.name().as_str()) {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
        }
    }
    // The writer version stays at the default 1.0 data pages: the newer version saves little here and some
    // readers still in use (older Spark, Hive) cannot read v2 pages.
    Ok(builder.build())
}

/// Streams record batches into a temporary file beside `final_path`; `finish` stages it for `commit`.
/// Dropped unfinished, it removes the temporary file.
pub struct ParquetSink {
    // Declared before `temp` so the file handle is closed before the temporary file is removed.
    writer: ArrowWriter<File>,
    temp: TempFile,
    schema: SchemaRef,
    final_path: PathBuf,
    rows: u64,
}

impl ParquetSink {
    /// Opens a temporary file for `final_path` (creating its folder if needed) and writes the Parquet
    /// header. `metadata` goes into the file footer (tool version, model, pipeline hash, run time, ...).
    pub fn create(
        final_path: &Path,
        schema: SchemaRef,
        metadata: Vec<(String, String)>,
    ) -> Result<ParquetSink> {
        let (temp, file) = create_temp_for(final_path)?;
        let properties = writer_properties(&schema, metadata)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|e| with_path(final_path, e))?;
        Ok(ParquetSink {
            writer,
            temp,
            schema,
            final_path: final_path.to_path_buf(),
            rows: 0,
        })
    }

    /// Appends `batch`, which must have the sink's schema. Row groups are flushed as they fill up.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        check_schema(&self.schema, batch).map_err(|e| with_path(&self.final_path, e))?;
        self.writer
            .write(batch)
            .map_err(|e| with_path(&self.final_path, e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer, flushes and fsyncs the temporary file, and hands it over for `commit`.
    pub fn finish(self) -> Result<StagedFile> {
        let ParquetSink {
            writer,
            temp,
            final_path,
            rows,
            ..
        } = self;
        let file = writer.into_inner().map_err(|e| with_path(&final_path, e))?;
        file.sync_all().at(temp.path())?;
        drop(file);
        Ok(StagedFile::new(temp, final_path, rows))
    }
}

/// Fails unless `batch` has the sink's column names and types, in order. The Arrow writer only matches
/// leaf columns by position and type, so a batch from the wrong stage could otherwise be written under
/// the wrong names or leave a corrupt file. Field metadata and nullability are not compared: a null in a
/// non-nullable column is caught by the writer itself.
fn check_schema(expected: &SchemaRef, batch: &RecordBatch) -> std::result::Result<(), ArrowError> {
    let actual = batch.schema();
    let same = expected.fields().len() == actual.fields().len()
        && expected
            .fields()
            .iter()
            .zip(actual.fields().iter())
            .all(|(e, a)| e.name() == a.name() && e.data_type() == a.data_type());
    if same {
        return Ok(());
    }
    let describe = |schema: &Schema| {
        schema
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(ArrowError::SchemaError(format!(
        "batch columns ({}) differ from the file's ({})",
        describe(&actual),
        describe(expected)
    )))
}

/// `.<name>.<pid>.<n>.tmp` in the folder of `final_path`: hidden, unique per process and sink, and on the
/// same filesystem as the final path so the commit's rename is atomic.
pub(super) fn temp_path_for(final_path: &Path) -> Result<PathBuf> {
    let name = final_path.file_name().ok_or_else(|| {
        Error::io(
            final_path,
            io::Error::new(io::ErrorKind::InvalidInput, "output path has no file name"),
        )
    })?;
    let sink = NEXT_SINK.fetch_add(1, Ordering::Relaxed);
    let temp_name = format!(
        ".{}.{}.{sink}.tmp",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(parent_folder(final_path).join(temp_name))
}

/// Creates the folder of `final_path` and a fresh temporary file for it (`temp_path_for`), opened for
/// writing; the file is removed on drop unless committed.
pub(super) fn create_temp_for(final_path: &Path) -> Result<(TempFile, File)> {
    let folder = parent_folder(final_path);
    fs::create_dir_all(folder).at(folder)?;
    let temp = TempFile::new(temp_path_for(final_path)?);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp.path())
        .at(temp.path())?;
    Ok((temp, file))
}

/// Attaches the file a Parquet or Arrow failure happened in, so the report names it.
pub(crate) fn with_path(
    path: &Path,
    error: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::io(path, io::Error::other(error))
}
