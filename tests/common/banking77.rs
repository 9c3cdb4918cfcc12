//! Small labelled sets from Banking77 for the tests that train heads: ten intents, a few examples each.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use touchpoint::classify::evaluate::{Classifier, EvalRequest};
use touchpoint::classify::labelled::LabelledColumns;
use touchpoint::classify::train::{ThresholdTarget, TrainOptions, TrainRequest};
use touchpoint::model::Precision;

pub const LABELS: usize = 10;
pub const TRAIN_PER_LABEL: usize = 10;
pub const TEST_PER_LABEL: usize = 20;

/// (text, label)
pub type Row = (String, String);

pub fn banking77() -> Vec<Row> {
    let path = super::root().join("../shared/data/intent/banking77/train.csv");
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
pub fn small_sets() -> (Vec<Row>, Vec<Row>) {
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

/// `small_sets` with the two parts written to `train.csv` and `test.csv` in `dir`.
pub struct SmallFiles {
    pub train_rows: Vec<Row>,
    pub test_rows: Vec<Row>,
    pub train_csv: PathBuf,
    pub test_csv: PathBuf,
}

pub fn small_files(dir: &Path) -> SmallFiles {
    let (train_rows, test_rows) = small_sets();
    let train_csv = dir.join("train.csv");
    let test_csv = dir.join("test.csv");
    write_csv(&train_csv, &train_rows);
    write_csv(&test_csv, &test_rows);
    SmallFiles {
        train_rows,
        test_rows,
        train_csv,
        test_csv,
    }
}

pub fn write_csv(path: &Path, rows: &[Row]) {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(["text", "label"]).unwrap();
    for (text, label) in rows {
        writer.write_record([text, label]).unwrap();
    }
    writer.flush().unwrap();
}

/// A pipeline whose reasons are the intents, named after their labels ("card_arrival" -> "card arrival").
pub fn label_name_pipeline(path: &Path, labels: &[String]) {
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

/// A request to train on `data` into `out` with the default model, caching embeddings in `cache`, answering every
/// row (unknown_below = -1, as zero-shot does, to compare like with like); no fine-tuning.
pub fn train_request(data: PathBuf, out: PathBuf, cache: PathBuf) -> TrainRequest {
    TrainRequest {
        data,
        columns: LabelledColumns::default(),
        validation_data: None,
        out,
        pipeline: None,
        model: None,
        offline: false,
        precision: Some(Precision::F32),
        token_budget: 1024,
        cache_dir: Some(cache),
        options: TrainOptions {
            target: ThresholdTarget::AnsweredPrecision(0.0),
            ..TrainOptions::default()
        },
        fine_tune: None,
        language_centring: true,
        layers: Vec::new(),
        language_weights: Vec::new(),
    }
}

/// A request to score `classifier` on `data` with the default model, caching embeddings in `cache`.
pub fn eval_request(data: PathBuf, classifier: Classifier, cache: PathBuf) -> EvalRequest {
    EvalRequest {
        data,
        columns: LabelledColumns::default(),
        classifier,
        model: None,
        offline: false,
        precision: Some(Precision::F32),
        token_budget: 1024,
        cache_dir: Some(cache),
        oos_label: None,
        merge: Vec::new(),
        only: Vec::new(),
    }
}
