//! The Hugging Face sequence-classifier path for sentiment, on a tiny random model this test writes itself
//! (BertForSequenceClassification and XLMRobertaForSequenceClassification layouts, a word-level tokenizer),
//! checked against an independent plain-Rust computation of the same forward pass in f64; then `enrich`
//! with a pipeline that names the folder as its sentiment model.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use touchpoint::model::{store, Precision, SequenceClassifier};

const HIDDEN: usize = 16;
const HEADS: usize = 4;
const FF: usize = 24;
const LAYERS: usize = 2;
const POSITIONS: usize = 40;
const WORDS: [&str; 14] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "mijn", "factuur", "is", "te", "hoog", "dank", "u", "goed",
    "slecht", "geholpen",
];
const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// Deterministic weights without a random-number crate: a 64-bit LCG mapped to -scale..scale.
struct Lcg(u64);

impl Lcg {
    fn values(&mut self, n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
            })
            .collect()
    }
}

/// The model's parameters in f64, by Hugging Face name (without the architecture prefix).
type Params = HashMap<String, (Vec<usize>, Vec<f64>)>;

fn random_params(roberta: bool) -> Params {
    let mut rng = Lcg(if roberta { 7 } else { 42 });
    let mut p = Params::new();
    let mut add = |name: &str, shape: Vec<usize>, scale: f64, offset: f64| {
        let n = shape.iter().product();
        let values = rng
            .values(n, scale)
            .into_iter()
            .map(|v| v + offset)
            .collect();
        p.insert(name.to_string(), (shape, values));
    };
    let h = HIDDEN;
    add(
        "embeddings.word_embeddings.weight",
        vec![WORDS.len(), h],
        0.5,
        0.0,
    );
    add(
        "embeddings.position_embeddings.weight",
        vec![POSITIONS, h],
        0.5,
        0.0,
    );
    add(
        "embeddings.token_type_embeddings.weight",
        vec![1, h],
        0.5,
        0.0,
    );
    add("embeddings.LayerNorm.weight", vec![h], 0.1, 1.0);
    add("embeddings.LayerNorm.bias", vec![h], 0.1, 0.0);
    for l in 0..LAYERS {
        let pre = format!("encoder.layer.{l}");
        for (name, rows, cols) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", FF, h),
            ("output.dense", h, FF),
        ] {
            add(&format!("{pre}.{name}.weight"), vec![rows, cols], 0.4, 0.0);
            add(&format!("{pre}.{name}.bias"), vec![rows], 0.1, 0.0);
        }
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(&format!("{pre}.{norm}.weight"), vec![h], 0.1, 1.0);
            add(&format!("{pre}.{norm}.bias"), vec![h], 0.1, 0.0);
        }
    }
    let (hidden, out) = if roberta {
        ("classifier.dense", "classifier.out_proj")
    } else {
        ("pooler.dense", "classifier")
    };
    add(&format!("{hidden}.weight"), vec![h, h], 0.5, 0.0);
    add(&format!("{hidden}.bias"), vec![h], 0.1, 0.0);
    add(&format!("{out}.weight"), vec![LABELS.len(), h], 1.5, 0.0);
    add(&format!("{out}.bias"), vec![LABELS.len()], 0.2, 0.0);
    p
}

