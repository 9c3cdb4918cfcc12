//! Staged output files and their atomic commit.
//!
//! A staged file is complete and fsynced under a temporary name in the folder of its final path, so that
//! `rename` (atomic within one filesystem) is the only step that makes it visible. Until it is committed
//! it owns its temporary file and removes it when dropped, so a failed run leaves no debris behind and
//! never a half-written file under a final name.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// A temporary file that is removed on drop unless it was renamed into place.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    /// Cleared once the file has been renamed away, so drop leaves it alone.
    owned: bool,
}

impl TempFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        TempFile { path, owned: true }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn rename_to(mut self, final_path: &Path) -> Result<()> {
        fs::rename(&self.path, final_path).at(final_path)?;
        self.owned = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.owned {
            // Best effort: drop cannot report, and a leftover hidden temp file is harmless.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A finished output file waiting under a temporary name for `commit`.
#[derive(Debug)]
pub struct StagedFile {
    temp: TempFile,
    final_path: PathBuf,
    rows: u64,
}

impl StagedFile {
    pub(crate) fn new(temp: TempFile, final_path: PathBuf, rows: u64) -> Self {
        StagedFile {
            temp,
            final_path,
            rows,
        }
    }

    /// Where the file will be visible once committed.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Where the file lies until it is committed.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Data rows in the file.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// Renames every staged file into place, then removes those `stale` paths that exist and were not just
/// written. Returns the committed final paths in the order given.
///
/// Each rename is atomic, so a reader sees either the previous file or the new one under each name. The
/// folders are fsynced afterwards so the renames survive a crash. Stale files are removed last: a crash in
/// between leaves an old extra file, never a missing new one.
pub fn commit(staged: Vec<StagedFile>, stale: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut committed = Vec::with_capacity(staged.len());
    let mut folders = BTreeSet::new();
    for file in staged {
        let StagedFile {
            temp, final_path, ..
        } = file;
        temp.rename_to(&final_path)?;
        folders.insert(parent_folder(&final_path).to_path_buf());
        committed.push(final_path);
    }
    for path in stale.iter().filter(|path| !committed.contains(path)) {
        match fs::remove_file(path) {
            Ok(()) => {
                folders.insert(parent_folder(path).to_path_buf());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::Error::io(path, e)),
        }
    }
    for folder in &folders {
        sync_folder(folder)?;
    }
    Ok(committed)
}

/// The folder holding `path`; a bare file name lives in the current folder.
pub(crate) fn parent_folder(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Makes renames and removals in `folder` durable. Only Unix can open a folder to fsync it; elsewhere the
/// rename itself is the best available.
fn sync_folder(folder: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .at(folder)?;
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}
