//! The Arrow batch of e-mail interactions (canonical + e-mail + provenance columns).
//!
//! Contract: `interactions` builds one row per `EmailRow`, in order, in the schema `canonical_fields`,
//! `email_fields`, `provenance_fields` of `crate::schema`. Messages are held as rows until then because
//! threading needs all of them before a `conversation_id` can be written. Rejects are built by
//! `ingest::rejects`, with the raw message as a JSON string.

use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt64Builder};
use arrow_array::{
    ArrayRef, ListArray, RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Schema};

use crate::error::Result;
use crate::schema;

use super::parse::ParsedEmail;
use super::thread::ThreadKeys;

/// One accepted message with the canonical values derived from it.
pub(crate) struct EmailRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub direction: Option<&'static str>,
    /// The stripped body.
    pub text: String,
    pub email: ParsedEmail,
    pub source_file: String,
    pub source_row: u64,
}

impl EmailRow {
    pub fn thread_keys(&self) -> ThreadKeys<'_> {
        let email = &self.email;
        let parents = email
            .in_reply_to
            .iter()
            .chain(&email.references)
            .map(String::as_str)
            .collect();
        ThreadKeys {
            id: &self.id,
            message_id: email.message_id.as_deref(),
            parents,
            timestamp: email.timestamp_micros,
        }
    }
}

/// The schema of the interactions batch.
pub(crate) fn interactions_schema() -> Schema {
    let mut fields = schema::canonical_fields();
    fields.extend(schema::email_fields());
    fields.extend(schema::provenance_fields());
    Schema::new(fields)
}

/// Rows -> interactions batch; see the module contract.
pub(crate) fn interactions(rows: &[EmailRow], conversation_ids: &[String]) -> Result<RecordBatch> {
    let strings = |value: fn(&EmailRow) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(value).collect::<StringArray>())
    };
    let [channel_email, ..] = schema::CHANNELS;
    let timestamps = TimestampMicrosecondArray::from(
        rows.iter()
            .map(|r| r.email.timestamp_micros)
            .collect::<Vec<_>>(),
    )
    .with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        strings(|r| Some(&r.id)),
        strings(|r| r.customer_id.as_deref()),
        Arc::new(StringArray::from(vec![channel_email; rows.len()])),
        Arc::new(timestamps),
        strings(|r| r.direction),
        strings(|r| Some(&r.text)),
        strings(|r| Some(&r.email.body)),
        strings(|r| r.email.message_id.as_deref()),
        strings(|r| r.email.in_reply_to.as_deref()),
        string_lists(rows.iter().map(|r| &r.email.references))?,
        Arc::new(
            conversation_ids
                .iter()
                .map(|id| Some(id.as_str()))
                .collect::<StringArray>(),
        ),
        strings(|r| r.email.subject.as_deref()),
        strings(|r| r.email.from.as_deref()),
        string_lists(rows.iter().map(|r| &r.email.to))?,
        attachment_lists(rows)?,
        strings(|r| Some(&r.source_file)),
        Arc::new(rows.iter().map(|r| r.source_row).collect::<UInt64Array>()),
    ];
    Ok(RecordBatch::try_new(
        Arc::new(interactions_schema()),
        columns,
    )?)
}

/// The non-nullable item field of the list columns, as `schema::email_fields` declares it.
fn string_lists<'a>(lists: impl Iterator<Item = &'a Vec<String>>) -> Result<ArrayRef> {
    let mut lengths = Vec::new();
    let mut values = StringBuilder::new();
    for list in lists {
        lengths.push(list.len());
        for value in list {
            values.append_value(value);
        }
    }
    let list = ListArray::try_new(
        schema::list_item(DataType::Utf8),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values.finish()),
        None,
    )?;
    Ok(Arc::new(list))
}

fn attachment_lists(rows: &[EmailRow]) -> Result<ArrayRef> {
    let mut lengths = Vec::new();
    let mut names = StringBuilder::new();
    let mut types = StringBuilder::new();
    let mut sizes = UInt64Builder::new();
    for row in rows {
        lengths.push(row.email.attachments.len());
        for attachment in &row.email.attachments {
            names.append_option(attachment.name.as_deref());
            types.append_value(&attachment.content_type);
            sizes.append_value(attachment.size);
        }
    }
    let fields = schema::attachment_fields();
    let entries = StructArray::try_new(
        fields.clone(),
        vec![
            Arc::new(names.finish()),
            Arc::new(types.finish()),
            Arc::new(sizes.finish()),
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
