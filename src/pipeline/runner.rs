//! The `enrich` runner.