/// Writes config.json, model.safetensors (with the architecture's prefix) and tokenizer.json.
fn write_model(dir: &Path, params: &Params, roberta: bool) {
    let prefix = if roberta { "roberta." } else { "bert." };
    let tensors: HashMap<String, Tensor> = params
        .iter()
        .map(|(name, (shape, values))| {
            let stored = if name.starts_with("classifier") {
                name.clone()
            } else {
                format!("{prefix}{name}")
            };
            let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            (
                stored,
                Tensor::from_vec(values, shape.as_slice(), &Device::Cpu).unwrap(),
            )
        })
        .collect();
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    let config = serde_json::json!({
        "architectures": [if roberta { "XLMRobertaForSequenceClassification" } else { "BertForSequenceClassification" }],
        "model_type": if roberta { "xlm-roberta" } else { "bert" },
        "vocab_size": WORDS.len(),
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": FF,
        "max_position_embeddings": POSITIONS,
        "type_vocab_size": 1,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        // RoBERTa reserves the first position rows; pad id 0 puts real positions from 1.
        "pad_token_id": 0,
        "id2label": {"0": LABELS[0], "1": LABELS[1], "2": LABELS[2]},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), serde_json::json!(i)))
        .collect();
    let special = |id: usize| {
        serde_json::json!({"id": id, "content": WORDS[id], "single_word": false, "lstrip": false,
                           "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0), special(1), special(2), special(3)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
}

// ---- The independent forward pass: plain loops in f64 ------------------------------------------------------

fn linear(p: &Params, name: &str, x: &[f64]) -> Vec<f64> {
    let (shape, w) = &p[&format!("{name}.weight")];
    let b = &p[&format!("{name}.bias")].1;
    (0..shape[0])
        .map(|r| {
            b[r] + (0..shape[1])
                .map(|c| w[r * shape[1] + c] * x[c])
                .sum::<f64>()
        })
        .collect()
}

fn layer_norm(p: &Params, name: &str, x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let (g, b) = (
        &p[&format!("{name}.weight")].1,
        &p[&format!("{name}.bias")].1,
    );
    x.iter()
        .enumerate()
        .map(|(i, v)| (v - mean) / (var + 1e-12).sqrt() * g[i] + b[i])
        .collect()
}

/// erf by its Abramowitz-Stegun 7.1.26 series is too coarse; integrate exactly enough with Simpson's rule.
fn erf(x: f64) -> f64 {
    let n = 2000;
    let h = x / n as f64;
    let f = |t: f64| (-t * t).exp();
    let mut sum = f(0.0) + f(x);
    for i in 1..n {
        sum += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    sum * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
}

fn reference_probabilities(p: &Params, ids: &[usize], roberta: bool) -> Vec<f64> {
    let h = HIDDEN;
    let offset = if roberta { 1 } else { 0 };
    let word = &p["embeddings.word_embeddings.weight"].1;
    let pos = &p["embeddings.position_embeddings.weight"].1;
    let typ = &p["embeddings.token_type_embeddings.weight"].1;
    let mut x: Vec<Vec<f64>> = ids
        .iter()
        .enumerate()
        .map(|(t, &id)| {
            let e: Vec<f64> = (0..h)
                .map(|i| word[id * h + i] + pos[(t + offset) * h + i] + typ[i])
                .collect();
            layer_norm(p, "embeddings.LayerNorm", &e)
        })
        .collect();
    let dh = h / HEADS;
    for l in 0..LAYERS {
        let pre = format!("encoder.layer.{l}");
        let q: Vec<Vec<f64>> = x
            .iter()
            .map(|v| linear(p, &format!("{pre}.attention.self.query"), v))
            .collect();
        let k: Vec<Vec<f64>> = x
            .iter()
            .map(|v| linear(p, &format!("{pre}.attention.self.key"), v))
            .collect();
        let v: Vec<Vec<f64>> = x
            .iter()
            .map(|v| linear(p, &format!("{pre}.attention.self.value"), v))
            .collect();
        let mut next = Vec::with_capacity(x.len());
        for t in 0..x.len() {
            let mut context = vec![0.0; h];
            for head in 0..HEADS {
                let r = head * dh..(head + 1) * dh;
                let scores: Vec<f64> = (0..x.len())
                    .map(|s| r.clone().map(|i| q[t][i] * k[s][i]).sum::<f64>() / (dh as f64).sqrt())
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = exp.iter().sum();
                for (s, e) in exp.iter().enumerate() {
                    for i in r.clone() {
                        context[i] += e / total * v[s][i];
                    }
                }
            }
            let attended = linear(p, &format!("{pre}.attention.output.dense"), &context);
            let sum: Vec<f64> = attended.iter().zip(&x[t]).map(|(a, b)| a + b).collect();
            let y = layer_norm(p, &format!("{pre}.attention.output.LayerNorm"), &sum);
            let inner: Vec<f64> = linear(p, &format!("{pre}.intermediate.dense"), &y)
                .into_iter()
                .map(|u| 0.5 * u * (1.0 + erf(u / 2f64.sqrt())))
                .collect();
            let out = linear(p, &format!("{pre}.output.dense"), &inner);
            let sum: Vec<f64> = out.iter().zip(&y).map(|(a, b)| a + b).collect();
            next.push(layer_norm(p, &format!("{pre}.output.LayerNorm"), &sum));
        }
        x = next;
    }
    let (hidden, out) = if roberta {
        ("classifier.dense", "classifier.out_proj")
    } else {
        ("pooler.dense", "classifier")
    };
    let pooled: Vec<f64> = linear(p, hidden, &x[0])
        .into_iter()
        .map(f64::tanh)
        .collect();
    let logits = linear(p, out, &pooled);
    let max = logits.iter().cloned().fold(f64::MIN, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exp.iter().sum();
    exp.iter().map(|e| e / total).collect()
}

fn ids_of(text: &str) -> Vec<usize> {
    let mut ids = vec![2];
    ids.extend(text.split_whitespace().map(|w| {
        WORDS
            .iter()
            .position(|v| *v == w.to_lowercase())
            .unwrap_or(1)
    }));
    ids.push(3);
    ids
}

const TEXTS: [&str; 4] = [
    "Mijn factuur is te hoog",
    "dank u goed geholpen",
    "slecht",
    "mijn factuur is slecht en onbekend woord",
];

fn check(roberta: bool) {
    let dir = tempfile::tempdir().unwrap();
    let params = random_params(roberta);
    write_model(dir.path(), &params, roberta);
    let location = store::resolve(dir.path().to_str().unwrap(), true, &mut |_| {}).unwrap();
    let classifier = SequenceClassifier::load(location, Precision::F32).unwrap();
    assert_eq!(classifier.labels(), LABELS);
    let got = classifier.probabilities(&TEXTS, 256).unwrap();
    for (text, got) in TEXTS.iter().zip(&got) {
        let want = reference_probabilities(&params, &ids_of(text), roberta);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (*g as f64 - w).abs() < 1e-4,
                "{text}: {got:?} vs reference {want:?}"
            );
        }
    }
    // The three texts do not all get the same distribution: the weights are not degenerate.
    assert!((got[0][0] - got[1][0]).abs() > 1e-3);
}

#[test]
fn bert_sequence_classifier_matches_an_independent_forward_pass() {
    check(false);
}

#[test]
fn xlm_roberta_sequence_classifier_matches_an_independent_forward_pass() {
    check(true);
}

/// `enrich` with a pipeline whose `[sentiment] model` is the tiny classifier: the interaction's sentiment and
/// each customer turn's come from the classifier (its label names mapped through `[sentiment] labels`).
#[test]
fn enrich_uses_the_classifier_named_in_the_pipeline() {
    use touchpoint::output::read_parquet;
    use touchpoint::pipeline::runner::{enrich, EnrichOptions};
    use touchpoint::schema;

    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-classifier");
    std::fs::create_dir_all(&model).unwrap();
    let params = random_params(false);
    write_model(&model, &params, false);
    // The config names its classes LABEL_n, as many Hub models do; the pipeline maps them.
    let config = std::fs::read_to_string(model.join("config.json")).unwrap();
    let config = config
        .replace("\"negative\"", "\"LABEL_0\"")
        .replace("\"neutral\"", "\"LABEL_1\"")
        .replace("\"positive\"", "\"LABEL_2\"");
    std::fs::write(model.join("config.json"), config).unwrap();

    // The default pipeline with its `[sentiment]` section swapped for the classifier.
    let default = std::fs::read_to_string(common::root().join("pipelines/default.toml"))
        .unwrap()
        .replace("[sentiment]\nhead = \"builtin\"\nturns = true\n", "");
    assert!(!default.contains("[sentiment]"));
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "{default}\n[sentiment]\nmodel = \"{}\"\nlabels = {{ LABEL_0 = \"negative\", LABEL_1 = \"neutral\", LABEL_2 = \"positive\" }}\n",
            model.display()
        ),
    )
    .unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "id,text\n\
         a,Mijn factuur is te hoog\n\
         b,\"Agent: goed\nKlant: mijn factuur is slecht\nAgent: dank u\nKlant: dank u goed geholpen\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let options = EnrichOptions::new(vec![input.display().to_string()], pipeline, out.clone());
    enrich(&options).expect("enrich");
    let batches = read_parquet(&out.join("interactions.parquet")).unwrap();
    let sentiments = common::strings(&batches, schema::SENTIMENT);
    let probabilities = {
        let location = store::resolve(model.to_str().unwrap(), true, &mut |_| {}).unwrap();
        let classifier = SequenceClassifier::load(location, Precision::F32).unwrap();
        classifier
            .probabilities(&["Mijn factuur is te hoog"], 256)
            .unwrap()
    };
    let best = (0..3)
        .max_by(|&a, &b| probabilities[0][a].total_cmp(&probabilities[0][b]))
        .unwrap();
    assert_eq!(sentiments[0].as_deref(), Some(LABELS[best]));
    // Row b is a conversation: two customer turns, scored one by one, with start, end and trend.
    let starts = common::strings(&batches, schema::SENTIMENT_START);
    let trends = common::strings(&batches, schema::SENTIMENT_TREND);
    assert_eq!(starts[0], None);
    assert!(starts[1].is_some());
    assert!(trends[1].is_some());
    let turns = batches[0]
        .column_by_name(schema::CUSTOMER_TURN_SENTIMENT)
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::ListArray>()
        .unwrap()
        .clone();
    use arrow_array::Array;
    assert!(turns.is_null(0));
    assert_eq!(turns.value(1).len(), 2);
    let metadata = touchpoint::output::file_metadata(&out.join("interactions.parquet")).unwrap();
    assert!(metadata
        .iter()
        .any(|(k, v)| k == "touchpoint.sentiment" && v.contains("tiny-classifier")));
}
