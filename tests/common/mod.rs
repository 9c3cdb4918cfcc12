//! Helpers shared by the integration tests that read touchpoint's output.
// Each test crate compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod banking77;

use arrow_array::{Array, RecordBatch, StringArray};

/// The default model (fetched when missing), f32, at its own window.
pub fn default_encoder() -> touchpoint::model::Encoder {
    let location = touchpoint::model::store::resolve("multilingual-e5-small", false, &mut |m| {
        eprintln!("{m}")
    })
    .expect("the default model");
    touchpoint::model::Encoder::load(location, touchpoint::model::Precision::F32, None)
        .expect("load the default model")
}

/// The project root (where `testdata/`, `pipelines/` and `../shared` are found).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A string column over all batches, nulls as `None`.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(column)
                .unwrap_or_else(|| panic!("no column {column}"));
            let a = a
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("string column");
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Rows over all batches.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
