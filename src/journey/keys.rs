//! The key columns linking reads from enriched interactions, as a compact batch per row: where the row is,
//! who, when, through which channel, about what, and its sentiment and survey scores.
//!
//! Contract: [`key_batch`] turns a batch of enriched interactions (any schema with the canonical and
//! enrichment columns; sentiment and conversation columns are used when present) into a batch of
//! [`key_schema`], keeping only rows with a customer id and a timestamp. [`KeyColumns::touch`] reads one row
//! back as a [`Touch`].

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::linker::Touch;
use super::scores::{Scores, SurveyScores};
use crate::error::{Error, Result};
use crate::schema;

const ROW: &str = "row";

/// The enriched columns linking reads; those a batch lacks are null.
pub const KEY_SOURCE_COLUMNS: [&str; 10] = [
    schema::ID,
    schema::CUSTOMER_ID,
    schema::TIMESTAMP,
    schema::CHANNEL,
    schema::DIRECTION,
    schema::CONTACT_REASON,
    schema::LIFECYCLE_PHASE,
    schema::CONVERSATION_ID,
    schema::SENTIMENT,
    schema::SENTIMENT_SCORE,
];

/// The spilled key rows: the row's position in the run's output, then the linking keys (timestamps as UTC
/// microseconds), then the survey scores joined onto the row.
pub fn key_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let float = |name: &str| Field::new(name, DataType::Float32, true);
    Arc::new(Schema::new(vec![
        Field::new(ROW, DataType::UInt64, false),
        utf8(schema::ID, false),
        utf8(schema::CUSTOMER_ID, false),
        Field::new(schema::TIMESTAMP, DataType::Int64, false),
        utf8(schema::CHANNEL, true),
        utf8(schema::DIRECTION, true),
        utf8(schema::CONTACT_REASON, false),
        utf8(schema::LIFECYCLE_PHASE, true),
        utf8(schema::CONVERSATION_ID, true),
        utf8(schema::SENTIMENT, true),
        float(schema::SENTIMENT_SCORE),
        float(schema::NPS),
        float(schema::CES),
        float(schema::CSAT),
    ]))
}

/// A string column by name, `None` when the batch lacks it.
pub(crate) fn string_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Option<&'a StringArray>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(column) => column
            .as_any()
            .downcast_ref::<StringArray>()
            .map(Some)
            .ok_or_else(|| type_error(name, column.data_type(), "Utf8")),
    }
}

pub(crate) fn float_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Option<&'a Float32Array>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(column) => column
            .as_any()
            .downcast_ref::<Float32Array>()
            .map(Some)
            .ok_or_else(|| type_error(name, column.data_type(), "Float32")),
    }
}

fn type_error(name: &str, actual: &DataType, expected: &str) -> Error {
    Error::Arrow(arrow_schema::ArrowError::SchemaError(format!(
        "column '{name}' is {actual}, linking expects {expected}"
    )))
}

pub(crate) fn value(column: Option<&StringArray>, row: usize) -> Option<&str> {
    column.filter(|c| c.is_valid(row)).map(|c| c.value(row))
}

/// The survey scores of each row of an enriched batch (all `None` without a scores file).
pub fn row_scores(batch: &RecordBatch, scores: Option<&SurveyScores>) -> Result<Vec<Scores>> {
    let Some(scores) = scores else {
        return Ok(vec![Scores::default(); batch.num_rows()]);
    };
    let ids = string_column(batch, schema::ID)?;
    let conversations = string_column(batch, schema::CONVERSATION_ID)?;
    let customers = string_column(batch, schema::CUSTOMER_ID)?;
    Ok((0..batch.num_rows())
        .map(|row| {
            scores.lookup(
                value(ids, row),
                value(conversations, row),
                value(customers, row),
            )
        })
        .collect())
}

