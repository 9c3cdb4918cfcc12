//! The Arrow batches of transcript ingest: interactions and rejects.
//!
//! Contract: `interactions` builds one row per `TranscriptRow`, in order, in the schema `canonical_fields`,
//! then `chat_fields` or `call_fields`, then `provenance_fields` of `crate::schema`. `RejectsBuilder` builds
//! the rejects batch (`schema::reject_fields`): the record is the conversation as JSON text when its source is
//! JSON, else the source text as a JSON string.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder, UInt64Builder};
use arrow_array::{
    ArrayRef, Float64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, UInt64Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Schema};

use super::{CallMetrics, Rejected, TranscriptKind, Turn};
use crate::error::Result;
use crate::schema;

/// One accepted conversation with its canonical values.
pub(crate) struct TranscriptRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub timestamp: Option<i64>,
    /// The customer's turns, joined by newlines.
    pub text: String,
    /// Every turn as a `Speaker: text` line.
    pub text_raw: String,
    pub turns: Vec<Turn>,
    /// Set for calls.
    pub metrics: Option<CallMetrics>,
    pub source_file: String,
    pub source_row: u64,
}

/// The schema of the interactions batch of `kind`.
pub(crate) fn interactions_schema(kind: TranscriptKind) -> Schema {
    let mut fields = schema::canonical_fields();
    fields.extend(match kind {
        TranscriptKind::Chat => schema::chat_fields(),
        TranscriptKind::Call => schema::call_fields(),
    });
    fields.extend(schema::provenance_fields());
    Schema::new(fields)
}

/// Rows -> interactions batch; see the module contract.
pub(crate) fn interactions(rows: &[TranscriptRow], kind: TranscriptKind) -> Result<RecordBatch> {
    let strings = |value: fn(&TranscriptRow) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(value).collect::<StringArray>())
    };
    let [inbound, _] = schema::DIRECTIONS;
    let timestamps =
        TimestampMicrosecondArray::from(rows.iter().map(|r| r.timestamp).collect::<Vec<_>>())
            .with_timezone("UTC");
    let mut columns: Vec<ArrayRef> = vec![
        strings(|r| Some(&r.id)),
        strings(|r| r.customer_id.as_deref()),
        Arc::new(StringArray::from(vec![kind.channel(); rows.len()])),
        Arc::new(timestamps),
        Arc::new(StringArray::from(vec![inbound; rows.len()])),
        strings(|r| Some(&r.text)),
        strings(|r| Some(&r.text_raw)),
        turn_lists(rows)?,
    ];
    if kind == TranscriptKind::Call {
        let metric = |value: fn(&CallMetrics) -> Option<f64>| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(|r| r.metrics.as_ref().and_then(value))
                    .collect::<Float64Array>(),
            )
        };
        columns.push(metric(|m| m.duration_seconds));
        columns.push(metric(|m| m.customer_talk_ratio));
        columns.push(metric(|m| m.longest_silence_seconds));
    }
    columns.push(strings(|r| Some(&r.source_file)));
    columns.push(Arc::new(
        rows.iter().map(|r| r.source_row).collect::<UInt64Array>(),
    ));
    Ok(RecordBatch::try_new(
        Arc::new(interactions_schema(kind)),
        columns,
    )?)
}

fn turn_lists(rows: &[TranscriptRow]) -> Result<ArrayRef> {
    let mut lengths = Vec::with_capacity(rows.len());
    let mut speakers = StringBuilder::new();
    let mut roles = StringBuilder::new();
    let mut starts = Float64Builder::new();
    let mut ends = Float64Builder::new();
    let mut texts = StringBuilder::new();
    for row in rows {
        lengths.push(row.turns.len());
        for turn in &row.turns {
            speakers.append_value(&turn.speaker);
            roles.append_value(turn.role.as_str());
            starts.append_option(turn.start_seconds);
            ends.append_option(turn.end_seconds);
            texts.append_value(&turn.text);
        }
    }
    let fields = schema::turn_fields();
    let entries = StructArray::try_new(
        fields.clone(),
        vec![
            Arc::new(speakers.finish()),
            Arc::new(roles.finish()),
            Arc::new(starts.finish()),
            Arc::new(ends.finish()),
            Arc::new(texts.finish()),
        ],
        None,
    )?;
    let list = ListArray::try_new(
        Arc::new(Field::new("item", DataType::Struct(fields), false)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(entries),
        None,
    )?;
    Ok(Arc::new(list))
}

/// Rejected files and conversations.
#[derive(Default)]
pub(crate) struct RejectsBuilder {
    source_file: StringBuilder,
    source_row: UInt64Builder,
    column: StringBuilder,
    reason: StringBuilder,
    record: StringBuilder,
}

impl RejectsBuilder {
    pub fn append(&mut self, source_file: &str, rejected: &Rejected) {
        self.source_file.append_value(source_file);
        self.source_row.append_value(rejected.row);
        self.column.append_option(rejected.column);
        self.reason.append_value(&rejected.reason);
        // A JSON conversation is kept as it is; other text (a subtitle file, broken JSON) as a JSON string.
        let is_json = serde_json::from_str::<serde::de::IgnoredAny>(&rejected.record).is_ok();
        if is_json {
            self.record.append_value(&rejected.record);
        } else {
            // Serialising a string cannot fail; the fallback only keeps this path panic-free.
            let record = serde_json::to_string(&rejected.record)
                .unwrap_or_else(|_| format!("{:?}", rejected.record));
            self.record.append_value(record);
        }
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.source_file.finish()),
            Arc::new(self.source_row.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.record.finish()),
        ];
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(schema::reject_fields())),
            columns,
        )?)
    }
}
