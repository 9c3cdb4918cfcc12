//! touchpoint: batch conversation analytics on customer interactions.
//!
//! Data flows one way through the modules, each adding columns to the canonical interaction schema:
//! `ingest` (files -> record batches) -> `normalize` (text clean-up, language) -> `model` (encoder ->
//! sentence embeddings) -> `classify` (contact reason and lifecycle phase) -> `output` (Parquet, atomic).
//! `journey` links each customer's interactions into journeys and rolls them up on the Life Cycle Model.
//! `pipeline` holds the pipeline file and the runner that streams batches through these stages.

pub mod bench;
pub mod classify;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod journey;
pub mod model;
pub mod normalize;
pub mod output;
pub mod pipeline;
pub mod schema;

pub use error::{Error, Result};

/// The version written into every output file's metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