/// The key rows of `batch`, whose first row is row `first_row` of the run; rows without a customer id or a
/// timestamp are left out (they cannot be placed in a customer's history). Also returns the latest timestamp.
pub fn key_batch(
    batch: &RecordBatch,
    first_row: u64,
    scores: Option<&SurveyScores>,
) -> Result<(RecordBatch, Option<i64>)> {
    let customers = string_column(batch, schema::CUSTOMER_ID)?;
    let timestamps = match batch.column_by_name(schema::TIMESTAMP) {
        None => None,
        Some(column) => Some(
            column
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| {
                    type_error(schema::TIMESTAMP, column.data_type(), "Timestamp(µs, UTC)")
                })?,
        ),
    };
    let (Some(customers), Some(timestamps)) = (customers, timestamps) else {
        return Ok((RecordBatch::new_empty(key_schema()), None));
    };
    let keep: Vec<u32> = (0..batch.num_rows())
        .filter(|&row| customers.is_valid(row) && timestamps.is_valid(row))
        .map(|row| row as u32)
        .collect();
    let latest = keep.iter().map(|&row| timestamps.value(row as usize)).max();
    let take_strings = |name: &str| -> Result<ArrayRef> {
        let column = string_column(batch, name)?;
        Ok(Arc::new(
            keep.iter()
                .map(|&row| value(column, row as usize))
                .collect::<StringArray>(),
        ))
    };
    let take_floats = |column: Option<&Float32Array>| -> ArrayRef {
        Arc::new(
            keep.iter()
                .map(|&row| {
                    column
                        .filter(|c| c.is_valid(row as usize))
                        .map(|c| c.value(row as usize))
                })
                .collect::<Float32Array>(),
        )
    };
    let reasons = string_column(batch, schema::CONTACT_REASON)?;
    let row_scores = row_scores(batch, scores)?;
    let score = |pick: fn(&Scores) -> Option<f32>| -> ArrayRef {
        Arc::new(
            keep.iter()
                .map(|&row| pick(&row_scores[row as usize]))
                .collect::<Float32Array>(),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(
            keep.iter().map(|&row| first_row + u64::from(row)),
        )),
        take_strings(schema::ID)?,
        Arc::new(StringArray::from_iter_values(
            keep.iter().map(|&row| customers.value(row as usize)),
        )),
        Arc::new(Int64Array::from_iter_values(
            keep.iter().map(|&row| timestamps.value(row as usize)),
        )),
        take_strings(schema::CHANNEL)?,
        take_strings(schema::DIRECTION)?,
        // A row without a reason (never written by enrich) links as `unknown`.
        Arc::new(StringArray::from_iter_values(keep.iter().map(|&row| {
            value(reasons, row as usize).unwrap_or(schema::UNKNOWN_REASON)
        }))),
        take_strings(schema::LIFECYCLE_PHASE)?,
        take_strings(schema::CONVERSATION_ID)?,
        take_strings(schema::SENTIMENT)?,
        take_floats(float_column(batch, schema::SENTIMENT_SCORE)?),
        score(|s| s.nps),
        score(|s| s.ces),
        score(|s| s.csat),
    ];
    Ok((RecordBatch::try_new(key_schema(), columns)?, latest))
}

/// Typed access to a key batch.
pub struct KeyColumns<'a> {
    rows: &'a UInt64Array,
    ids: &'a StringArray,
    customers: &'a StringArray,
    at: &'a Int64Array,
    channels: &'a StringArray,
    directions: &'a StringArray,
    reasons: &'a StringArray,
    phases: &'a StringArray,
    conversations: &'a StringArray,
    sentiments: &'a StringArray,
    sentiment_scores: &'a Float32Array,
    scores: [&'a Float32Array; 3],
}

fn column<T: 'static>(batch: &RecordBatch, index: usize) -> Result<&T> {
    batch
        .column(index)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| {
            type_error(
                batch.schema().field(index).name(),
                batch.column(index).data_type(),
                "the key schema's type",
            )
        })
}

impl<'a> KeyColumns<'a> {
    /// `batch` must have [`key_schema`].
    pub fn new(batch: &'a RecordBatch) -> Result<KeyColumns<'a>> {
        Ok(KeyColumns {
            rows: column(batch, 0)?,
            ids: column(batch, 1)?,
            customers: column(batch, 2)?,
            at: column(batch, 3)?,
            channels: column(batch, 4)?,
            directions: column(batch, 5)?,
            reasons: column(batch, 6)?,
            phases: column(batch, 7)?,
            conversations: column(batch, 8)?,
            sentiments: column(batch, 9)?,
            sentiment_scores: column(batch, 10)?,
            scores: [column(batch, 11)?, column(batch, 12)?, column(batch, 13)?],
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn customer(&self, i: usize) -> &'a str {
        self.customers.value(i)
    }

    pub fn at(&self, i: usize) -> i64 {
        self.at.value(i)
    }

    pub fn id(&self, i: usize) -> &'a str {
        self.ids.value(i)
    }

    pub fn touch(&self, i: usize) -> Touch<'a> {
        let text = |c: &'a StringArray| c.is_valid(i).then(|| c.value(i));
        let float = |c: &'a Float32Array| c.is_valid(i).then(|| c.value(i));
        Touch {
            row: self.rows.value(i),
            id: self.ids.value(i),
            at: self.at.value(i),
            channel: text(self.channels),
            direction: text(self.directions),
            reason: self.reasons.value(i),
            phase: text(self.phases),
            conversation: text(self.conversations),
            sentiment: text(self.sentiments),
            sentiment_score: float(self.sentiment_scores),
            scores: Scores {
                nps: float(self.scores[0]),
                ces: float(self.scores[1]),
                csat: float(self.scores[2]),
            },
        }
    }
}
