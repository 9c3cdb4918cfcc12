//! Turning one source chunk into canonical interactions and rejects.
//!
//! Contract: every row of the chunk ends up in exactly one of the two batches. A row is rejected, with the
//! source column at fault and a reason, for: empty or blank text; text over `max_text_bytes`; an unknown
//! channel or direction value; an unparseable timestamp; an id seen before in this run (the reason names
//! where). Checks run in that order and the first failing one is reported. A row without an id gets
//! `<file name>:<row>`, which is stable across re-runs. Blank optional values become null. The rejects'
//! `record` is the raw row as JSON object text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, TimestampMicrosecondBuilder, UInt64Builder};
use arrow_array::cast::AsArray;
use arrow_array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_cast::cast;
use arrow_schema::{ArrowError, DataType};
use arrow_select::filter::filter_record_batch;

use crate::error::{Error, Result};
use crate::schema;

use super::layout::{FilePlan, Layout};
use super::mapping::ValueMap;
use super::rejects::RejectsBuilder;
use super::source::{RawReject, SourceChunk};
use super::timestamp::{self, ParsedTimestamp};
use super::IngestBatch;

/// The run-wide rules rows are checked against.
pub(crate) struct Rules {
    pub channels: ValueMap,
    pub directions: ValueMap,
    pub max_text_bytes: usize,
}

/// Every id accepted so far in the run, with where it was first seen (file index, row).
#[derive(Default)]
pub(crate) struct IdRegistry {
    first_seen: HashMap<String, (usize, u64)>,
}

/// The file a chunk comes from.
pub(crate) struct FileContext<'a> {
    pub index: usize,
    /// The path as given, for `source_file`.
    pub source_file: &'a str,
    /// The file name, for generated ids.
    pub file_name: &'a str,
}

/// Text columns of one chunk, read as Utf8 once.
struct TextColumns {
    id: Option<StringArray>,
    customer_id: Option<StringArray>,
    channel: Option<StringArray>,
    direction: Option<StringArray>,
    text: StringArray,
    timestamps: Vec<ParsedTimestamp>,
}

/// A row that passed every check.
struct CanonicalRow<'a> {
    id: String,
    customer_id: Option<&'a str>,
    channel: Option<&'static str>,
    timestamp: Option<i64>,
    direction: Option<&'static str>,
    text: &'a str,
}

/// Why a row was rejected: the source column and the reason.
type RowFault = (String, String);

pub(crate) fn convert(
    chunk: SourceChunk,
    file: &FileContext,
    plan: &FilePlan,
    layout: &Layout,
    rules: &Rules,
    ids: &mut IdRegistry,
    file_names: &[String],
) -> Result<IngestBatch> {
    let batch = &chunk.batch;
    if batch.num_rows() != chunk.rows.len() {
        return Err(Error::Arrow(ArrowError::InvalidArgumentError(format!(
            "{} rows decoded but {} row numbers",
            batch.num_rows(),
            chunk.rows.len()
        ))));
    }
    let columns = read_columns(batch, plan)?;
    let column_name = |index: usize| batch.schema().field(index).name().clone();

    let mut out = CanonicalBuilders::new(batch.num_rows());
    let mut accepted = Vec::with_capacity(batch.num_rows());
    let mut faults: Vec<(u64, RowFault)> = Vec::new();
    for (position, &row) in chunk.rows.iter().enumerate() {
        let checked = check_row(&columns, position, row, file, plan, rules, &column_name).and_then(
            |canonical| register_id(ids, canonical, file, row, plan, &column_name, file_names),
        );
        match checked {
            Ok(canonical) => {
                out.append(&canonical, file.source_file, row);
                accepted.push(true);
            }
            Err(fault) => {
                faults.push((row, fault));
                accepted.push(false);
            }
        }
    }

    let accepted = BooleanArray::from(accepted);
    let interactions = out.finish(batch, plan, layout, &accepted)?;
    let rejects = rejects_batch(chunk.rejects, faults, batch, &accepted, file.source_file)?;
    Ok(IngestBatch {
        interactions,
        rejects,
    })
}

