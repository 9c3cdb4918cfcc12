//! Heads on sentence embeddings: contact reasons and their lifecycle phase.
