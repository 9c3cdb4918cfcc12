//! Heads on sentence embeddings. Every head reads the same embeddings, computed once per text by `model`.
//!
//! - `zero_shot`: contact reasons by similarity to the pipeline's own descriptions and examples.
//! - `label_names`: the cold start from label names alone, adapted to the unlabelled texts.
//! - `reasons`: a trained head in front of zero-shot, as `enrich` uses them.
//! - `linear`: a trained softmax head (weights, calibration, `unknown` threshold) and its files;
//!   `language_centring` and `language_weights` shape its input per language.
//! - `train`: fitting a linear head on labelled data (`lbfgs` minimises its loss); `cache`: embeddings of
//!   training texts on disk.
//! - `labelled`: labelled data files; `split`: reproducible stratified splits.
//! - `metrics`: accuracy, macro-F1, per-label and out-of-scope figures; `evaluate`: the `eval` command.

pub mod cache;
pub mod evaluate;
pub mod fine_tune;
pub mod label_names;
pub mod labelled;
pub mod language_centring;
pub mod language_weights;
pub mod lbfgs;
pub mod linear;
pub mod metrics;
pub mod reasons;
pub mod sentiment;
pub mod split;
pub mod train;
pub mod zero_shot;

pub use linear::LinearHead;
pub use reasons::ReasonClassifier;
pub use zero_shot::{ReasonColumns, ZeroShot};
