//! Trained heads on the real default model and real Banking77 queries: with ten labelled examples for each
//! of ten intents, a trained head beats zero-shot classification from the intents' names on other queries
//! of the same intents; a head written to disk and read back gives identical predictions; cached
//! embeddings equal freshly computed ones.

mod common;

use common::default_encoder;

use common::banking77::{
    eval_request, label_name_pipeline, small_files, train_request, SmallFiles, LABELS,
    TEST_PER_LABEL, TRAIN_PER_LABEL,
};

use touchpoint::classify::cache::embed_cached;
use touchpoint::classify::evaluate::{evaluate, Classifier};
use touchpoint::classify::fine_tune::FineTuneOptions;
use touchpoint::classify::train::{train, TrainRequest};
use touchpoint::classify::LinearHead;

#[test]
fn trained_head_beats_zero_shot_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let SmallFiles {
        train_rows,
        test_rows,
        train_csv,
        test_csv,
    } = small_files(dir.path());
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
    let encoder = default_encoder();
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
    let cached = embed_cached(
        &encoder,
        &texts,
        encoder.query_prefix(),
        1024,
        &[],
        Some(&cache),
    )
    .unwrap();
    assert_eq!(cached.vectors, embeddings.vectors);

    // With a separate validation file, its rows choose the penalty and calibrate, and every training row trains.
    let validated = train(&TrainRequest {
        validation_data: Some(test_csv.clone()),
        ..train_request(train_csv, dir.path().join("validated"), cache)
    })
    .unwrap();
    let training = &validated.meta().training;
    assert_eq!(training.train_rows, LABELS * TRAIN_PER_LABEL);
    assert_eq!(training.validation_rows, LABELS * TEST_PER_LABEL);
    assert_eq!(training.validation_data.as_deref(), test_csv.to_str());
    assert!(training.validation_data_sha256.is_some());
    assert_eq!(validated.meta().validation.rows, LABELS * TEST_PER_LABEL);
}

#[test]
fn a_head_folder_without_weights_is_a_model_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("head.json"), "{}").unwrap();
    let error = LinearHead::load(dir.path()).unwrap_err();
    assert_eq!(error.exit_code(), 4, "{error}");
}

/// A head that reads several encoder layers (`train --layers`): the layers come from one pass and the final
/// one is the sentence embedding itself; the head records its layers, reads them again in `eval`, and the
/// cache keeps them apart from the sentence embeddings.
#[test]
fn a_head_reads_the_layers_it_was_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let SmallFiles {
        test_rows,
        train_csv,
        test_csv,
        ..
    } = small_files(dir.path());
    let cache = dir.path().join("cache");

    let encoder = default_encoder();
    let texts: Vec<&str> = test_rows.iter().map(|(t, _)| t.as_str()).collect();
    let prefix = encoder.query_prefix();
    let last = encoder.final_layer();
    assert_eq!(last, 12);
    let layered = encoder
        .embed_layers(&texts, prefix, 1024, &[8, last])
        .unwrap();
    let sentence = encoder.embed(&texts, prefix, 1024).unwrap();
    assert_eq!(layered.features(&[]).unwrap().vectors, sentence.vectors);
    assert_eq!(layered.features(&[last]).unwrap().vectors, sentence.vectors);
    let both = layered.features(&[8, last]).unwrap();
    assert_eq!(both.dim, 2 * encoder.dim());
    for row in 0..both.len() {
        let (eighth, twelfth) = both.row(row).split_at(encoder.dim());
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm(eighth) - 1.0).abs() < 1e-4 && (norm(twelfth) - 1.0).abs() < 1e-4);
        assert_eq!(twelfth, sentence.row(row));
        assert_ne!(eighth, twelfth);
    }
    assert!(
        layered.features(&[10]).is_err(),
        "layer 10 was not computed"
    );

    // Cached, on the second call as on the first, and never confused with the sentence embeddings.
    for _ in 0..2 {
        let cached =
            embed_cached(&encoder, &texts, prefix, 1024, &[8, last], Some(&cache)).unwrap();
        assert_eq!(cached.vectors, both.vectors);
        let cached = embed_cached(&encoder, &texts, prefix, 1024, &[], Some(&cache)).unwrap();
        assert_eq!(cached.vectors, sentence.vectors);
    }

    let head_dir = dir.path().join("head");
    let request = TrainRequest {
        layers: vec![8, last],
        ..train_request(train_csv.clone(), head_dir.clone(), cache.clone())
    };
    let head = train(&request).unwrap();
    assert_eq!(head.layers(), &[8, last]);
    assert_eq!(head.dim(), 2 * encoder.dim());
    let reloaded = LinearHead::load(&head_dir).unwrap();
    assert_eq!(reloaded.layers(), &[8, last]);
    let report = evaluate(&eval_request(
        test_csv,
        Classifier::Head(head_dir),
        cache.clone(),
    ))
    .unwrap()
    .report;
    assert_eq!(report.n, LABELS * TEST_PER_LABEL);
    assert!(report.accuracy >= 0.8, "accuracy {:.3}", report.accuracy);

    // The final layer alone is the sentence embedding, stored as no layers; bad lists are usage errors.
    let plain = train(&TrainRequest {
        layers: vec![last],
        ..train_request(train_csv.clone(), dir.path().join("plain"), cache.clone())
    })
    .unwrap();
    assert!(plain.layers().is_empty());
    for layers in [vec![last, 8], vec![0, 8], vec![8, last + 1]] {
        let error = train(&TrainRequest {
            layers: layers.clone(),
            ..train_request(train_csv.clone(), dir.path().join("bad"), cache.clone())
        })
        .unwrap_err();
        assert_eq!(error.exit_code(), 2, "{layers:?}: {error}");
    }
    let error = train(&TrainRequest {
        layers: vec![8, last],
        fine_tune: Some(FineTuneOptions::default()),
        ..train_request(train_csv, dir.path().join("tuned"), cache)
    })
    .unwrap_err();
    assert_eq!(error.exit_code(), 2, "{error}");
}

