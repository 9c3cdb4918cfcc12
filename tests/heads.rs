//! Trained heads on the real default model and real Banking77 queries: with ten labelled examples for each
//! of ten intents, a trained head beats zero-shot classification from the intents' names on other queries
//! of the same intents; a head written to disk and read back gives identical predictions; cached
//! embeddings equal freshly computed ones.

mod common;

use common::banking77::{
    eval_request, label_name_pipeline, small_sets, train_request, write_csv, LABELS,
    TEST_PER_LABEL, TRAIN_PER_LABEL,
};

use touchpoint::classify::cache::embed_cached;
use touchpoint::classify::evaluate::{evaluate, Classifier};
use touchpoint::classify::train::train;
use touchpoint::classify::LinearHead;
use touchpoint::model::{store, Encoder, Precision};

#[test]
fn trained_head_beats_zero_shot_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (train_rows, test_rows) = small_sets();
    let train_csv = dir.path().join("train.csv");
    let test_csv = dir.path().join("test.csv");
    write_csv(&train_csv, &train_rows);
    write_csv(&test_csv, &test_rows);
    let mut labels: Vec<String> = train_rows.iter().map(|(_, l)| l.clone()).collect();
    labels.dedup();
    assert_eq!(labels.len(), LABELS);
    let pipeline = dir.path().join("names.toml");
    label_name_pipeline(&pipeline, &labels);
    let cache = dir.path().join("cache");
    let head_dir = dir.path().join("head");

    let request = train_request(train_csv.clone(), head_dir.clone(), cache.clone());
    let head = train(&request).unwrap();
    assert_eq!(head.labels(), labels.as_slice());
    assert_eq!(head.meta().unknown_below, 0.0);
    assert!(head.meta().temperature > 0.0);
    assert_eq!(head.meta().training.rows, LABELS * TRAIN_PER_LABEL);

    let eval = |classifier: Classifier| {
        evaluate(&eval_request(test_csv.clone(), classifier, cache.clone()))
            .unwrap()
            .report
    };
    let trained = eval(Classifier::Head(head_dir.clone()));
    let zero_shot = eval(Classifier::Pipeline(pipeline));
    eprintln!(
        "trained head: accuracy {:.3}, macro-F1 {:.3}; zero-shot from label names: accuracy {:.3}, macro-F1 {:.3}",
        trained.accuracy, trained.macro_f1, zero_shot.accuracy, zero_shot.macro_f1
    );
    assert_eq!(trained.n, LABELS * TEST_PER_LABEL);
    assert_eq!(trained.coverage, 1.0);
    assert!(
        trained.accuracy > zero_shot.accuracy + 0.05,
        "trained {:.3} vs zero-shot {:.3}",
        trained.accuracy,
        zero_shot.accuracy
    );
    assert!(
        trained.accuracy >= 0.8,
        "trained accuracy {:.3}",
        trained.accuracy
    );

    // Round trip: identical predictions and probabilities after reload.
    let location =
        store::resolve("multilingual-e5-small", false, &mut |m| eprintln!("{m}")).unwrap();
    let encoder = Encoder::load(location, Precision::F32, None).unwrap();
    let texts: Vec<&str> = test_rows.iter().map(|(t, _)| t.as_str()).collect();
    let embeddings = encoder.embed(&texts, encoder.query_prefix(), 1024).unwrap();
    let reloaded = LinearHead::load(&head_dir).unwrap();
    assert_eq!(reloaded.meta(), head.meta());
    assert_eq!(
        reloaded.predict(&embeddings).unwrap(),
        head.predict(&embeddings).unwrap()
    );
    assert_eq!(
        reloaded.predicted_labels(&embeddings).unwrap(),
        head.predicted_labels(&embeddings).unwrap()
    );

    // The cache (filled by train and eval above) serves the same vectors the encoder computes.
    let cached =
        embed_cached(&encoder, &texts, encoder.query_prefix(), 1024, Some(&cache)).unwrap();
    assert_eq!(cached.vectors, embeddings.vectors);
}

#[test]
fn a_head_folder_without_weights_is_a_model_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("head.json"), "{}").unwrap();
    let error = LinearHead::load(dir.path()).unwrap_err();
    assert_eq!(error.exit_code(), 4, "{error}");
}
