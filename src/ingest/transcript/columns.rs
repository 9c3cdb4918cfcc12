//! The Arrow batch of transcript interactions.
//!
//! Contract: `interactions` builds one row per `TranscriptRow`, in order, in the schema `canonical_fields`,
//! then `chat_fields` or `call_fields`, then `provenance_fields` of `crate::schema`. Rejects are built
//! by `ingest::rejects`: the record is the conversation as JSON text when its source is JSON, else the source
//! text as a JSON string.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, UInt64Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Schema};

use super::{CallMetrics, TranscriptKind, Turn};
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
        schema::list_item(DataType::Struct(fields)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(entries),
        None,
    )?;
    Ok(Arc::new(list))
}
