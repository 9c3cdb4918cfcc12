//! Encoders: loading, tokenising and embedding. Nothing here knows about contact reasons.
