//! Fine-tuning on the real default model: the trainable layers compute what the inference path computes, and a
//! head trained with `--fine-tune` writes its tuned layers, is scored through them, and gives identical
//! predictions after reload; a tuned encoder that no longer matches its base model is refused; the contrastive
//! objective tunes the encoder too and is recorded with the head.

mod common;

use common::default_encoder;

use candle_core::Device;
use common::banking77::{
    eval_request, small_files, train_request, SmallFiles, LABELS, TEST_PER_LABEL,
};
use touchpoint::classify::evaluate::{evaluate, Classifier};
use touchpoint::classify::fine_tune::{FineTuneOptions, TuneObjective};
use touchpoint::classify::linear::TUNED_ENCODER_FILE;
use touchpoint::classify::train::{train, TrainRequest};
use touchpoint::classify::LinearHead;
use touchpoint::model::encoder::load_weights;
use touchpoint::model::tuning::TunableLayers;
use touchpoint::model::{store, Encoder, Precision};

const TEXTS: [&str; 5] = [
    "Mijn kaart is nog steeds niet aangekomen, wanneer kan ik hem verwachten?",
    "How do I top up my account with a bank transfer?",
    "Ik ben verhuisd en wil mijn adres wijzigen. Vanaf volgende maand woon ik in Utrecht, \
     kunt u de jaarafrekening dan naar het nieuwe adres sturen? Alvast bedankt voor de moeite.",
    "refund",
    "Warum wurde meine Karte abgelehnt?",
];

/// The differentiable layers give the embeddings of the fast inference path, from any first tunable layer.
#[test]
fn tunable_layers_reproduce_the_inference_path() {
    let encoder = default_encoder();
    let prefix = encoder.query_prefix().to_string();
    let expected = encoder.embed(&TEXTS, &prefix, 4096).unwrap();
    let (config, weights) = load_weights(encoder.location(), &Device::Cpu).unwrap();
    let tokens = encoder.tokenize(&TEXTS, &prefix).unwrap();
    for first in [0, 6, 11] {
        let tunable = TunableLayers::new(&weights, &config, first).unwrap();
        let bottom: Vec<_> = tokens
            .iter()
            .map(|t| {
                let ids = &t.windows[0];
                encoder
                    .forward_packed_through(ids, &[ids.len()], first)
                    .unwrap()
            })
            .collect();
        let got = tunable.forward(&bottom).unwrap().to_vec2::<f32>().unwrap();
        for (i, row) in got.iter().enumerate() {
            let reference = expected.row(i);
            let cosine: f32 = row.iter().zip(reference).map(|(a, b)| a * b).sum();
            let worst = row
                .iter()
                .zip(reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                cosine > 0.99999 && worst < 1e-3,
                "first layer {first}, text {i}: cosine {cosine}, largest difference {worst}"
            );
        }
    }
}

