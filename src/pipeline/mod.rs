//! The pipeline file: what a run classifies into and how.
//!
//! A pipeline is a TOML file (see `pipelines/default.toml`) holding the Life Cycle Model (the five lifecycle
//! phases and the contact reasons, each with names, descriptions and example utterances in several languages),
//! the model choice, the classification thresholds and the default column mapping. This module owns the serde
//! types, their validation (every problem reported with its line number) and the pipeline's content hash.
//! The runner that streams data through the stages lives in `runner`, its per-stage clock in `timings`.

pub mod config;
pub mod runner;
pub mod timings;

pub use config::{
    CalendarSection, ClassifySection, ContactReason, Diagnostic, EventActivity, InputSection,
    Journey, LinkingSection, Localized, ModelSection, Phase, Pipeline, PriorityWeights, Scoring,
    SentimentSection, SentimentSource, SlaLimit, SlaRule, SlaSection, LIFECYCLE_PHASES,
};
