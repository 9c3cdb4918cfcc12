//! `StagedWriter`: a buffered file written beside its final path and staged for `commit`, for outputs that are
//! not Parquet (CSV, XES, JSON Lines state).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::commit::{StagedFile, TempFile};
use super::parquet::create_temp_for;
use crate::error::{IoContext, Result};

/// Writes go to a hidden temporary file; `finish` flushes and fsyncs it and hands it over for `commit`.
/// Dropped unfinished, it removes the temporary file.
pub struct StagedWriter {
    // Declared before `temp` so the file is closed before the temporary file is removed.
    file: BufWriter<File>,
    temp: TempFile,
    final_path: PathBuf,
}

impl StagedWriter {
    /// Opens a temporary file for `final_path`, creating its folder if needed.
    pub fn create(final_path: &Path) -> Result<StagedWriter> {
        let (temp, file) = create_temp_for(final_path)?;
        Ok(StagedWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            temp,
            final_path: final_path.to_path_buf(),
        })
    }

    /// Where the file will be visible once committed; name it in errors.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// The buffered writer. Its I/O errors carry no path; report them with `final_path`.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.file
    }

    /// Flushes and fsyncs the file and stages it; `rows` is what `StagedFile::rows` reports.
    pub fn finish(self, rows: u64) -> Result<StagedFile> {
        let StagedWriter {
            file,
            temp,
            final_path,
        } = self;
        let file = file
            .into_inner()
            .map_err(|e| crate::Error::io(&final_path, e.into_error()))?;
        file.sync_all().at(temp.path())?;
        drop(file);
        Ok(StagedFile::new(temp, final_path, rows))
    }
}

impl Write for StagedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
