//! Labelled data for `train`, `eval` and `split`: texts with their gold label (and optional category), read
//! through `ingest` like any interaction file (CSV, JSON Lines, Parquet).
//!
//! Contract: `LabelledData::read` maps the text column onto the canonical `text` and reads the label (and,
//! when the file has it, the category) from the pass-through columns. Rows `ingest` rejects (empty text,
//! bad channel, ...) are counted in `rejected` and left out; a row with an empty or missing label is an
//! `Error::Input` naming file, row and column, because a silently dropped gold label would bias every
//! figure computed from the file. `table` keeps every accepted row with all its columns, for `split`.

use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::DataType;

use crate::error::{Error, Location, Result};
use crate::ingest::{ColumnMapping, IngestOptions, Interactions};
use crate::schema;

/// Which source columns hold the text, the gold label and the optional category.
#[derive(Debug, Clone)]
pub struct LabelledColumns {
    pub text: String,
    pub label: String,
    /// Read when present in the file; a missing category column is not an error.
    pub category: String,
    /// Rows sharing a value here belong together (see `TrainOptions::groups`); the column must exist when named.
    pub group: Option<String>,
}

impl Default for LabelledColumns {
    fn default() -> Self {
        LabelledColumns {
            text: schema::TEXT.to_string(),
            label: "label".to_string(),
            category: "category".to_string(),
            group: None,
        }
    }
}

/// The accepted rows of one labelled file.
#[derive(Debug, Clone)]
pub struct LabelledData {
    pub path: PathBuf,
    pub texts: Vec<String>,
    pub labels: Vec<String>,
    /// Per row, when the file has the category column.
    pub categories: Option<Vec<String>>,
    /// Per row, when a group column was named ("" where it is empty).
    pub groups: Option<Vec<String>>,
    /// All columns of the accepted rows, in the canonical interaction schema (see `ingest`).
    pub table: RecordBatch,
    /// Rows `ingest` rejected and that are therefore not here.
    pub rejected: u64,
}

impl LabelledData {
    /// Keeps the rows whose `keep` entry is true, in every field alike.
    pub fn retain_rows(&mut self, keep: &[bool]) {
        let mut flags = keep.iter();
        self.texts.retain(|_| *flags.next().unwrap_or(&false));
        let mut flags = keep.iter();
        self.labels.retain(|_| *flags.next().unwrap_or(&false));
        for column in [&mut self.categories, &mut self.groups]
            .into_iter()
            .flatten()
        {
            let mut flags = keep.iter();
            column.retain(|_| *flags.next().unwrap_or(&false));
        }
        let mask = arrow_array::BooleanArray::from(keep.to_vec());
        if let Ok(table) = arrow_select::filter::filter_record_batch(&self.table, &mask) {
            self.table = table;
        }
    }

    pub fn read(path: &Path, columns: &LabelledColumns) -> Result<LabelledData> {
        let mut mapping = ColumnMapping::default();
        mapping
            .columns
            .insert(schema::TEXT.to_string(), columns.text.clone());
        let options = IngestOptions {
            mapping,
            ..IngestOptions::default()
        };
        let reader = Interactions::open(vec![path.to_path_buf()], options)?;
        let schema = reader.schema();
        if schema.index_of(&columns.label).is_err() || columns.label == schema::TEXT {
            return Err(Error::input(
                Location::file(path).column(&columns.label),
                format!(
                    "no label column '{}' (choose one with --label-column)",
                    columns.label
                ),
            ));
        }
        let has_category = schema.index_of(&columns.category).is_ok();
        if let Some(group) = &columns.group {
            if schema.index_of(group).is_err() {
                return Err(Error::input(
                    Location::file(path).column(group),
                    format!("no group column '{group}' (see --group-column)"),
                ));
            }
        }
        let mut batches = Vec::new();
        let mut rejected = 0;
        for batch in reader {
            let batch = batch?;
            rejected += batch.rejects.num_rows() as u64;
            batches.push(batch.interactions);
        }
        let table = arrow_select::concat::concat_batches(&schema, &batches)?;
        let texts = strings(&table, schema::TEXT, path, false)?;
        let labels = strings(&table, &columns.label, path, false)?;
        let categories = if has_category {
            Some(strings(&table, &columns.category, path, true)?)
        } else {
            None
        };
        let groups = match &columns.group {
            Some(group) => Some(strings(&table, group, path, true)?),
            None => None,
        };
        if rejected > 0 {
            log::warn!(
                "{}: {rejected} rows rejected by ingest (e.g. empty text) and left out",
                path.display()
            );
        }
        Ok(LabelledData {
            path: path.to_path_buf(),
            texts,
            labels,
            categories,
            groups,
            table,
            rejected,
        })
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The source row (1-based data row) of accepted row `i`, for messages.
    pub fn source_row(&self, i: usize) -> Option<u64> {
        let rows = self.table.column_by_name(schema::SOURCE_ROW)?;
        let rows = rows.as_any().downcast_ref::<UInt64Array>()?;
        (i < rows.len()).then(|| rows.value(i))
    }
}

/// A column as strings. Empty or null values are an error unless `allow_empty` (then they read as "").
fn strings(
    table: &RecordBatch,
    column: &str,
    path: &Path,
    allow_empty: bool,
) -> Result<Vec<String>> {
    let array = table
        .column_by_name(column)
        .ok_or_else(|| Error::input(Location::file(path).column(column), "column not found"))?;
    let array = arrow_cast::cast(array, &DataType::Utf8)?;
    let array = array
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::input(Location::file(path).column(column), "not readable as text"))?;
    let source_rows = table
        .column_by_name(schema::SOURCE_ROW)
        .and_then(|a| a.as_any().downcast_ref::<UInt64Array>().cloned());
    let mut out = Vec::with_capacity(array.len());
    for i in 0..array.len() {
        let value = if array.is_null(i) {
            ""
        } else {
            array.value(i).trim()
        };
        if value.is_empty() && !allow_empty {
            let mut location = Location::file(path).column(column);
            if let Some(rows) = &source_rows {
                location = location.row(rows.value(i));
            }
            return Err(Error::input(location, "empty value"));
        }
        out.push(value.to_string());
    }
    Ok(out)
}