fn read_columns(batch: &RecordBatch, plan: &FilePlan) -> Result<TextColumns> {
    let text_column = |index: Option<usize>| -> Result<Option<StringArray>> {
        index
            .map(|index| {
                let utf8 = cast(batch.column(index), &DataType::Utf8)?;
                Ok(utf8.as_string::<i32>().clone())
            })
            .transpose()
    };
    let canonical = &plan.canonical;
    let timestamps = match canonical.timestamp {
        Some(index) => timestamp::parse_column(batch.column(index))?,
        None => vec![Ok(None); batch.num_rows()],
    };
    Ok(TextColumns {
        id: text_column(canonical.id)?,
        customer_id: text_column(canonical.customer_id)?,
        channel: text_column(canonical.channel)?,
        direction: text_column(canonical.direction)?,
        text: text_column(Some(canonical.text))?
            .unwrap_or_else(|| StringArray::from(Vec::<Option<&str>>::new())),
        timestamps,
    })
}

/// The value at `position`, with blank treated as absent.
fn present(column: Option<&StringArray>, position: usize) -> Option<&str> {
    let column = column?;
    if column.is_null(position) {
        return None;
    }
    Some(column.value(position).trim()).filter(|value| !value.is_empty())
}

fn check_row<'a>(
    columns: &'a TextColumns,
    position: usize,
    row: u64,
    file: &FileContext,
    plan: &FilePlan,
    rules: &Rules,
    column_name: &dyn Fn(usize) -> String,
) -> std::result::Result<CanonicalRow<'a>, RowFault> {
    let canonical = &plan.canonical;
    let text_column = || column_name(canonical.text);
    let text = if columns.text.is_null(position) {
        ""
    } else {
        columns.text.value(position)
    };
    if text.trim().is_empty() {
        return Err((text_column(), "empty text".to_string()));
    }
    if text.len() > rules.max_text_bytes {
        return Err((
            text_column(),
            format!(
                "text is {} bytes, over the limit of {} (max_text_bytes)",
                text.len(),
                rules.max_text_bytes
            ),
        ));
    }
    let lookup = |map: &ValueMap, column: Option<&StringArray>, index: Option<usize>| match (
        present(column, position),
        index,
    ) {
        (Some(raw), Some(index)) => map
            .lookup(raw)
            .map(Some)
            .map_err(|reason| (column_name(index), reason)),
        _ => Ok(None),
    };
    let channel = lookup(&rules.channels, columns.channel.as_ref(), canonical.channel)?;
    let direction = lookup(
        &rules.directions,
        columns.direction.as_ref(),
        canonical.direction,
    )?;
    let timestamp = match columns.timestamps.get(position) {
        Some(Ok(value)) => *value,
        Some(Err(raw)) => {
            let column = canonical.timestamp.map(column_name).unwrap_or_default();
            return Err((column, format!("unparseable timestamp '{raw}'")));
        }
        None => None,
    };
    let id = match present(columns.id.as_ref(), position) {
        Some(id) => id.to_string(),
        None => format!("{}:{row}", file.file_name),
    };
    Ok(CanonicalRow {
        id,
        customer_id: present(columns.customer_id.as_ref(), position),
        channel,
        timestamp,
        direction,
        text,
    })
}

fn register_id<'a>(
    ids: &mut IdRegistry,
    canonical: CanonicalRow<'a>,
    file: &FileContext,
    row: u64,
    plan: &FilePlan,
    column_name: &dyn Fn(usize) -> String,
    file_names: &[String],
) -> std::result::Result<CanonicalRow<'a>, RowFault> {
    if let Some(&(first_file, first_row)) = ids.first_seen.get(&canonical.id) {
        let first_file = file_names
            .get(first_file)
            .map(String::as_str)
            .unwrap_or("?");
        let column = plan
            .canonical
            .id
            .map(column_name)
            .unwrap_or_else(|| schema::ID.to_string());
        return Err((
            column,
            format!(
                "duplicate id '{}', first seen in {first_file} row {first_row}",
                canonical.id
            ),
        ));
    }
    ids.first_seen
        .insert(canonical.id.clone(), (file.index, row));
    Ok(canonical)
}

