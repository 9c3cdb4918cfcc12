//! CSV files.
//!
//! Contract: the first record is the header (row 0); data rows are numbered from 1. The delimiter is taken
//! from the header line (the most frequent of `,` `;` tab `|`), because Dutch exports are often
//! semicolon-separated. Every column is Utf8. Records are read as bytes so that a field with invalid UTF-8
//! rejects only its own row (naming the column), and a row with the wrong number of fields is rejected
//! rather than misaligned. Blank or duplicate header names are made unique (`column_3`, `name_2`).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use csv::{ByteRecord, ReaderBuilder};

use crate::error::{Error, IoContext, Location, Result};

use super::source::{ChunkReader, RawReject, SourceChunk};

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

pub(crate) struct CsvSource {
    pub path: PathBuf,
    pub schema: SchemaRef,
    pub rows: u64,
    delimiter: u8,
}

impl CsvSource {
    pub(crate) fn probe(path: &Path) -> Result<CsvSource> {
        let delimiter = sniff_delimiter(path)?;
        let mut reader = open(path, delimiter)?;
        let header = reader.byte_headers().map_err(|e| csv_error(path, e))?;
        let names = unique_names(header);
        let schema = Schema::new(
            names
                .iter()
                .map(|name| Field::new(name, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        let mut rows = 0;
        let mut record = ByteRecord::new();
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?
        {
            rows += 1;
        }
        Ok(CsvSource {
            path: path.to_path_buf(),
            schema: Arc::new(schema),
            rows,
            delimiter,
        })
    }

    pub(crate) fn reader(&self) -> Result<CsvChunkReader> {
        let mut reader = open(&self.path, self.delimiter)?;
        // Skip the header: the schema already holds the (deduplicated) names.
        reader
            .byte_headers()
            .map_err(|e| csv_error(&self.path, e))?;
        Ok(CsvChunkReader {
            path: self.path.clone(),
            schema: self.schema.clone(),
            reader,
            row: 0,
        })
    }
}

pub(crate) struct CsvChunkReader {
    path: PathBuf,
    schema: SchemaRef,
    reader: csv::Reader<BufReader<File>>,
    row: u64,
}

impl ChunkReader for CsvChunkReader {
    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<SourceChunk>> {
        let fields = self.schema.fields();
        let mut builders: Vec<StringBuilder> =
            fields.iter().map(|_| StringBuilder::new()).collect();
        let mut rows = Vec::new();
        let mut rejects = Vec::new();
        let mut record = ByteRecord::new();
        while rows.len() + rejects.len() < max_rows {
            let more = self
                .reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !more {
                break;
            }
            self.row += 1;
            if record.len() != fields.len() {
                rejects.push(RawReject {
                    row: self.row,
                    column: None,
                    reason: format!("expected {} fields, found {}", fields.len(), record.len()),
                    record: record_json(&self.schema, &record),
                });
                continue;
            }
            match decode_fields(&self.schema, &record) {
                Ok(values) => {
                    for (builder, value) in builders.iter_mut().zip(values) {
                        builder.append_value(value);
                    }
                    rows.push(self.row);
                }
                Err(column) => rejects.push(RawReject {
                    row: self.row,
                    column: Some(column.clone()),
                    reason: format!("invalid UTF-8 in column '{column}'"),
                    record: record_json(&self.schema, &record),
                }),
            }
        }
        if rows.is_empty() && rejects.is_empty() {
            return Ok(None);
        }
        let columns: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|builder| Arc::new(builder.finish()) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(Some(SourceChunk {
            batch,
            rows,
            rejects,
        }))
    }
}

/// The record's fields as text, or the name of the first column that is not valid UTF-8.
fn decode_fields<'r>(
    schema: &Schema,
    record: &'r ByteRecord,
) -> std::result::Result<Vec<&'r str>, String> {
    record
        .iter()
        .zip(schema.fields())
        .map(|(bytes, field)| std::str::from_utf8(bytes).map_err(|_| field.name().clone()))
        .collect()
}

/// The raw record as a JSON object (header -> text, invalid UTF-8 replaced); fields beyond the header are
/// kept under `column_<n>` so that nothing of a misaligned row is lost.
fn record_json(schema: &Schema, record: &ByteRecord) -> String {
    let mut object = serde_json::Map::new();
    for (index, bytes) in record.iter().enumerate() {
        let key = schema
            .fields()
            .get(index)
            .map(|field| field.name().clone())
            .unwrap_or_else(|| format!("column_{}", index + 1));
        let value = String::from_utf8_lossy(bytes).into_owned();
        object.insert(key, serde_json::Value::String(value));
    }
    serde_json::Value::Object(object).to_string()
}

fn unique_names(header: &ByteRecord) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::with_capacity(header.len());
    for (index, bytes) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(bytes).trim().to_string();
        let base = if name.is_empty() {
            format!("column_{}", index + 1)
        } else {
            name
        };
        let mut candidate = base.clone();
        let mut suffix = 2;
        while !seen.insert(candidate.clone()) {
            candidate = format!("{base}_{suffix}");
            suffix += 1;
        }
        names.push(candidate);
    }
    names
}

fn sniff_delimiter(path: &Path) -> Result<u8> {
    let file = File::open(path).at(path)?;
    let mut first_line = Vec::new();
    BufReader::new(file)
        .take(1 << 20)
        .read_until(b'\n', &mut first_line)
        .at(path)?;
    let count = |delimiter: u8| first_line.iter().filter(|b| **b == delimiter).count();
    let best = DELIMITERS
        .iter()
        .copied()
        .max_by_key(|delimiter| count(*delimiter))
        .filter(|delimiter| count(*delimiter) > 0);
    Ok(best.unwrap_or(b','))
}

fn open(path: &Path, delimiter: u8) -> Result<csv::Reader<BufReader<File>>> {
    let file = File::open(path).at(path)?;
    Ok(ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(BufReader::new(file)))
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    let row = error.position().map(|position| position.record());
    match error.into_kind() {
        csv::ErrorKind::Io(source) => Error::io(path, source),
        other => {
            let mut location = Location::file(path);
            if let Some(row) = row {
                location = location.row(row);
            }
            Error::input(location, format!("cannot read CSV: {other:?}"))
        }
    }
}
