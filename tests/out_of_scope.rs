//! Out-of-scope detection on the real default model and real CLINC150 queries (a slice: 15 intents and the
//! out-of-scope rows): training the out-of-scope rows as a class catches more of them than the `unknown`
//! threshold alone, and in `enrich`'s classifier a row the head finds out of scope is `unknown`, decided by the
//! head.

mod common;

use common::default_encoder;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow_array::{Array, StringArray};
use common::banking77::{eval_request, label_name_pipeline, train_request, write_csv, Row};
use common::root;
use touchpoint::classify::evaluate::{evaluate, Classifier};
use touchpoint::classify::train::{train, ThresholdTarget};
use touchpoint::classify::{LinearHead, ReasonClassifier, ZeroShot};
use touchpoint::pipeline::Pipeline;

const INTENTS: usize = 15;
const TRAIN_PER_INTENT: usize = 30;
const OOS: &str = "oos";

/// Rows of `file` whose label is one of the first `INTENTS` intents (at most `per_intent` each) or oos (all).
fn slice(file: &str, per_intent: usize) -> Vec<Row> {
    let path = root().join("../shared/data/intent/clinc150").join(file);
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let records: Vec<Row> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    let intents: BTreeSet<&str> = records
        .iter()
        .map(|(_, l)| l.as_str())
        .filter(|l| *l != OOS)
        .collect();
    let kept: BTreeSet<&str> = intents.into_iter().take(INTENTS).collect();
    let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
    records
        .iter()
        .filter(|(_, label)| {
            let label = label.as_str();
            if label == OOS {
                return true;
            }
            if !kept.contains(label) {
                return false;
            }
            let n = taken.entry(label).or_default();
            *n += 1;
            *n <= per_intent
        })
        .cloned()
        .collect()
}

#[test]
fn an_out_of_scope_class_catches_more_and_enrich_says_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = dir.path().join("train.csv");
    let val_csv = dir.path().join("val.csv");
    let train_rows = slice("train.csv", TRAIN_PER_INTENT);
    let val_rows = slice("val.csv", usize::MAX);
    write_csv(&train_csv, &train_rows);
    write_csv(&val_csv, &val_rows);
    let cache = dir.path().join("cache");

    let run = |name: &str, oos_class: bool| {
        let out = dir.path().join(name);
        let mut request = train_request(train_csv.clone(), out.clone(), cache.clone());
        request.options.oos_label = Some(OOS.to_string());
        request.options.oos_class = oos_class;
        request.options.target = ThresholdTarget::OosRecall(0.7);
        let head = train(&request).unwrap();
        let mut eval = eval_request(val_csv.clone(), Classifier::Head(out), cache.clone());
        eval.oos_label = Some(OOS.to_string());
        let report = evaluate(&eval).unwrap().report;
        let oos = report.oos.clone().expect("out-of-scope figures");
        (head, oos.in_scope_accuracy, oos.oos_recall)
    };
    let (with_class, in_scope, recall) = run("with-class", true);
    let (_, in_scope_threshold_only, recall_threshold_only) = run("threshold-only", false);
    eprintln!(
        "with an oos class: in scope {in_scope:.3}, oos recall {recall:.3}; threshold only: in scope \
         {in_scope_threshold_only:.3}, oos recall {recall_threshold_only:.3}"
    );
    assert_eq!(with_class.labels().len(), INTENTS + 1);
    assert_eq!(with_class.meta().out_of_scope.as_deref(), Some(OOS));
    assert!(in_scope >= 0.9, "in scope {in_scope:.3}");
    assert!(
        in_scope + recall > in_scope_threshold_only + recall_threshold_only,
        "with the class {in_scope:.3} + {recall:.3}, threshold only {in_scope_threshold_only:.3} + \
         {recall_threshold_only:.3}"
    );

    // In front of zero-shot: rows the head finds out of scope stay unknown and are the head's decision.
    let head = LinearHead::load(&dir.path().join("with-class")).unwrap();
    let intents: Vec<String> = head
        .labels()
        .iter()
        .filter(|l| *l != OOS)
        .cloned()
        .collect();
    let pipeline_path = dir.path().join("names.toml");
    label_name_pipeline(&pipeline_path, &intents);
    let pipeline = Pipeline::load(&pipeline_path).unwrap();
    let encoder = default_encoder();
    let zero_shot = ZeroShot::build(&pipeline, &encoder, Some(&cache), 1024).unwrap();
    let classifier = ReasonClassifier::with_head(zero_shot, head, Path::new("with-class")).unwrap();
    let oos_texts: Vec<&str> = val_rows
        .iter()
        .filter(|(_, l)| l == OOS)
        .map(|(t, _)| t.as_str())
        .collect();
    let embeddings = encoder
        .embed_layers(
            &oos_texts,
            encoder.query_prefix(),
            1024,
            &[encoder.final_layer()],
        )
        .unwrap();
    let columns = classifier.classify(&embeddings, None, None).unwrap();
    let reason = columns
        .reason
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let source = columns
        .source
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let unknown_by_head = (0..reason.len())
        .filter(|&i| {
            (reason.is_null(i) || reason.value(i) == "unknown") && source.value(i) == "head"
        })
        .count();
    assert!(
        unknown_by_head * 2 >= oos_texts.len(),
        "{unknown_by_head} of {} out-of-scope rows unknown by the head",
        oos_texts.len()
    );
    assert!((0..reason.len()).all(|i| reason.is_null(i) || reason.value(i) != OOS));
}
