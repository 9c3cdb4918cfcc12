//! JSON Lines files (`.jsonl`, `.ndjson`, `.json` with one object per line).
//!
//! Contract: each non-blank line is one row, numbered by its line number (1-based). Probing reads the whole
//! file once to infer the column types with arrow-json (nested objects and arrays allowed) and to count rows;
//! keys keep the order of their first appearance. If the types of a key cannot be reconciled (an object in
//! one row, a number in another), nested values of that file are carried as JSON text instead. A line that is
//! not valid UTF-8, not valid JSON or not a JSON object rejects only its own row; its record is
//! `{"line": <the raw line>}`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::reader::{infer_json_schema_from_iterator, Decoder, ReaderBuilder};
use arrow_schema::{ArrowError, Schema, SchemaRef};
use serde_json::{Map, Value};

use crate::error::{Error, IoContext, Location, Result};

use super::source::{ChunkReader, RawReject, SourceChunk};

pub(crate) struct JsonLinesSource {
    pub path: PathBuf,
    pub schema: SchemaRef,
    pub rows: u64,
    /// Nested values are passed as JSON text, because their types conflict within the file.
    nested_as_text: bool,
}

/// One line of the file, classified.
enum Line {
    Blank,
    Object(Map<String, Value>),
    Rejected(RawReject),
}

impl JsonLinesSource {
    pub(crate) fn probe(path: &Path) -> Result<JsonLinesSource> {
        let ((schema, rows), nested_as_text) = match infer(path, false)? {
            Ok(inferred) => (inferred, false),
            Err(_) => match infer(path, true)? {
                Ok(inferred) => (inferred, true),
                Err(e) => {
                    return Err(Error::input(
                        Location::file(path),
                        format!("cannot infer column types: {e}"),
                    ))
                }
            },
        };
        Ok(JsonLinesSource {
            path: path.to_path_buf(),
            schema: Arc::new(schema),
            rows,
            nested_as_text,
        })
    }

    pub(crate) fn reader(&self) -> Result<JsonLinesChunkReader> {
        let file = File::open(&self.path).at(&self.path)?;
        let decoder = ReaderBuilder::new(self.schema.clone())
            .with_coerce_primitive(true)
            .build_decoder()?;
        Ok(JsonLinesChunkReader {
            path: self.path.clone(),
            schema: self.schema.clone(),
            lines: BufReader::new(file),
            decoder,
            line_number: 0,
            nested_as_text: self.nested_as_text,
        })
    }
}

/// One streaming pass over the file: the inferred schema (or why it cannot be inferred) and the number of
/// rows. I/O errors are the outer error; they end the run, a type conflict does not.
fn infer(
    path: &Path,
    nested_as_text: bool,
) -> Result<std::result::Result<(Schema, u64), ArrowError>> {
    let file = File::open(path).at(path)?;
    let mut lines = BufReader::new(file);
    let mut buffer = Vec::new();
    let mut line_number = 0;
    let mut rows = 0u64;
    let mut key_order = Vec::new();
    let mut seen_keys = HashSet::new();
    let mut io_error = None;
    let objects = std::iter::from_fn(|| loop {
        buffer.clear();
        match lines.read_until(b'\n', &mut buffer) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                io_error = Some(e);
                return None;
            }
        }
        line_number += 1;
        match classify(&buffer, line_number) {
            Line::Blank => {}
            Line::Rejected(_) => rows += 1,
            Line::Object(object) => {
                rows += 1;
                for key in object.keys() {
                    if seen_keys.insert(key.clone()) {
                        key_order.push(key.clone());
                    }
                }
                return Some(Ok(Value::Object(prepare(object, nested_as_text))));
            }
        }
    });
    let inferred = infer_json_schema_from_iterator(objects);
    if let Some(e) = io_error {
        return Err(Error::io(path, e));
    }
    let inferred = match inferred {
        Ok(inferred) => inferred,
        Err(e) => return Ok(Err(e)),
    };
    // arrow-json returns the fields in hash order; keep the file's own order instead.
    let ordered = key_order
        .iter()
        .filter_map(|key| inferred.field_with_name(key).ok().cloned())
        .collect::<Vec<_>>();
    Ok(Ok((Schema::new(ordered), rows)))
}

pub(crate) struct JsonLinesChunkReader {
    path: PathBuf,
    schema: SchemaRef,
    lines: BufReader<File>,
    decoder: Decoder,
    line_number: u64,
    nested_as_text: bool,
}

impl ChunkReader for JsonLinesChunkReader {
    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<SourceChunk>> {
        let mut objects = Vec::new();
        let mut rows = Vec::new();
        let mut rejects = Vec::new();
        let mut buffer = Vec::new();
        while rows.len() + rejects.len() < max_rows {
            buffer.clear();
            if self.lines.read_until(b'\n', &mut buffer).at(&self.path)? == 0 {
                break;
            }
            self.line_number += 1;
            match classify(&buffer, self.line_number) {
                Line::Blank => {}
                Line::Rejected(reject) => rejects.push(reject),
                Line::Object(object) => {
                    objects.push(Value::Object(prepare(object, self.nested_as_text)));
                    rows.push(self.line_number);
                }
            }
        }
        if rows.is_empty() && rejects.is_empty() {
            return Ok(None);
        }
        self.decoder.serialize(&objects).map_err(|e| {
            Error::input(
                Location::file(&self.path),
                format!("cannot decode JSON lines: {e}"),
            )
        })?;
        let batch = match self.decoder.flush()? {
            Some(batch) => batch,
            None => RecordBatch::new_empty(self.schema.clone()),
        };
        Ok(Some(SourceChunk {
            batch,
            rows,
            rejects,
        }))
    }
}

fn classify(bytes: &[u8], line_number: u64) -> Line {
    let reject = |reason: String, raw: String| {
        Line::Rejected(RawReject {
            row: line_number,
            column: None,
            reason,
            record: serde_json::json!({ "line": raw }).to_string(),
        })
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.trim(),
        Err(_) => {
            let raw = String::from_utf8_lossy(bytes).trim().to_string();
            return reject("invalid UTF-8".to_string(), raw);
        }
    };
    if text.is_empty() {
        return Line::Blank;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Line::Object(object),
        Ok(other) => reject(
            format!("not a JSON object (found {})", json_kind(&other)),
            text.to_string(),
        ),
        Err(e) => reject(format!("invalid JSON: {e}"), text.to_string()),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// In nested-as-text mode objects and arrays become their JSON text, so that every value is a scalar.
fn prepare(object: Map<String, Value>, nested_as_text: bool) -> Map<String, Value> {
    if !nested_as_text {
        return object;
    }
    object
        .into_iter()
        .map(|(key, value)| match value {
            Value::Object(_) | Value::Array(_) => (key, Value::String(value.to_string())),
            scalar => (key, scalar),
        })
        .collect()
}