#[test]
fn fine_tuned_head_is_scored_through_its_layers_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let SmallFiles {
        test_rows,
        train_csv,
        test_csv,
        ..
    } = small_files(dir.path());
    let cache = dir.path().join("cache");
    let head_dir = dir.path().join("head");
    let options = FineTuneOptions {
        layers: 2,
        epochs: 2,
        batch_size: 16,
        ..FineTuneOptions::default()
    };
    let head = train(&TrainRequest {
        fine_tune: Some(options),
        ..train_request(train_csv, head_dir.clone(), cache.clone())
    })
    .unwrap();

    // What was written: the two top layers' tensors, recorded in head.json with the base model's hash.
    let tuned = head.meta().model.tuned.clone().expect("a tuned encoder");
    assert_eq!(tuned.file, TUNED_ENCODER_FILE);
    assert_eq!(tuned.fine_tuning.layers, vec![10, 11]);
    assert_eq!(tuned.fine_tuning.validation_accuracy.len(), 3);
    let file = head_dir.join(TUNED_ENCODER_FILE);
    assert_eq!(store::sha256_file(&file).unwrap(), tuned.sha256);
    let base = default_encoder();
    assert_eq!(tuned.base_sha256, base.location().sha256);
    assert_eq!(
        head.meta().model.sha256,
        store::tuned_identity(&tuned.base_sha256, &tuned.sha256)
    );
    let tensors = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    assert_eq!(tensors.len(), 2 * 16);
    assert!(tensors
        .keys()
        .all(|k| k.starts_with("encoder.layer.10.") || k.starts_with("encoder.layer.11.")));

    // Scored through the tuned layers: as good as a frozen head on this easy set.
    let report = evaluate(&eval_request(
        test_csv,
        Classifier::Head(head_dir.clone()),
        cache,
    ))
    .unwrap()
    .report;
    assert_eq!(report.n, LABELS * TEST_PER_LABEL);
    assert!(report.accuracy >= 0.8, "accuracy {:.3}", report.accuracy);

    // Reloaded twice from its files: the same encoder (not the base one) and the same predictions.
    let texts: Vec<&str> = test_rows.iter().map(|(t, _)| t.as_str()).collect();
    let reload = || {
        let head = LinearHead::load(&head_dir).unwrap();
        let location = head.encoder_location(&head_dir, false).unwrap();
        let encoder = Encoder::load(location, Precision::F32, None).unwrap();
        let embeddings = encoder.embed(&texts, encoder.query_prefix(), 1024).unwrap();
        (head, embeddings)
    };
    let (first_head, first) = reload();
    let (second_head, second) = reload();
    assert_eq!(first.vectors, second.vectors);
    assert_eq!(first_head.meta(), head.meta());
    assert_eq!(
        first_head.predict(&first).unwrap(),
        second_head.predict(&second).unwrap()
    );
    assert_eq!(
        head.predicted_labels(&first).unwrap(),
        second_head.predicted_labels(&second).unwrap()
    );
    let base_embeddings = base.embed(&texts, base.query_prefix(), 1024).unwrap();
    assert_ne!(
        base_embeddings.vectors, first.vectors,
        "the tuned layers were not applied"
    );

    // A tuned encoder is only valid over the base model it was tuned from.
    let meta_path = head_dir.join("head.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    std::fs::write(
        &meta_path,
        meta.replace(&tuned.base_sha256, &"0".repeat(64)),
    )
    .unwrap();
    let error = LinearHead::load(&head_dir)
        .unwrap()
        .encoder_location(&head_dir, false)
        .unwrap_err();
    assert!(error.to_string().contains("fine-tuned from"), "{error}");
}

#[test]
fn contrastive_fine_tuning_moves_the_encoder_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let SmallFiles {
        train_csv,
        test_csv,
        ..
    } = small_files(dir.path());
    let cache = dir.path().join("cache");
    let head_dir = dir.path().join("head");
    let head = train(&TrainRequest {
        fine_tune: Some(FineTuneOptions {
            layers: 2,
            epochs: 2,
            batch_size: 16,
            objective: TuneObjective::Contrastive,
            ..FineTuneOptions::default()
        }),
        ..train_request(train_csv, head_dir.clone(), cache.clone())
    })
    .unwrap();
    let tuned = head.meta().model.tuned.clone().expect("a tuned encoder");
    assert_eq!(tuned.fine_tuning.objective, TuneObjective::Contrastive);
    assert_eq!(tuned.fine_tuning.validation_accuracy.len(), 3);
    // The pairs pulled each label's rows together: a tuned epoch beat the untuned encoder on validation.
    assert!(tuned.fine_tuning.best_epoch >= 1, "{:?}", tuned.fine_tuning);
    let report = evaluate(&eval_request(test_csv, Classifier::Head(head_dir), cache))
        .unwrap()
        .report;
    assert_eq!(report.n, LABELS * TEST_PER_LABEL);
    assert!(report.accuracy >= 0.8, "accuracy {:.3}", report.accuracy);
}
