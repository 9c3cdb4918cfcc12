//! Finding e-mail files and splitting them into raw messages.
//!
//! Contract:
//! - `expand` takes files (as given, whatever their extension) and folders (searched recursively for `.eml`
//!   and `.mbox` files, hidden entries skipped) and returns a sorted, duplicate-free list. A folder without
//!   e-mail files is an `Error::Input`: reading less than asked for silently is worse than stopping.
//! - `split` turns one file's bytes into its messages, numbered from 1. A `.eml` file is one message; an
//!   optional leading mbox "From " line (as in the SpamAssassin corpus) is dropped. Any other file that starts
//!   with "From " is an mbox: a message starts at each "From " line that opens the file or follows a blank
//!   line, and `>From ` escapes are undone (mboxrd). Any other file is one message.

use std::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Location, Result};

/// Extensions of files taken from folders.
const EXTENSIONS: [&str; 2] = ["eml", "mbox"];

/// One message of a file: its bytes and its 1-based position in the file.
pub(crate) struct RawMessage<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub row: u64,
}

/// Files and folders -> sorted list of e-mail files.
pub(crate) fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let before = files.len();
            collect_folder(input, &mut files)?;
            if files.len() == before {
                return Err(Error::input(
                    Location::file(input),
                    "folder contains no .eml or .mbox file",
                ));
            }
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(Error::input(
                Location::file(input),
                "no such file or folder",
            ));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect_folder(folder: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(folder).at(folder)? {
        let path = entry.at(folder)?.path();
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_folder(&path, found)?;
        } else if has_extension(&path, &EXTENSIONS) {
            found.push(path);
        }
    }
    Ok(())
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// One file's bytes -> its messages; see the module contract.
pub(crate) fn split<'a>(path: &Path, bytes: &'a [u8]) -> Vec<RawMessage<'a>> {
    let is_mbox = bytes.starts_with(b"From ");
    if has_extension(path, &["eml"]) || !is_mbox {
        let body = if is_mbox {
            after_first_line(bytes)
        } else {
            bytes
        };
        return vec![RawMessage {
            bytes: Cow::Borrowed(body),
            row: 1,
        }];
    }
    split_mbox(bytes)
}

fn after_first_line(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => bytes.get(end + 1..).unwrap_or(&[]),
        None => &[],
    }
}

fn split_mbox(bytes: &[u8]) -> Vec<RawMessage<'_>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if previous_blank && line.starts_with(b"From ") {
            if let Some(done) = current.take() {
                messages.push(finish(done, messages.len()));
            }
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = line.iter().all(|b| b.is_ascii_whitespace());
        if let Some(message) = current.as_mut() {
            message.extend_from_slice(unescape_from(line));
        }
    }
    if let Some(done) = current {
        messages.push(finish(done, messages.len()));
    }
    messages
}

/// The mbox separator's blank line belongs to the mbox, not to the message.
fn finish(mut message: Vec<u8>, previous: usize) -> RawMessage<'static> {
    while message.last().is_some_and(|b| b.is_ascii_whitespace()) {
        message.pop();
    }
    message.push(b'\n');
    RawMessage {
        bytes: Cow::Owned(message),
        row: previous as u64 + 1,
    }
}

/// `>From `, `>>From ` ... lose one `>`.
fn unescape_from(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    let escaped = quotes > 0
        && line
            .get(quotes..)
            .is_some_and(|rest| rest.starts_with(b"From "));
    if escaped {
        line.get(1..).unwrap_or(line)
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_splits_on_from_lines_after_blank_lines() {
        let mbox = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom here on, not a separator\n>From escaped\n\nFrom b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody two\n";
        let messages = split(Path::new("box.mbox"), mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0].bytes.as_ref(),
            b"Subject: one\n\nbody\nFrom here on, not a separator\nFrom escaped\n"
        );
        assert_eq!(messages[1].row, 2);
        assert_eq!(messages[1].bytes.as_ref(), b"Subject: two\n\nbody two\n");
    }

    #[test]
    fn eml_is_one_message_without_postmark() {
        let eml = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\nFrom me\n";
        let messages = split(Path::new("a.eml"), eml);
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0].bytes.as_ref(),
            b"Subject: one\n\nbody\n\nFrom me\n"
        );
    }
}