struct CanonicalBuilders {
    id: StringBuilder,
    customer_id: StringBuilder,
    channel: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    direction: StringBuilder,
    text: StringBuilder,
    source_file: StringBuilder,
    source_row: UInt64Builder,
}

impl CanonicalBuilders {
    fn new(capacity: usize) -> CanonicalBuilders {
        CanonicalBuilders {
            id: StringBuilder::with_capacity(capacity, capacity * 16),
            customer_id: StringBuilder::with_capacity(capacity, capacity * 16),
            channel: StringBuilder::with_capacity(capacity, capacity * 8),
            timestamp: TimestampMicrosecondBuilder::with_capacity(capacity)
                .with_data_type(schema::timestamp_type()),
            direction: StringBuilder::with_capacity(capacity, capacity * 8),
            text: StringBuilder::with_capacity(capacity, capacity * 256),
            source_file: StringBuilder::new(),
            source_row: UInt64Builder::with_capacity(capacity),
        }
    }

    fn append(&mut self, row: &CanonicalRow, source_file: &str, source_row: u64) {
        self.id.append_value(&row.id);
        self.customer_id.append_option(row.customer_id);
        self.channel.append_option(row.channel);
        self.timestamp.append_option(row.timestamp);
        self.direction.append_option(row.direction);
        self.text.append_value(row.text);
        self.source_file.append_value(source_file);
        self.source_row.append_value(source_row);
    }

    fn finish(
        mut self,
        batch: &RecordBatch,
        plan: &FilePlan,
        layout: &Layout,
        accepted: &BooleanArray,
    ) -> Result<RecordBatch> {
        let accepted_rows = accepted.true_count();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.customer_id.finish()),
            Arc::new(self.channel.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.direction.finish()),
            Arc::new(self.text.finish()),
        ];
        let kept = filter_record_batch(batch, accepted)?;
        for (output_index, field) in layout.passthrough.iter().enumerate() {
            let source = plan
                .passthrough
                .iter()
                .find(|(_, output)| *output == output_index)
                .map(|(source, _)| *source);
            let column = match source {
                Some(source) => {
                    let column = kept.column(source);
                    if column.data_type() == field.data_type() {
                        Arc::clone(column)
                    } else {
                        cast(column, field.data_type())?
                    }
                }
                None => new_null_array(field.data_type(), accepted_rows),
            };
            columns.push(column);
        }
        columns.push(Arc::new(self.source_file.finish()));
        columns.push(Arc::new(self.source_row.finish()));
        Ok(RecordBatch::try_new(layout.schema.clone(), columns)?)
    }
}

fn rejects_batch(
    mut rejects: Vec<RawReject>,
    faults: Vec<(u64, RowFault)>,
    batch: &RecordBatch,
    accepted: &BooleanArray,
    source_file: &str,
) -> Result<RecordBatch> {
    if !faults.is_empty() {
        let rejected_mask = arrow_arith_not(accepted);
        let rejected = filter_record_batch(batch, &rejected_mask)?;
        let records = records_as_json(&rejected)?;
        for (position, (row, (column, reason))) in faults.into_iter().enumerate() {
            let record = records
                .get(position)
                .cloned()
                .unwrap_or_else(|| "{}".to_string());
            rejects.push(RawReject {
                row,
                column: Some(column),
                reason,
                record,
            });
        }
    }
    rejects.sort_by_key(|reject| reject.row);

    let mut builder = RejectsBuilder::default();
    for reject in &rejects {
        builder.append(
            source_file,
            reject.row,
            reject.column.as_deref(),
            &reject.reason,
            &reject.record,
        );
    }
    builder.finish()
}

fn arrow_arith_not(mask: &BooleanArray) -> BooleanArray {
    mask.iter()
        .map(|keep| Some(!keep.unwrap_or(false)))
        .collect()
}

/// Each row of `batch` as a JSON object text, in order.
fn records_as_json(batch: &RecordBatch) -> Result<Vec<String>> {
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    let bytes = writer.into_inner();
    let text = String::from_utf8_lossy(&bytes);
    // JSON escapes newlines inside strings, so each line is exactly one record.
    Ok(text.lines().map(str::to_string).collect())
}

/// The file name used in generated ids.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
