//! Heads on sentence embeddings. Every head reads the same embeddings, computed once per text by `model`.
//!
//! - `zero_shot`: contact reasons by similarity to the pipeline's own descriptions and examples.

pub mod zero_shot;

pub use zero_shot::{ReasonColumns, ZeroShot};
