//! The rejects batch every reader builds: one row per rejected input row, in `schema::reject_fields` order
//! (source file, source row, the column at fault, the reason, and the raw record as JSON text so that nothing
//! of the row is lost).

use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Schema;

use crate::error::Result;
use crate::schema;

#[derive(Default)]
pub(crate) struct RejectsBuilder {
    source_file: StringBuilder,
    source_row: UInt64Builder,
    column: StringBuilder,
    reason: StringBuilder,
    record: StringBuilder,
}

impl RejectsBuilder {
    /// Adds a reject whose `record` is already JSON text.
    pub fn append(
        &mut self,
        source_file: &str,
        source_row: u64,
        column: Option<&str>,
        reason: &str,
        record: &str,
    ) {
        self.source_file.append_value(source_file);
        self.source_row.append_value(source_row);
        self.column.append_option(column);
        self.reason.append_value(reason);
        self.record.append_value(record);
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

/// Raw text as a JSON record: kept as it is when it already is JSON, else as a JSON string.
pub(crate) fn json_record(raw: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(raw).is_ok() {
        return raw.to_string();
    }
    json_string(raw)
}

/// Any text as a JSON string.
pub(crate) fn json_string(raw: &str) -> String {
    // Serialising a string cannot fail; the fallback only keeps this path panic-free.
    serde_json::to_string(raw).unwrap_or_else(|_| format!("{raw:?}"))
}