/// A head with language-specific weights (`train --language-weights`): one shared block and one block per
/// named language, read again from its files with identical predictions; `eval` feeds it the same expanded
/// rows as training did. Naming a language centring does not know, naming one twice, or turning centring off
/// are usage errors.
#[test]
fn a_head_with_language_weights_widens_its_input_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let SmallFiles {
        test_rows,
        train_csv,
        test_csv,
        ..
    } = small_files(dir.path());
    let cache = dir.path().join("cache");
    let head_dir = dir.path().join("head");
    let encoder = default_encoder();

    let head = train(&TrainRequest {
        language_weights: vec!["nl".to_string(), "en".to_string()],
        ..train_request(train_csv.clone(), head_dir.clone(), cache.clone())
    })
    .unwrap();
    assert_eq!(head.meta().language_weights, ["nl", "en"]);
    assert_eq!(head.dim(), 3 * encoder.dim());

    let texts: Vec<&str> = test_rows.iter().map(|(t, _)| t.as_str()).collect();
    let embeddings = encoder.embed(&texts, encoder.query_prefix(), 1024).unwrap();
    let input = head.input_for_texts(&embeddings, &texts).unwrap();
    assert_eq!(input.dim, head.dim());
    let reloaded = LinearHead::load(&head_dir).unwrap();
    assert_eq!(reloaded.meta(), head.meta());
    let reloaded_input = reloaded.input_for_texts(&embeddings, &texts).unwrap();
    assert_eq!(reloaded_input.vectors, input.vectors);
    assert_eq!(
        reloaded.predict(&reloaded_input).unwrap(),
        head.predict(&input).unwrap()
    );
    // The raw embeddings are too narrow for the head: a model error, never a silent misreading.
    assert_eq!(head.predict(&embeddings).unwrap_err().exit_code(), 4);

    let report = evaluate(&eval_request(
        test_csv,
        Classifier::Head(head_dir),
        cache.clone(),
    ))
    .unwrap()
    .report;
    assert_eq!(report.n, LABELS * TEST_PER_LABEL);
    assert!(report.accuracy >= 0.8, "accuracy {:.3}", report.accuracy);

    for (weights, centring) in [
        (vec!["xx"], true),
        (vec!["nl", "nl"], true),
        (vec!["nl"], false),
    ] {
        let error = train(&TrainRequest {
            language_weights: weights.iter().map(|l| l.to_string()).collect(),
            language_centring: centring,
            ..train_request(train_csv.clone(), dir.path().join("bad"), cache.clone())
        })
        .unwrap_err();
        assert_eq!(error.exit_code(), 2, "{weights:?}: {error}");
    }
}
