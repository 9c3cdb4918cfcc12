//! Encoders: where a model comes from (`store`), how its weights are read (`e5s1`, safetensors), the network
//! itself (`bert`, with the CPU `kernels` around its matrix products), turning texts into sentence embeddings
//! (`encoder`: tokenising, long-text windows, token-budget batching, pooling) and Hugging Face sequence
//! classifiers on the same network (`classifier`), and the network's top layers as trainable variables for
//! fine-tuning (`tuning`). Nothing here knows about contact reasons. The device is
//! chosen in one place: `Encoder::load`.

pub mod bert;
pub mod classifier;
pub mod e5s1;
pub mod encoder;
pub mod int8;
pub mod kernels;
pub mod store;
pub mod tuning;

pub use bert::Precision;
pub use classifier::SequenceClassifier;
pub use encoder::{Embeddings, Encoder, EncoderWork, LayerEmbeddings};
pub use store::{ModelFormat, ModelLocation};
