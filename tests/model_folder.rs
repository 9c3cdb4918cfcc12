//! Loading encoders from a Hugging Face style folder (config.json + model.safetensors + tokenizer.json):
//! - an XLM-RoBERTa checkpoint (written by the test from the default model's weights, in the layout the Hub
//!   uses: `roberta.` prefix, position table with the two reserved padding rows) gives the same embeddings as the
//!   E5S1 file it came from, which checks names, prefixes and the RoBERTa position offset;
//! - the packaged all-MiniLM-L6-v2 (a real BERT safetensors checkpoint) reproduces values computed independently
//!   for this test with a plain numpy implementation of the BERT forward pass (unpadded input, mean pooling).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use touchpoint::model::{e5s1, store, Encoder, ModelFormat, Precision};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

const TEXTS: [&str; 4] = [
    "Ik wil mijn meterstand doorgeven",
    "I would like to change my bank account for the direct debit",
    "Wann kommt meine Jahresabrechnung?",
    "Je souhaite résilier mon contrat d'électricité.",
];

#[test]
fn xlm_roberta_folder_matches_the_e5s1_weights() {
    let packaged =
        store::resolve("multilingual-e5-small", false, &mut |m| eprintln!("{m}")).unwrap();
    let (config, weights) = e5s1::load(&packaged.weights, &Device::Cpu).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (name, tensor) in weights.to_dense().unwrap() {
        let tensor = if name == "embeddings.position_embeddings.weight" {
            // The Hub's XLM-R table reserves rows 0 and 1 (padding_idx + 1 is the first real position).
            let reserved = Tensor::zeros(
                (2, config.hidden_size),
                candle_core::DType::F32,
                &Device::Cpu,
            )
            .unwrap();
            Tensor::cat(&[&reserved, &tensor], 0).unwrap()
        } else {
            tensor
        };
        tensors.insert(format!("roberta.{name}"), tensor);
    }
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    let config_json = serde_json::json!({
        "model_type": "xlm-roberta",
        "architectures": ["XLMRobertaModel"],
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": "gelu",
        "max_position_embeddings": config.max_position_embeddings + 2,
        "type_vocab_size": config.type_vocab_size,
        "layer_norm_eps": config.layer_norm_eps,
        "pad_token_id": 1,
        "position_embedding_type": "absolute"
    });
    std::fs::write(dir.path().join("config.json"), config_json.to_string()).unwrap();
    std::fs::copy(&packaged.tokenizer, dir.path().join("tokenizer.json")).unwrap();

    // A folder named like an e5 model gets the e5 prefixes.
    let folder = dir.path().to_path_buf();
    let e5_folder = folder.with_file_name(format!(
        "{}-e5",
        folder.file_name().unwrap().to_string_lossy()
    ));
    std::fs::rename(&folder, &e5_folder).unwrap();
    let location = store::resolve(e5_folder.to_str().unwrap(), true, &mut |_| {}).unwrap();
    assert_eq!(location.format, ModelFormat::Hf);
    assert_eq!(location.query_prefix, "query: ");
    let from_folder = Encoder::load(location, Precision::F32, None).unwrap();
    let from_e5s1 = Encoder::load(packaged, Precision::F32, None).unwrap();
    assert_eq!(from_folder.max_tokens(), 512);

    let a = from_folder.embed(&TEXTS, "query: ", 1024).unwrap();
    let b = from_e5s1.embed(&TEXTS, "query: ", 1024).unwrap();
    for (i, text) in TEXTS.iter().enumerate() {
        let c = cosine(a.row(i), b.row(i));
        assert!(c > 0.99999, "'{text}': cosine {c}");
    }
    std::fs::remove_dir_all(&e5_folder).unwrap();
}

#[test]
fn packaged_minilm_safetensors_model_embeds_meaningfully() {
    let location = store::resolve("all-MiniLM-L6-v2", false, &mut |m| eprintln!("{m}")).unwrap();
    assert_eq!(location.format, ModelFormat::Hf);
    assert_eq!(location.query_prefix, "");
    let encoder = Encoder::load(location, Precision::F32, None).unwrap();
    assert_eq!(encoder.dim(), 384);
    let texts = [
        "How do I pay my electricity bill?",
        "What is the way to settle my energy invoice?",
        "The cat is sleeping on the sofa.",
    ];
    let e = encoder.embed(&texts, "", 1024).unwrap();
    for i in 0..texts.len() {
        let norm: f32 = e.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    // Reference values from the independent numpy forward pass.
    let expected_head = [
        0.013491f32,
        0.071758,
        0.015576,
        0.031868,
        -0.011053,
        -0.048373,
    ];
    for (got, want) in e.row(0).iter().zip(expected_head) {
        assert!((got - want).abs() < 2e-5, "{:?}", &e.row(0)[..6]);
    }
    let paraphrase = cosine(e.row(0), e.row(1));
    let unrelated = cosine(e.row(0), e.row(2));
    assert!(
        (paraphrase - 0.479247).abs() < 1e-4 && (unrelated - 0.095900).abs() < 1e-4,
        "{paraphrase} {unrelated}"
    );
    assert!(paraphrase > unrelated + 0.3);
}
