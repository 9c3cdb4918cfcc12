//! Expanding the user's inputs into the list of files to read.
//!
//! Contract: every input is a file (taken as given, whatever its extension), a folder (searched recursively
//! for files with a known extension) or a glob pattern (crate `glob`; only files with a known extension are
//! kept). The result is sorted and free of duplicates, so that a run reads the same files in the same order
//! every time. An input that names nothing (a missing path, an empty folder, a pattern without matches) is an
//! `Error::Input` naming it, because silently reading less than the user asked for is worse than stopping.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Location, Result};

use super::source::Format;

/// Files, folders and glob patterns -> sorted, deduplicated list of input files.
pub fn discover(inputs: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let found = expand(input)?;
        if found.is_empty() {
            return Err(Error::input(
                Location::file(input),
                "matches no .csv, .jsonl, .ndjson, .json or .parquet file",
            ));
        }
        files.extend(found);
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn expand(input: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(input);
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if path.is_dir() {
        let mut found = Vec::new();
        collect_folder(path, &mut found)?;
        return Ok(found);
    }
    if is_glob(input) {
        return expand_glob(input);
    }
    Err(Error::input(
        Location::file(input),
        "no such file, folder or pattern",
    ))
}

fn is_glob(input: &str) -> bool {
    input.contains(['*', '?', '['])
}

fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>> {
    // Hidden files only match a pattern that spells out the leading dot, as in a shell.
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    let paths = glob::glob_with(pattern, options).map_err(|e| {
        Error::input(
            Location::file(pattern),
            format!("invalid glob pattern: {e}"),
        )
    })?;
    let mut found = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| {
            let path = e.path().to_path_buf();
            Error::io(path, e.into())
        })?;
        if path.is_dir() {
            collect_folder(&path, &mut found)?;
        } else if Format::from_path(&path).is_some() {
            found.push(path);
        }
    }
    Ok(found)
}

fn collect_folder(folder: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(folder).at(folder)? {
        let path = entry.at(folder)?.path();
        // Hidden files and folders (.git, macOS ._ resource forks) are never interaction data.
        if is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            collect_folder(&path, found)?;
        } else if Format::from_path(&path).is_some() {
            found.push(path);
        }
    }
    Ok(())
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'))
}
