//! Zero-shot contact reasons on the real default model: a handful of labelled Dutch and English customer
//! sentences (`testdata/labelled_sentences.csv`, written independently of the pipeline's examples) land on
//! their reason, and text about nothing the company does is `unknown`.

use touchpoint::classify::zero_shot::predicted_labels;
use touchpoint::classify::ZeroShot;
use touchpoint::model::{store, Encoder, Precision};
use touchpoint::pipeline::Pipeline;

mod common;
use common::root;

struct Labelled {
    text: String,
    label: String,
    language: String,
}

fn labelled() -> Vec<Labelled> {
    let path = root().join("testdata/labelled_sentences.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Labelled {
                text: r[0].to_string(),
                label: r[1].to_string(),
                language: r[2].to_string(),
            }
        })
        .collect()
}

#[test]
fn labelled_sentences_land_on_their_contact_reason() {
    let pipeline = Pipeline::load(&root().join("pipelines/default.toml")).unwrap();
    let location =
        store::resolve(&pipeline.model.encoder, false, &mut |m| eprintln!("{m}")).unwrap();
    let encoder = Encoder::load(location, Precision::F32, None).unwrap();
    let head = ZeroShot::build(&pipeline, &encoder, None, 4096).unwrap();

    let sentences = labelled();
    assert!(sentences.len() >= 40);
    for s in &sentences {
        assert!(
            pipeline.reason(&s.label).is_some(),
            "label {} is not a pipeline reason",
            s.label
        );
    }
    let texts: Vec<&str> = sentences.iter().map(|s| s.text.as_str()).collect();
    let embeddings = encoder
        .embed(&texts, &pipeline.model.query_prefix, 4096)
        .unwrap();
    let predicted = predicted_labels(&head.classify(&embeddings));
    for language in ["nl", "en"] {
        let rows: Vec<usize> = (0..sentences.len())
            .filter(|&i| sentences[i].language == language)
            .collect();
        let correct = rows
            .iter()
            .filter(|&&i| predicted[i] == sentences[i].label)
            .count();
        let accuracy = correct as f64 / rows.len() as f64;
        for &i in &rows {
            if predicted[i] != sentences[i].label {
                eprintln!(
                    "  {language}: '{}' -> {} (expected {})",
                    sentences[i].text, predicted[i], sentences[i].label
                );
            }
        }
        eprintln!(
            "{language}: {correct}/{} correct ({accuracy:.2})",
            rows.len()
        );
        assert!(
            accuracy >= 0.7,
            "{language}: zero-shot accuracy {accuracy:.2} below 0.7"
        );
    }

    // Text about nothing the company does is not forced onto a reason. (Zero-shot similarity separates only
    // clearly off-topic text this way; borderline chit-chat needs a trained head.)
    let off_topic = [
        "Who won the football match last night?",
        "What time is it in Tokyo?",
        "Quel temps fera-t-il demain à Paris?",
    ];
    let embeddings = encoder
        .embed(&off_topic, &pipeline.model.query_prefix, 4096)
        .unwrap();
    let predicted = predicted_labels(&head.classify(&embeddings));
    assert!(predicted.iter().all(|p| p == "unknown"), "{predicted:?}");
}

#[test]
fn per_language_thresholds_apply_by_detected_language() {
    let path = root().join("pipelines/default.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "[classify]\n",
        "[classify]\nunknown_below_by_language = { en = 0.99 }\n",
        1,
    );
    let pipeline = Pipeline::parse(&text, &path).unwrap();
    assert_eq!(
        pipeline.classify.unknown_below_by_language.get("en"),
        Some(&0.99)
    );
    let location =
        store::resolve(&pipeline.model.encoder, false, &mut |m| eprintln!("{m}")).unwrap();
    let encoder = Encoder::load(location, Precision::F32, None).unwrap();
    let head = ZeroShot::build(&pipeline, &encoder, None, 1024).unwrap();
    let texts = [
        "Ik wil mijn meterstanden doorgeven",
        "I want to submit my meter readings",
    ];
    let embeddings = encoder
        .embed(&texts, &pipeline.model.query_prefix, 1024)
        .unwrap();
    let languages = arrow_array::StringArray::from(vec!["nl", "en"]);
    let decisions = head.decide(&embeddings, Some(&languages));
    assert_eq!(
        decisions[0].reason.map(|i| head.reasons()[i].as_str()),
        Some("meter_reading")
    );
    assert_eq!(
        decisions[1].reason, None,
        "the English threshold of 0.99 makes it unknown"
    );
    // Without languages the default threshold applies to both.
    let decisions = head.decide(&embeddings, None);
    assert!(decisions.iter().all(|d| d.reason.is_some()));

    let bad = text.replacen("en = 0.99", "english = 1.5", 1);
    let message = Pipeline::parse(&bad, &path).unwrap_err().to_string();
    assert!(
        message.contains("between -1 and 1") && message.contains("ISO 639-1"),
        "{message}"
    );
}
