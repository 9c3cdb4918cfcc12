//! Trained heads on the real default model and real Banking77 queries: with ten labelled examples for each
//! of ten intents, a trained head beats zero-shot classification from the intents' names on other queries
//! of the same intents; a head written to disk and read back gives identical predictions; cached
//! embeddings equal freshly computed ones.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use touchpoint::classify::cache::embed_cached;
use touchpoint::classify::evaluate::{evaluate, Classifier, EvalRequest};
use touchpoint::classify::labelled::LabelledColumns;
use touchpoint::classify::train::{train, ThresholdTarget, TrainOptions, TrainRequest};
use touchpoint::classify::LinearHead;
use touchpoint::model::{store, Encoder, Precision};

const LABELS: usize = 10;
const TRAIN_PER_LABEL: usize = 10;
const TEST_PER_LABEL: usize = 20;

/// (text, label)
type Row = (String, String);

fn banking77() -> Vec<Row> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/intent/banking77/train.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

/// Ten intents spread over the label list (every seventh, so neighbours such as the several card intents
/// are not all in), each with its first rows for training and the next ones for testing.
fn small_sets() -> (Vec<Row>, Vec<Row>) {
    let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (text, label) in banking77() {
        by_label.entry(label).or_default().push(text);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    // Pipeline ids must be snake_case; two Banking77 labels are not ("Refund_not_showing_up", "...?").
    let usable = by_label.iter().filter(|(label, _)| {
        label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    for (label, texts) in usable.step_by(7).take(LABELS) {
        assert!(texts.len() >= TRAIN_PER_LABEL + TEST_PER_LABEL, "{label}");
        for (i, text) in texts
            .iter()
            .take(TRAIN_PER_LABEL + TEST_PER_LABEL)
            .enumerate()
        {
            let row = (text.clone(), label.clone());
            if i < TRAIN_PER_LABEL {
                train.push(row);
            } else {
                test.push(row);
            }
        }
    }
    (train, test)
}

fn write_csv(path: &Path, rows: &[Row]) {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(["text", "label"]).unwrap();
    for (text, label) in rows {
        writer.write_record([text, label]).unwrap();
    }
    writer.flush().unwrap();
}

/// A pipeline whose reasons are the intents, named after their labels ("card_arrival" -> "card arrival").
fn label_name_pipeline(path: &Path, labels: &[String]) {
    let mut toml = String::from(
        "[pipeline]\nname = \"banking77-names\"\nlanguages = [\"en\"]\n\n[model]\nencoder = \"multilingual-e5-small\"\n\n\
         [classify]\nunknown_below = -1.0\n",
    );
    for phase in touchpoint::pipeline::LIFECYCLE_PHASES {
        write!(
            toml,
            "\n[[phases]]\nid = \"{phase}\"\nname = {{ en = \"{phase}\" }}\n"
        )
        .unwrap();
    }
    for label in labels {
        let name = label.replace('_', " ");
        write!(
            toml,
            "\n[[contact_reasons]]\nid = \"{label}\"\nphase = \"being_customer\"\nname = {{ en = \"{name}\" }}\n\
             description = {{ en = \"{name}\" }}\n"
        )
        .unwrap();
    }
    std::fs::write(path, toml).unwrap();
}

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

    let request = TrainRequest {
        data: train_csv.clone(),
        columns: LabelledColumns::default(),
        out: head_dir.clone(),
        pipeline: None,
        model: None,
        offline: false,
        precision: Precision::F32,
        token_budget: 1024,
        cache_dir: Some(cache.clone()),
        options: TrainOptions {
            // Answer every row, as the zero-shot pipeline does (unknown_below = -1), to compare like with like.
            target: ThresholdTarget::AnsweredPrecision(0.0),
            ..TrainOptions::default()
        },
    };
    let head = train(&request).unwrap();
    assert_eq!(head.labels(), labels.as_slice());
    assert_eq!(head.meta().unknown_below, 0.0);
    assert!(head.meta().temperature > 0.0);
    assert_eq!(head.meta().training.rows, LABELS * TRAIN_PER_LABEL);

    let eval = |classifier: Classifier| {
        evaluate(&EvalRequest {
            data: test_csv.clone(),
            columns: LabelledColumns::default(),
            classifier,
            model: None,
            offline: false,
            precision: Precision::F32,
            token_budget: 1024,
            cache_dir: Some(cache.clone()),
            oos_label: None,
            merge: Vec::new(),
            only: Vec::new(),
        })
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
