//! Text clean-up before embedding, and language detection.
